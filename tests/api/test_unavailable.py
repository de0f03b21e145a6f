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
