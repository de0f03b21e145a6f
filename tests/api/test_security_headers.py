"""Security headers on every answer, no-store on authenticated ones, and no server banner from
the API as `oms api` runs it."""

from __future__ import annotations

import os
import sys
import uuid

import httpx
import pytest

from api.main import create_app
from oms import processes
from tests.conftest import bearer

FRAMING = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
           "content-security-policy": "frame-ancestors 'none'"}


def assert_hardened(answer: httpx.Response) -> None:
    for name, value in FRAMING.items():
        assert answer.headers.get(name) == value, (name, answer.headers)


@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/nowhere"])
async def test_every_answer_carries_the_security_headers(api, path):
    assert_hardened(await api.get(path))


async def test_authenticated_answers_are_not_stored(api):
    for answer in (await api.get(f"/api/orders/{uuid.uuid4()}", headers=bearer("someone")),
                   await api.get("/api/notifications", headers=bearer("someone")),
                   await api.get("/api/notifications",
                                 headers={"Authorization": "Bearer not-a-token"})):
        assert_hardened(answer)
        assert answer.headers["cache-control"] == "no-store", answer.status_code


async def test_even_an_unexpected_error_carries_them(settings):
    app = create_app(settings)

    async def broken() -> None:
        raise ValueError("a bug")

    app.add_api_route("/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=transport, base_url="http://oms.test") as http:
        answer = await http.get("/broken", headers=bearer("someone"))
    assert answer.status_code == 500
    assert_hardened(answer)
    assert answer.headers["cache-control"] == "no-store"


def test_oms_api_sends_no_server_banner(tmp_path, temporal_address):
    port = processes.free_port()
    env = {**os.environ, "OMS_API_PORT": str(port), "OMS_TEMPORAL_ADDRESS": temporal_address,
           "OMS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'oms.db'}",
           "OMS_LOG_LEVEL": "WARNING"}
    api = processes.spawn([sys.executable, "-m", "oms.cli", "api"], env=env)
    try:
        processes.wait_for_port(port, api, timeout=60)
        answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
    finally:
        processes.stop(api)
    assert "server" not in answer.headers
    assert_hardened(answer)
