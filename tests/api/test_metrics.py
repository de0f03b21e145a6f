"""Prometheus metrics: the API's, the worker's order metrics, and the Temporal SDK's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY

from api.main import create_app
from db.engine import create_database
from domain.order import OrderStatus
from oms.processes import free_port
from oms.settings import Settings
from oms.temporal import connect
from tests.api.test_webhooks import new_order, post_signed
from tests.conftest import JWT_SECRET, bearer
from tests.factories import seed_listing, unique
from tests.integration.test_order_lists import make_order, move
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")


def sample(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_request_latency_is_recorded_per_route_template(api):
    await api.get("/health")
    await api.get("/api/orders/00000000-0000-0000-0000-000000000000", headers=bearer("x"))
    # The pages and their files, mounted at /app, are named by their whole template too.
    await api.get("/app/orders/00000000-0000-0000-0000-000000000000")
    await api.get("/app/static/app.css")
    page = (await api.get("/metrics")).text
    assert 'oms_api_request_seconds_count{method="GET",route="/health",status="200"}' in page
    assert 'route="/api/orders/{order_id}",status="404"' in page
    assert 'route="/app/orders/{order_id}",status="303"' in page  # to the sign-in page
    assert 'route="/app/static",status="200"' in page
    assert "00000000-0000" not in page  # ids never become labels


async def test_webhook_outcomes_are_counted(api):
    before = sample("oms_webhook_events_total", source="shipping", outcome="unknown_order")
    rejected = sample("oms_webhook_events_total", source="shipping",
                      outcome="rejected_signature")
    event = {"eventId": unique("m"), "orderId": "00000000-0000-0000-0000-000000000000",
             "status": "in_transit", "occurredAt": datetime.now(UTC).isoformat()}
    await post_signed(api, "shipping", event)
    await post_signed(api, "shipping", event, secret="wrong-secret-0123456789abcdef0123456789")
    assert sample("oms_webhook_events_total", source="shipping",
                  outcome="unknown_order") == before + 1
    assert sample("oms_webhook_events_total", source="shipping",
                  outcome="rejected_signature") == rejected + 1


async def test_the_worker_counts_orders_and_transitions_once(api, session_db):
    created = sample("oms_orders_created_total", payment_method="fiat")
    moved = sample("oms_status_transitions_total", from_status="payment_confirmed",
                   to_status="order_confirmed")
    order_id, _, seller, _ = await new_order(api, session_db)
    await api.put(f"/api/orders/{order_id}/status", json={"status": "order_confirmed"},
                  headers=bearer(seller))
    assert sample("oms_orders_created_total", payment_method="fiat") == created + 1
    assert sample("oms_status_transitions_total", from_status="payment_confirmed",
                  to_status="order_confirmed") == moved + 1
    assert sample("oms_time_in_status_seconds_count", status="payment_confirmed") >= 1


async def test_stuck_orders_are_counted_from_the_read_model(sqlite_url):
    settings = Settings(database_url=sqlite_url, temporal_address=f"127.0.0.1:{free_port()}",
                        jwt_secret=JWT_SECRET, _env_file=None)
    db = create_database(sqlite_url)
    seller = unique("seller")
    listing = await seed_listing(db, seller_id=seller)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    for hours in (0, 1):
        order_id, _ = await make_order(db, seller=seller, buyer="b", listing=listing,
                                       at=long_ago + timedelta(hours=hours))
        if hours == 0:  # stuck in processing since three days ago
            await move(db, order_id, 1, OrderStatus.PAYMENT_CONFIRMED, OrderStatus.PROCESSING,
                       seller=seller, buyer="b")
    await db.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        page = (await http.get("/metrics")).text
    assert 'oms_orders_stuck{status="processing"} 1.0' in page
    assert 'oms_orders_stuck{status="ready_to_ship"} 0.0' in page


async def test_the_sdk_serves_its_own_metrics_on_a_port_of_its_own(temporal_address):
    port = free_port()
    client = await connect(temporal_address, metrics_port=port)
    await client.count_workflows()
    async with httpx.AsyncClient() as http:

        async def metrics_page():
            try:
                return (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            except httpx.TransportError as err:
                raise AssertionError(f"nothing serves port {port} yet") from err

        page = await eventually(metrics_page, interval=0.1)
    assert "temporal_request" in page
