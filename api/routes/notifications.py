"""The caller's own in-app notifications."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import presenters
from api.deps import CurrentUser, DbDep
from db import queries

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


@router.get("")
async def list_notifications(
    user: CurrentUser,
    db: DbDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Newest first, `limit` per page (at most 100)."""
    async with db.engine.connect() as conn:
        rows = await queries.notifications_page(conn, user.user_id, limit=limit,
                                                offset=(page - 1) * limit)
    return {"notifications": [presenters.notification(r) for r in rows],
            "pagination": {"page": page, "limit": limit}}
