"""Card orders are paid only on the word of the Stripe API (here a real localstripe): what the
checkout says about a PaymentIntent decides nothing, and a reference someone else submits
first is not used up for the buyer who really paid with it."""

from __future__ import annotations

import pytest
import stripe
from sqlalchemy import select

from api.auth import Role
from db import tables as t
from tests import factories
from tests.conftest import bearer
from tests.factories import card_payment, checkout_body, seed_listing, unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")


def _stripe() -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_oms_tests",
                               base_addresses={"api": factories.STRIPE["api_base"]})


async def _shop(session_db, *, price: str = "100", currency: str = "USD"):
    buyer, seller = unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller, price=price, currency=currency)
    return buyer, seller, listing


def _paid_with(body: dict, payment_intent_id: str) -> dict:
    body["paymentResult"]["paymentIntentId"] = payment_intent_id
    return body


async def _order(api, buyer: str, body: dict):
    return await api.post("/api/orders", json=body, headers=bearer(buyer))


async def test_a_paid_payment_intent_makes_a_paid_order(api, session_db):
    buyer, seller, listing = await _shop(session_db)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method="fiat")
    created = await _order(api, buyer, body)
    assert created.status_code == 201, created.text
    assert created.json()["order"]["status"] == "payment_confirmed"
    async with session_db.reader.connect() as conn:
        row = (await conn.execute(select(t.orders.c.payment_intent_id, t.orders.c.processing_fees)
                                  .where(t.orders.c.id == created.json()["order"]["id"]))).one()
    # localstripe keeps no fee; the figure the checkout sent (6.10) is not believed.
    assert row.payment_intent_id == body["paymentResult"]["paymentIntentId"]
    assert row.processing_fees == 0


@pytest.mark.parametrize("case, code", [
    ("made_up", "PAYMENT_NOT_CONFIRMED"),
    ("declined", "PAYMENT_NOT_CONFIRMED"),
    ("no_buyer", "PAYMENT_NOT_CONFIRMED"),
    ("wrong_amount", "AMOUNT_MISMATCH"),
    ("wrong_currency", "AMOUNT_MISMATCH"),
])
async def test_a_payment_the_provider_does_not_confirm_makes_no_order(api, session_db, case,
                                                                      code):
    buyer, seller, listing = await _shop(session_db)
    reference = {
        "made_up": lambda: unique("pi"),
        "declined": lambda: _declined(buyer),
        "no_buyer": lambda: card_payment(buyer_id=None, total=200, currency="USD"),
        "wrong_amount": lambda: card_payment(buyer_id=buyer, total=150, currency="USD"),
        "wrong_currency": lambda: card_payment(buyer_id=buyer, total=200, currency="EUR"),
    }[case]()
    body = _paid_with(checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                    method="fiat"), reference)
    refused = await _order(api, buyer, body)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == code and "refund" not in problem
    if code == "PAYMENT_NOT_CONFIRMED":
        assert (problem["canRetry"], problem["suggestedAction"]) == (
            True, "Verify payment status and retry")
    async with session_db.reader.connect() as conn:
        written = (await conn.execute(select(t.orders.c.id).where(
            t.orders.c.payment_reference == reference))).all()
        stock = (await conn.execute(select(t.listings.c.inventory).where(
            t.listings.c.id == listing))).scalar_one()
    assert written == [] and stock == 10  # nothing written, no stock taken


def _declined(buyer: str) -> str:
    client = _stripe()
    intent = client.v1.payment_intents.create({
        "amount": 20000, "currency": "usd", "metadata": {"buyerId": buyer},
        "payment_method": "pm_card_chargeCustomerFail"})  # Stripe's test card that declines
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(intent.id)
    return intent.id


async def test_someone_elses_payment_reference_neither_pays_nor_blocks_the_real_buyer(
        api, session_db):
    buyer, seller, listing = await _shop(session_db)
    reference = card_payment(buyer_id=buyer, total=200, currency="USD")
    thief = unique("thief")
    stolen = _paid_with(checkout_body(buyer_id=thief, seller_id=seller, listing_id=listing,
                                      method="fiat"), reference)
    refused = await _order(api, thief, stolen)
    assert (refused.status_code, refused.json()["code"]) == (422, "PAYMENT_NOT_CONFIRMED")
    assert refused.json()["message"] == "the payment was not made by this buyer"

    own = _paid_with(checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                   method="fiat"), reference)

    async def created():  # the thief's refused run may still be closing
        answer = await _order(api, buyer, own)
        assert answer.status_code == 201, answer.text
        return answer

    order = (await eventually(created)).json()["order"]
    assert order["status"] == "payment_confirmed"


async def test_a_wrong_total_does_not_use_up_the_payment_for_the_right_one(api, session_db):
    buyer, seller, listing = await _shop(session_db)
    reference = card_payment(buyer_id=buyer, total=200, currency="USD")
    wrong = _paid_with(checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                     method="fiat", quantity=1, total=100), reference)
    assert (await _order(api, buyer, wrong)).json()["code"] == "AMOUNT_MISMATCH"
    right = _paid_with(checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                     method="fiat"), reference)
    answer = await eventually(lambda: _created(api, buyer, right))
    assert answer.json()["order"]["status"] == "payment_confirmed"


async def _created(api, buyer, body):
    answer = await _order(api, buyer, body)
    assert answer.status_code == 201, answer.text
    return answer


async def _payment(api, order_id: str, who: str) -> dict:
    details = (await api.get(f"/api/orders/{order_id}", headers=bearer(who))).json()["order"]
    return details["payment"]


async def test_a_cancelled_card_order_is_refunded_once_at_the_provider(api, session_db):
    buyer, seller, listing = await _shop(session_db)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method="fiat")
    order = (await _order(api, buyer, body)).json()["order"]
    assert (await _payment(api, order["id"], buyer))["status"] == "confirmed"
    for attempt in range(2):  # the retried request changes nothing the second time
        cancelled = await api.post(f"/api/orders/{order['id']}/cancel",
                                   json={"reasonCode": "buyer_request"},
                                   headers={**bearer(buyer), "Idempotency-Key": "cancel-1"})
        assert cancelled.status_code == 200, (attempt, cancelled.text)

    async def refunded():
        payment = await _payment(api, order["id"], buyer)
        assert payment["status"] == "refunded", payment  # set once the provider confirmed it
        return payment

    payment = await eventually(refunded)
    refunds = _stripe().v1.refunds.list(
        {"payment_intent": body["paymentResult"]["paymentIntentId"]}).data
    assert [(r.amount, r.currency) for r in refunds] == [(20000, "usd")]
    [operation] = payment["operations"]
    assert (operation["kind"], operation["amount"], operation["providerId"]) == (
        "refund", "200.00", refunds[0].id)
    async with session_db.reader.connect() as conn:
        ledger = (await conn.execute(select(t.payment_operations.c.external_id).where(
            t.payment_operations.c.order_id == order["id"]))).scalars().all()
    assert ledger == [refunds[0].id]
    listed = (await api.get(f"/api/orders/buyer/{buyer}", headers=bearer(buyer))).json()
    assert listed["orders"][0]["paymentStatus"] == "refunded"


async def test_an_operator_token_cannot_pay_for_an_order_either(api, session_db):
    buyer, seller, listing = await _shop(session_db)
    body = _paid_with(checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                    method="fiat"), unique("pi"))
    refused = await api.post("/api/orders", json=body, headers=bearer("ops", Role.OPERATOR))
    assert refused.json()["code"] == "PAYMENT_NOT_CONFIRMED"
