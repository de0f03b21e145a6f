"""When Temporal or the database is down the API answers 503 with Retry-After, never 500."""

from __future__ import annotations

import httpx
import pytest

from api.main import create_app
from oms.processes import free_port
from oms.settings import Settings
from tests.conftest import JWT_SECRET, bearer
from tests.factories import checkout_body


@pytest.fixture
async def api_without_backends(tmp_path):
    settings = Settings(
        # Nothing listens on this port, and this SQLite file's folder does not exist.
        temporal_address=f"127.0.0.1:{free_port()}",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'oms.db'}",
        jwt_secret=JWT_SECRET,
        _env_file=None,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as http:
            yield http


async def test_health_is_503_when_both_are_down(api_without_backends):
    response = await api_without_backends.get("/health")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {"status": "degraded", "database": "unavailable",
                               "temporal": "unavailable"}


async def test_creating_an_order_while_temporal_is_down_is_503(api_without_backends):
    body = checkout_body(buyer_id="b1", seller_id="s1", listing_id="l1")
    response = await api_without_backends.post("/api/orders", json=body, headers=bearer("b1"))
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "TEMPORARILY_UNAVAILABLE"
    assert response.json()["canRetry"] is True
    assert "retry-after" in response.headers


async def test_reading_an_order_while_the_database_is_down_is_503(api_without_backends):
    response = await api_without_backends.get(
        "/api/orders/00000000-0000-0000-0000-000000000000", headers=bearer("b1"))
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "DATABASE_ERROR"


@pytest.mark.usefixtures("stack_worker")
async def test_an_order_no_worker_answers_in_time_is_503_and_kept(settings, session_db,
                                                                   client):
    """With no worker on the queue the API answers 503 after a short wait (see
    tests/api/test_fail_fast.py); the workflow keeps the order, and the retry answers once a
    worker serves the queue."""
    from datetime import timedelta

    from tests.factories import seed_listing, unique
    from worker import build_worker

    lonely = settings.model_copy(update={"task_queue": f"nobody-{unique('q')}",
                                         "temporal_rpc_timeout": timedelta(seconds=1)})
    app = create_app(lonely)
    seller = unique("seller")
    listing = await seed_listing(session_db, seller_id=seller)
    body = checkout_body(buyer_id="b-lonely", seller_id=seller, listing_id=listing)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://oms.test") as http:
        first = await http.post("/api/orders", json=body, headers=bearer("b-lonely"))
        assert (first.status_code, first.json()["code"]) == (503, "TEMPORARILY_UNAVAILABLE")
        async with build_worker(client, session_db, lonely, lonely.task_queue):
            retry = await http.post("/api/orders", json=body, headers=bearer("b-lonely"))
        assert retry.status_code == 201, retry.text


async def test_a_webhook_while_the_backends_are_down_is_503_for_the_provider_to_resend(
    api_without_backends,
):
    from tests.api.test_webhooks import post_signed, scan

    response = await post_signed(api_without_backends, "shipping",
                                 scan("00000000-0000-0000-0000-000000000000", "in_transit"))
    assert response.status_code == 503
    assert response.json()["canRetry"] is True
