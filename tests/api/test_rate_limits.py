"""Abuse limits with limits low enough to trip: per address, per principal, for webhooks and
for failed authentication, each answered 429 with Retry-After; probes are never limited."""

from __future__ import annotations

import contextlib
import json
import time
import uuid

import httpx
import pytest
from pydantic import ValidationError

from api.auth import Role
from api.main import create_app
from oms.settings import DEV_SHIPPING_SECRET, Settings
from tests.conftest import bearer
from webhooks.signature import sign

NOWHERE = f"/api/orders/{uuid.uuid4()}"  # a 404 that costs one read, no workflow


@contextlib.asynccontextmanager
async def limited_api(settings: Settings, **limits: str):
    app = create_app(settings.model_copy(update={f"rate_limit_{k}": v for k, v in limits.items()}))
    async with app.router.lifespan_context(app):

        def client(address: str = "203.0.113.7") -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 1)),
                                     base_url="http://oms.test")

        yield client


def assert_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "RATE_LIMITED" and answer.json()["canRetry"] is True
    assert 1 <= int(answer.headers["retry-after"]) <= 60


async def test_an_address_over_its_limit_gets_429_and_others_and_probes_do_not(settings):
    async with limited_api(settings, per_client="3/minute") as client:
        async with client() as http, client("198.51.100.1") as other:
            answers = [await http.get(NOWHERE, headers=bearer(f"u{i}")) for i in range(4)]
            assert [a.status_code for a in answers[:3]] == [404, 404, 404]
            assert_limited(answers[3])
            assert (await other.get(NOWHERE, headers=bearer("u9"))).status_code == 404
            assert (await http.get("/health")).status_code in (200, 503)
            assert (await http.get("/metrics")).status_code == 200


async def test_a_principal_over_its_limit_gets_429_from_any_address(settings):
    async with limited_api(settings, per_principal="2/minute") as client:
        async with client("192.0.2.1") as first, client("192.0.2.2") as second:
            same = bearer("busy-user")
            assert (await first.get(NOWHERE, headers=same)).status_code == 404
            assert (await second.get(NOWHERE, headers=same)).status_code == 404
            assert_limited(await second.get(NOWHERE, headers=same))
            assert (await second.get(NOWHERE, headers=bearer("calm-user"))).status_code == 404


async def test_after_too_many_failed_authentications_an_address_is_refused_before_auth(
    settings
):
    async with limited_api(settings, failed_auth="3/minute") as client:
        async with client() as http, client("198.51.100.2") as other:
            bad = {"Authorization": "Bearer not-a-token"}
            assert [(await http.get(NOWHERE, headers=bad)).status_code
                    for _ in range(3)] == [401, 401, 401]
            # Now even a valid token from that address waits: it is refused unread.
            assert_limited(await http.get(NOWHERE, headers=bearer("real-user")))
            assert_limited(await http.get(NOWHERE, headers=bad))
            assert (await other.get(NOWHERE, headers=bearer("real-user"))).status_code == 404


async def test_webhooks_have_a_limit_of_their_own(settings):
    async with limited_api(settings, webhooks="2/minute", per_client="3/minute") as client:
        async with client() as http:
            body = json.dumps({"eventId": "x"}).encode()  # signed but invalid: 422, cheap
            headers = {"X-OMS-Signature": sign(DEV_SHIPPING_SECRET, body, int(time.time())),
                       "content-type": "application/json"}
            hooks = [await http.post("/api/webhooks/shipping", content=body, headers=headers)
                     for _ in range(3)]
            assert [h.status_code for h in hooks[:2]] == [422, 422]
            assert_limited(hooks[2])
            # Webhook traffic did not use up the address's budget for the rest of the API.
            assert [(await http.get(NOWHERE, headers=bearer("u"))).status_code
                    for _ in range(3)] == [404, 404, 404]


async def test_the_limiter_can_be_switched_off(settings):
    app = create_app(settings.model_copy(update={"rate_limit_enabled": False,
                                                 "rate_limit_per_client": "1/minute"}))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://oms.test") as http:
        ops = bearer("ops", Role.OPERATOR)
        assert [(await http.get(NOWHERE, headers=ops)).status_code
                for _ in range(3)] == [404, 404, 404]


@pytest.mark.parametrize("env", [
    {"OMS_RATE_LIMIT_PER_CLIENT": "100/minit"},
    {"OMS_RATE_LIMIT_FAILED_AUTH": "lots"},
    {"OMS_RATE_LIMIT_WEBHOOKS": "10 per"},
    {"OMS_RATE_LIMIT_STORAGE": "carrier-pigeon://"},
])
def test_a_bad_limit_or_storage_is_refused_in_one_line(monkeypatch, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    (error,) = caught.value.errors()
    (name,) = env
    assert "\n" not in error["msg"] and f"{name}=" in error["msg"] and "rate limit" in error["msg"]


def test_limits_parse_in_the_library_syntax(monkeypatch):
    monkeypatch.setenv("OMS_RATE_LIMIT_PER_PRINCIPAL", "5/second;100/minute")
    assert Settings(_env_file=None).rate_limit_per_principal == "5/second;100/minute"
