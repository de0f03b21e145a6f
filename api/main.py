"""The FastAPI application: `create_app()` builds it, the lifespan owns its connections."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import errors
from api.metrics import RequestMetricsMiddleware
from api.rate_limits import RateLimitMiddleware
from api.request_ids import RequestIdMiddleware
from api.routes import (
    alerts,
    codec,
    health,
    metrics,
    notifications,
    order_actions,
    order_lists,
    orders,
    payment_config,
    reference,
    shipments,
)
from api.security_headers import SecurityHeadersMiddleware
from api.strict_json import BodyLimitMiddleware
from api.tokens import TokenVerifier
from db.engine import create_database
from live import routes as live_routes
from live.hub import LiveHub
from oms.settings import Settings, get_settings, load_or_exit
from oms.temporal import connect
from web import install as install_web_pages
from webhooks import card_route
from webhooks import routes as webhook_routes

log = logging.getLogger("oms.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.tokens = TokenVerifier.from_settings(settings)
        app.state.db = create_database(settings.database_url)
        # Lazy: the API starts (and /health says so) even while Temporal is still coming up.
        app.state.temporal = await connect(settings.temporal_address,
                                           settings.temporal_namespace, lazy=True,
                                           payload_keys=settings.payload_key_ring)
        app.state.live = LiveHub(app.state.db, settings.database_url,
                                 poll_interval=settings.live_poll_interval.total_seconds(),
                                 queue_size=settings.ws_queue_size)
        await app.state.live.start()
        log.info("api ready: database %s, temporal %s", settings.database_url.split("://")[0],
                 settings.temporal_address)
        yield
        await app.state.live.stop()
        await app.state.db.dispose()

    # Swagger UI and ReDoc from the package's own copies, not a CDN: the docs work offline.
    app = FastAPIOffline(
        title="oms",
        summary="Order management for marketplaces: every order is a Temporal workflow.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    # The last added runs first: metrics (429s included), then the limits, which refuse before
    # a body is read. Security headers wrap everything.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.rate_limit_enabled:
        app.add_middleware(RateLimitMiddleware, settings=settings)
    app.add_middleware(RequestMetricsMiddleware)
    _outermost(app, SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)  # runs first: every log line of a request has it
    install_web_pages(app)  # /app/: the pages and their files, told apart by their prefix
    # Lists first: /api/orders/search must not be taken for an order id.
    for router in (order_lists.router, orders.router, order_actions.router, shipments.router,
                   webhook_routes.router,
                   card_route.router, payment_config.router, alerts.router, reference.router,
                   notifications.router,
                   live_routes.router, health.router, metrics.router):
        app.include_router(router)
    codec.install(app, settings)
    return app


def _outermost(app: FastAPI, middleware: type) -> None:
    """Wrap the whole stack, Starlette's error middleware included, so even a 500 passes."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: middleware(build())  # type: ignore[method-assign]


def app() -> FastAPI:
    """Factory for `uvicorn --factory api.main:app`; wrong settings end it with a line each."""
    return create_app(load_or_exit("oms api"))
