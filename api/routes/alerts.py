"""Alerts raised by order deadlines and carrier problems."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import permissions, presenters
from api.deps import CurrentUser, DbDep
from api.errors import PROBLEM_RESPONSES, problem_responses
from api.permissions import Grant
from api.responses import Alerts
from db import queries

router = APIRouter(prefix="/api/alerts", tags=["alerts"], responses=PROBLEM_RESPONSES)


@router.get("", operation_id="listAlerts", response_model=Alerts,
            responses=problem_responses(403))
async def list_alerts(
    user: CurrentUser,
    db: DbDep,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Newest first. Operators and support see every alert; a seller sees those on its own
    orders."""
    permissions.require_person(user, Grant.ALERTS_ALL)
    everything = permissions.allows(user, Grant.ALERTS_ALL)
    async with db.reader.connect() as conn:
        rows = await queries.alerts_page(
            conn, seller_id=None if everything else user.user_id, kind=kind, limit=limit,
            offset=(page - 1) * limit)
    return {"alerts": [presenters.alert(r) for r in rows],
            "pagination": {"page": page, "limit": limit}}
