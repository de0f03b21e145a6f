"""The seller statistics page (/app/stats) and the operator console (/app/console), each
read through the API as the signed-in person."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import permissions
from api.auth import Principal
from api.permissions import Grant
from web import session
from web.api_client import ApiClient, ApiProblem
from web.charts import seller_charts
from web.render import may_use_console, page, to_sign_in

router = APIRouter(include_in_schema=False)

PERIODS = (7, 30, 90)  # days a statistics page may cover
DEFAULT_PERIOD = 30
CONSOLE_ALERTS = 20
CONSOLE_DISPUTES = 50
OLDEST_FIRST = {"sortBy": "statusUpdatedAt", "sortOrder": "asc"}


def period_window(days: int, now: datetime) -> tuple[datetime, datetime]:
    """Whole UTC days, today included: each chart's days are full days, and the same
    [from, to) asked of the API again gives the same numbers."""
    end = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(),
                           tzinfo=UTC)
    return end - timedelta(days=days), end


@router.get("/stats")
async def stats_page(request: Request, days: str | None = None,
                     sellerId: str | None = None) -> Response:  # noqa: N803 - the API's name
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    period = int(days) if days in {str(p) for p in PERIODS} else DEFAULT_PERIOD
    start, end = period_window(period, datetime.now(UTC))
    everyone = permissions.allows(user, Grant.STATS_ANY)
    seller = (sellerId or None) if everyone else None
    context: dict[str, Any] = {"periods": PERIODS, "period": period, "seller_id": seller,
                               "everyone": everyone}
    try:
        api = ApiClient(request)
        answer = await api.get("/api/orders/stats", sellerId=seller,
                               **{"from": _iso(start), "to": _iso(end)})
    except ApiProblem as problem:
        return _problem_page(request, user, problem)
    found = answer["stats"]
    context.update(stats=found, charts=seller_charts(found),
                   whose=_whose(user, found["scope"]))
    return page(request, "stats.html", context, user=user)


def _whose(user: Principal, scope: dict[str, Any]) -> str:
    if scope.get("platform"):
        return "the whole marketplace"
    seller = scope.get("sellerId")
    return "your sales" if permissions.is_self(user, seller or "") else f"seller {seller}"


@router.get("/console")
async def console(request: Request) -> Response:
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    if not may_use_console(user):
        return page(request, "error.html", {"status": 403, "detail": "the console is for "
                                            "operators and support"}, user=user, status=403)
    try:
        api = ApiClient(request)
        alerts, ageing, disputes = await asyncio.gather(
            api.get("/api/alerts", limit=CONSOLE_ALERTS),
            api.get("/api/orders/ageing"),
            api.get("/api/orders", status="disputed", limit=CONSOLE_DISPUTES,
                    cursor=request.query_params.get("cursor"), **OLDEST_FIRST))
    except ApiProblem as problem:
        return _problem_page(request, user, problem)
    settings = request.app.state.settings
    return page(request, "console.html", {
        "alerts": alerts["alerts"], "ageing": ageing, "disputes": disputes["orders"],
        "next_cursor": disputes["pagination"]["nextCursor"],
        "cursor": request.query_params.get("cursor"),
        "oldest_first": OLDEST_FIRST,
        "workflow_url": lambda workflow_id: workflow_url(
            settings.temporal_ui_base, settings.temporal_namespace, workflow_id),
    }, user=user)


def workflow_url(ui: str, namespace: str, workflow_id: str) -> str:
    """An order's run in the Temporal Web UI."""
    return f"{ui}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"


def _problem_page(request: Request, user: Principal, problem: ApiProblem) -> Response:
    if problem.unauthorized:
        return to_sign_in()
    return page(request, "error.html", {"status": problem.status, "detail": problem.detail},
                user=user, status=problem.status)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
