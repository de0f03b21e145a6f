"""localstripe's signed events, as the Stripe SDK verifies them: what the dev Stripe can tell
the webhook endpoint. No mocks: localstripe posts to a real HTTP receiver."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import stripe
from aiohttp import web

from oms.dev_stripe import register_webhook
from oms.processes import free_port
from payments.stripe_checkout import TestCard, pay_with_test_card
from payments.stripe_provider import StripeProvider

SECRET = "whsec_test_0123456789abcdef0123456789"


class Receiver:
    """An HTTP endpoint that keeps what localstripe posts to it."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.deliveries.append((await request.read(), request.headers.get("Stripe-Signature", "")))
        return web.Response()

    async def wait_for(self, event_type: str, object_id: str,
                       timeout: float = 10) -> tuple[bytes, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body, signature in self.deliveries:
                event = json.loads(body)
                if event["type"] == event_type and event["data"]["object"]["id"] == object_id:
                    return body, signature
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event_type} for {object_id} within {timeout} s")


@pytest.fixture
async def receiver(stripe_base: str) -> AsyncIterator[Receiver]:
    received = Receiver()
    app = web.Application()
    app.router.add_post("/stripe", received.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    endpoint = f"test-{uuid.uuid4().hex[:8]}"
    url = f"http://127.0.0.1:{port}/stripe"
    await asyncio.to_thread(register_webhook, stripe_base, endpoint, url, SECRET,
                            ["payment_intent.succeeded", "payment_intent.payment_failed",
                             "charge.refunded"])
    yield received
    # localstripe cannot forget an endpoint; one that subscribes to nothing is as good.
    await asyncio.to_thread(register_webhook, stripe_base, endpoint, url, SECRET, ["none"])
    await runner.cleanup()


@pytest.fixture
async def provider(stripe_base: str) -> AsyncIterator[StripeProvider]:
    provider = StripeProvider("sk_test_oms_tests", stripe_base)
    yield provider
    await provider.aclose()


async def test_a_payment_is_announced_signed_the_way_the_sdk_verifies(provider, receiver):
    paid = await pay_with_test_card(provider, amount=Decimal("200"), currency="USD",
                                    buyer_id="buyer123")
    body, signature = await receiver.wait_for("payment_intent.succeeded", paid)
    event = stripe.Webhook.construct_event(body, signature, SECRET)
    assert event.type == "payment_intent.succeeded"
    assert event.data.object.id == paid
    assert event.data.object.metadata["buyerId"] == "buyer123"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, signature, "whsec_someone_else_0123456789abcdef")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"20000", b"20001"), signature, SECRET)


async def test_a_declined_payment_is_announced_as_failed(provider, receiver):
    failed = await pay_with_test_card(provider, amount=Decimal("200"), currency="USD",
                                      buyer_id="buyer123", card=TestCard.DECLINED)
    body, signature = await receiver.wait_for("payment_intent.payment_failed", failed)
    event = stripe.Webhook.construct_event(body, signature, SECRET)
    assert event.data.object.last_payment_error.code == "card_declined"


async def test_localstripe_announces_no_refund(provider, receiver):
    # Stripe sends charge.refunded; localstripe sends nothing for a refund, so a refund made
    # outside the service cannot be shown with it.
    paid = await pay_with_test_card(provider, amount=Decimal("200"), currency="USD",
                                    buyer_id="buyer123")
    await receiver.wait_for("payment_intent.succeeded", paid)
    await provider.refund(paid, Decimal("200"), "USD", "refund-announced?")
    await asyncio.sleep(1.5)  # localstripe posts each event 1 s after it happens
    assert [json.loads(body)["type"] for body, _ in receiver.deliveries
            if "charge" in json.loads(body)["type"]] == []
