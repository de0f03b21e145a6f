"""Liveness of the API and reachability of what it depends on."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import DbDep, TemporalDep
from api.errors import problem_responses
from api.responses import Health

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="getHealth", response_model=Health, responses={
    # Not a problem: the same report, saying which dependency is down.
    503: {"model": Health, "description": "Degraded: the database or Temporal is unavailable"},
    **problem_responses(500)})
async def health(db: DbDep, client: TemporalDep) -> JSONResponse:
    """200 when the database and Temporal both answer within two seconds, else 503."""
    database, temporal = await asyncio.gather(_database_ok(db), _temporal_ok(client))
    ok = database and temporal
    body = {"status": "ok" if ok else "degraded",
            "database": "ok" if database else "unavailable",
            "temporal": "ok" if temporal else "unavailable"}
    return JSONResponse(body, status_code=200 if ok else 503,
                        headers=None if ok else {"Retry-After": "5"})


async def _database_ok(db) -> bool:
    try:
        async with asyncio.timeout(2), db.reader.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means unavailable
        return False


async def _temporal_ok(client) -> bool:
    try:
        async with asyncio.timeout(2):
            return await client.service_client.check_health()
    except Exception:  # noqa: BLE001
        return False
