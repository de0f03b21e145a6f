"""Prometheus metrics of the API process: request latency, webhook outcomes, stuck orders."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db import tables as t
from db.engine import Database
from domain.statuses import FULFILMENT, SHIPPING
from oms.settings import Settings

REQUEST_LATENCY = Histogram("oms_api_request_seconds", "API request latency",
                            ["method", "route", "status"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WEBHOOK_EVENTS = Counter("oms_webhook_events_total", "Webhook events by outcome",
                         ["source", "outcome"])
STUCK_ORDERS = Gauge("oms_orders_stuck", "Orders waiting past their stuck-alert deadline",
                     ["status"])


class RequestMetricsMiddleware:
    """Latency per route template (not per URL, which would explode the label set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            REQUEST_LATENCY.labels(scope["method"], route_template(scope), str(status)).observe(
                time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The matched route's path, with the prefixes of the mounts it is in (the pages' routes
    are under /app); a mounted app's own prefix (static files); "unmatched" when none matched."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    mounted = scope.get("root_path", "")[len(scope.get("app_root_path", "")):]
    return mounted if isinstance(route, Mount) else mounted + path


async def render(db: Database, settings: Settings) -> tuple[bytes, str]:
    """The metrics page, with the stuck-order gauge counted now from the read model."""
    now = datetime.now(UTC)
    o = t.orders
    async with db.reader.connect() as conn:
        waiting = dict((await conn.execute(
            select(o.c.status, func.count()).where(
                o.c.status.in_(sorted(FULFILMENT)),
                o.c.status_updated_at < now - settings.policy.stuck_alert_after)
            .group_by(o.c.status))).all())
        in_transit = dict((await conn.execute(
            select(o.c.status, func.count()).where(
                o.c.status.in_(sorted(SHIPPING)),
                o.c.shipped_at < now - settings.policy.shipment_stuck_after)
            .group_by(o.c.status))).all())
    for status in sorted(FULFILMENT | SHIPPING):
        STUCK_ORDERS.labels(status.value).set(waiting.get(status) or in_transit.get(status) or 0)
    return generate_latest(), CONTENT_TYPE_LATEST
