"""Stripe's events at POST /api/webhooks/stripe, against the running stack and a real localstripe.

localstripe sends `payment_intent.*` itself but never `charge.refunded` or `charge.dispute.*`,
so those are built here as Stripe documents them and signed with Stripe's scheme; the money
they speak of is real at localstripe (a refund made there directly, as in the dashboard).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import httpx
import pytest
import stripe
from sqlalchemy import select

from activities.payments import StripeCardPayments, payment_providers
from api.auth import Role
from api.main import create_app
from db import tables as t
from domain.order import PaymentMethod
from domain.payments import PaymentStatus
from oms.settings import DEV_STRIPE_WEBHOOK_SECRET
from payments.stripe_provider import StripeProvider
from tests import factories
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.polling import eventually
from worker import build_worker

pytestmark = pytest.mark.usefixtures("stack_worker")


def _stripe() -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_oms_tests",
                               base_addresses={"api": factories.STRIPE["api_base"]})


def stripe_event(kind: str, obj: dict, event_id: str | None = None) -> dict:
    return {"id": event_id or unique("evt"), "object": "event", "type": kind,
            "created": int(time.time()), "livemode": False, "data": {"object": obj}}


def charge_refunded(payment_intent_id: str, **kw) -> dict:
    return stripe_event("charge.refunded", {"id": unique("ch"), "object": "charge",
                                            "payment_intent": payment_intent_id}, **kw)


async def post_stripe(api, event: dict | bytes, *, secret: str = DEV_STRIPE_WEBHOOK_SECRET,
                      at: float | None = None, header: str | None = None):
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(
            body.decode(), secret, int(at if at is not None else time.time()))
    return await api.post("/api/webhooks/stripe", content=body,
                          headers={"Stripe-Signature": header,
                                   "content-type": "application/json"})


async def card_order(api, session_db):
    buyer, seller = unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller, currency="USD")
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method="fiat")
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    return created.json()["order"], body["paymentResult"]["paymentIntentId"], buyer, listing


async def details(api, order_id: str) -> dict:
    response = await api.get(f"/api/orders/{order_id}", headers=bearer("ops", Role.OPERATOR))
    return response.json()["order"]


async def inventory(session_db, listing_id: str) -> int:
    async with session_db.reader.connect() as conn:
        return (await conn.execute(select(t.listings.c.inventory)
                                   .where(t.listings.c.id == listing_id))).scalar_one()


def refunds_at_stripe(payment_intent_id: str) -> list[int]:
    return sorted(r.amount for r in _stripe().v1.refunds.list(
        {"payment_intent": payment_intent_id}).data)


async def test_a_dashboard_refund_is_recorded_once_and_the_cancel_refunds_only_the_rest(
        api, session_db):
    order, intent, buyer, _ = await card_order(api, session_db)  # 200.00 USD
    _stripe().v1.refunds.create({"payment_intent": intent, "amount": 5000})  # the dashboard
    event = charge_refunded(intent)
    first, again = await post_stripe(api, event), await post_stripe(api, event)
    assert first.json() == {"received": True, "status": "accepted"}
    assert again.json()["status"] in ("duplicate", "accepted")  # the inbox row may be pending

    async def recorded():
        payment = (await details(api, order["id"]))["payment"]
        assert payment["status"] == "partially_refunded", payment
        return payment
    payment = await eventually(recorded)
    assert [(op["kind"], op["amount"]) for op in payment["operations"]] == [("refund", "50.00")]

    async def alerted():  # the alert is written after the refund is recorded
        alerts = (await api.get("/api/alerts", headers=bearer("ops", Role.OPERATOR))).json()
        assert [a["kind"] for a in alerts["alerts"] if a["orderId"] == order["id"]] == [
            "refunded_outside"]
        return True
    await eventually(alerted)

    cancelled = await api.post(f"/api/orders/{order['id']}/cancel",
                               json={"reasonCode": "buyer_request"}, headers=bearer(buyer))
    assert cancelled.status_code == 200, cancelled.text

    async def settled():
        payment = (await details(api, order["id"]))["payment"]
        assert payment["status"] == "refunded", payment
        return payment
    payment = await eventually(settled)
    assert refunds_at_stripe(intent) == [5000, 15000]  # never more than was paid
    assert sorted(op["amount"] for op in payment["operations"]) == ["150.00", "50.00"]


async def test_a_full_dashboard_refund_ends_the_order_and_returns_its_stock(api, session_db):
    order, intent, _, listing = await card_order(api, session_db)
    stock = await inventory(session_db, listing)
    _stripe().v1.refunds.create({"payment_intent": intent})
    assert (await post_stripe(api, charge_refunded(intent))).status_code == 200

    async def ended():
        now = await details(api, order["id"])
        assert now["status"] == "refunded" and now["payment"]["status"] == "refunded", now
        return now
    await eventually(ended)
    assert await eventually(lambda: _more_stock(session_db, listing, stock))
    assert refunds_at_stripe(intent) == [20000]  # the service refunded nothing itself


async def _more_stock(session_db, listing, before) -> bool:
    return await inventory(session_db, listing) == before + 2


async def test_a_chargeback_reaches_operators_and_the_seller(api, session_db):
    order, intent, _, _ = await card_order(api, session_db)
    dispute = stripe_event("charge.dispute.created", {
        "id": unique("dp"), "object": "dispute", "payment_intent": intent,
        "status": "needs_response", "amount": 20000})
    assert (await post_stripe(api, dispute)).json()["status"] == "accepted"

    async def alerted():
        alerts = (await api.get("/api/alerts", headers=bearer("ops", Role.OPERATOR))).json()
        kinds = [a["kind"] for a in alerts["alerts"] if a["orderId"] == order["id"]]
        assert kinds == ["chargeback_opened"], kinds
        return True
    assert await eventually(alerted)
    timeline = (await details(api, order["id"]))["timeline"]  # in the order things happened
    assert "Card processor reported charge.dispute.created" in [
        entry["description"] for entry in timeline]


async def test_a_payment_event_for_a_paid_order_changes_nothing(api, session_db):
    order, intent, _, _ = await card_order(api, session_db)
    succeeded = stripe_event("payment_intent.succeeded", {
        "id": intent, "object": "payment_intent", "status": "succeeded"})
    assert (await post_stripe(api, succeeded)).json()["status"] == "accepted"

    async def on_the_timeline():
        timeline = (await details(api, order["id"]))["timeline"]
        assert "card_processor" in [entry["source"] for entry in timeline], timeline
        return timeline
    await eventually(on_the_timeline)
    assert (await details(api, order["id"]))["status"] == "payment_confirmed"


async def test_an_event_for_a_payment_with_no_order_yet_waits_for_it(api, session_db):
    event = stripe_event("payment_intent.succeeded", {
        "id": unique("pi"), "object": "payment_intent", "status": "succeeded"})
    assert (await post_stripe(api, event)).json()["status"] == "pending"
    assert (await post_stripe(api, event)).json()["status"] == "duplicate"


@pytest.mark.parametrize("case", ["unsigned", "wrong_secret", "stale", "from_the_future",
                                  "tampered"])
async def test_a_stripe_event_that_is_not_signed_now_by_stripe_is_refused(api, session_db, case):
    order, intent, _, _ = await card_order(api, session_db)
    event = charge_refunded(intent)
    body = json.dumps(event).encode()
    now = time.time()
    sent = {
        "unsigned": lambda: post_stripe(api, body, header=""),
        "wrong_secret": lambda: post_stripe(api, body, secret="whsec_" + "x" * 40),
        "stale": lambda: post_stripe(api, body, at=now - 301),
        "from_the_future": lambda: post_stripe(api, body, at=now + 301),
        "tampered": lambda: post_stripe(api, body, header=stripe.WebhookSignature
                                        .generate_signature_header(
                                            body.decode().replace("charge", "chargf", 1),
                                            DEV_STRIPE_WEBHOOK_SECRET)),
    }[case]
    refused = await sent()
    assert refused.status_code == 401, refused.text
    expected = "WEBHOOK_TIMESTAMP_OUT_OF_RANGE" if case in ("stale", "from_the_future") \
        else "WEBHOOK_SIGNATURE_INVALID"
    assert refused.json()["code"] == expected
    async with session_db.reader.connect() as conn:
        held = (await conn.execute(select(t.webhook_events.c.id).where(
            t.webhook_events.c.event_id == event["id"]))).all()
    assert held == []  # nothing recorded, nothing applied


async def test_a_signed_but_malformed_stripe_event_is_a_clear_422(api):
    for body in (b"{not json", json.dumps({"id": "evt_1", "type": "charge.refunded"}).encode()):
        refused = await post_stripe(api, body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "VALIDATION_ERROR"


async def test_an_event_type_the_service_does_not_handle_is_recorded_not_applied(api):
    event = stripe_event("customer.created", {"id": unique("cus"), "object": "customer"})
    assert (await post_stripe(api, event)).json()["status"] == "unknown_type"


class StillProcessing:
    """Stripe's answer for a payment that is still processing (a bank debit), which localstripe
    cannot simulate: the real PaymentIntent as localstripe has it, reported `processing` until
    `settle()`. Everything else goes to the real Stripe adapter."""

    def __init__(self, real: StripeCardPayments) -> None:
        self._real = real
        self.settled = False

    def settle(self) -> None:
        self.settled = True

    async def verify(self, cmd):
        verified = await self._real.verify(cmd)
        return verified if self.settled else replace(verified, status=PaymentStatus.PROCESSING)

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.fixture
async def processing_stack(client, session_db, settings):
    """An API and a worker of their own, whose card payments stay processing until told."""
    own = settings.model_copy(update={"task_queue": unique("orders-processing")})
    stripe_api = StripeProvider.from_settings(own)
    provider = StillProcessing(StripeCardPayments(stripe_api))
    providers = {**payment_providers(stripe_api), PaymentMethod.FIAT: provider}
    app = create_app(own)
    async with (build_worker(client, session_db, own, own.task_queue, providers=providers),
                app.router.lifespan_context(app)):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as http:
            yield http, provider
    await stripe_api.aclose()


async def test_a_processing_payment_is_paid_on_stripes_event_applied_once(
        processing_stack, session_db):
    api, provider = processing_stack
    order, intent, _, _ = await card_order(api, session_db)
    assert order["status"] == "payment_pending"  # the recheck is a minute away
    provider.settle()  # Stripe has settled the debit
    succeeded = stripe_event("payment_intent.succeeded", {
        "id": intent, "object": "payment_intent", "status": "succeeded"})
    for _ in range(2):
        assert (await post_stripe(api, succeeded)).status_code == 200

    async def paid():
        now = await details(api, order["id"])
        assert now["status"] == "payment_confirmed", now["status"]
        return now
    now = await eventually(paid, timeout=15)
    assert now["payment"]["status"] == "confirmed"
    async with session_db.reader.connect() as conn:
        changes = (await conn.execute(select(t.order_status_history.c.new_status).where(
            t.order_status_history.c.order_id == order["id"]))).scalars().all()
        inbox = (await conn.execute(select(t.webhook_events.c.status).where(
            t.webhook_events.c.event_id == succeeded["id"]))).scalars().all()
    assert changes == ["payment_pending", "payment_confirmed"]  # once, for two deliveries
    assert inbox == ["accepted"]
