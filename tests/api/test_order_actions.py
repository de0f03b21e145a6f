"""Cancel, dispute and resolve through the API: the money and the stock follow the status."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select

from api.auth import Role
from db import tables as t
from tests.api.test_webhooks import new_order, order_state, ready_to_ship
from tests.conftest import bearer, carrier
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")
OPS = bearer("ops1", Role.OPERATOR)


async def ledger(session_db, order_id):
    async with session_db.reader.connect() as conn:
        rows = (await conn.execute(select(t.payment_operations).where(
            t.payment_operations.c.order_id == order_id))).all()
    return [(r.kind, r.amount) for r in rows]


async def stock(api, listing_id):
    return (await api.get(f"/api/listings/{listing_id}", headers=OPS)).json()["listing"][
        "inventory"]


async def ledger_is(session_db, order_id, expected):
    async def check():
        return await ledger(session_db, order_id) == expected
    return await eventually(check)


async def test_a_buyer_cancels_a_paid_order_refund_and_stock_follow(api, session_db):
    order_id, buyer, _, body = await new_order(api, session_db, method="fiat")
    listing = body["checkoutData"]["listingId"]
    assert await stock(api, listing) == 8
    answer = await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(buyer),
                            json={"reasonCode": "buyer_request", "note": "changed my mind"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["order"]["status"] == "cancelled"
    assert await ledger_is(session_db, order_id, [("refund", Decimal("200"))])

    async def restocked():
        return await stock(api, listing) == 10
    assert await eventually(restocked)
    history = (await api.get(f"/api/orders/{order_id}/history", headers=bearer(buyer))).json()
    last = history["history"][-1]
    assert (last["reason"], last["notes"], last["actor"]) == ("buyer_request",
                                                               "changed my mind", "buyer")


async def test_a_buyer_cannot_cancel_once_processing_but_the_seller_can(api, session_db):
    order_id, buyer, seller, _ = await new_order(api, session_db)
    for status in ("order_confirmed", "processing"):
        await api.put(f"/api/orders/{order_id}/status", json={"status": status},
                      headers=bearer(seller))
    refused = await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(buyer),
                             json={"reasonCode": "buyer_request"})
    assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN")
    ok = await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(seller),
                        json={"reasonCode": "seller_out_of_stock"})
    assert ok.status_code == 200


@pytest.mark.parametrize("body", [{"reasonCode": "bored"}, {}, {"reasonCode": "other",
                                                                "extra": 1}])
async def test_a_cancel_needs_a_known_reason_code(api, session_db, body):
    order_id, buyer, _, _ = await new_order(api, session_db)
    answer = await api.post(f"/api/orders/{order_id}/cancel", headers=bearer(buyer), json=body)
    assert (answer.status_code, answer.json()["code"]) == (422, "VALIDATION_ERROR")


async def _delivered(api, session_db, method):
    order_id, buyer, seller, body = await new_order(api, session_db, method=method)
    await ready_to_ship(api, order_id, seller)
    await api.put(f"/api/orders/{order_id}/status", headers=bearer(seller),
                  json={"status": "shipped", "trackingNumber": "1Z999AA1"})
    system = carrier()
    await api.put(f"/api/orders/{order_id}/status", headers=system, json={"status": "delivered"})
    return order_id, buyer, seller, body


async def test_a_dispute_resolved_with_a_partial_refund(api, session_db):
    order_id, buyer, seller, _ = await _delivered(api, session_db, "crypto")
    disputed = await api.post(f"/api/orders/{order_id}/dispute", headers=bearer(buyer), json={
        "reason": "arrived broken", "evidence": ["https://example.com/photo1.jpg"]})
    assert disputed.status_code == 200, disputed.text
    assert disputed.json()["order"]["status"] == "disputed"
    seller_try = await api.post(f"/api/orders/{order_id}/dispute/resolve",
                                headers=bearer(seller), json={"outcome": "release",
                                                              "note": "mine"})
    assert seller_try.status_code == 403
    too_much = await api.post(f"/api/orders/{order_id}/dispute/resolve", headers=OPS,
                              json={"outcome": "refund", "amount": "250", "note": "x"})
    assert (too_much.status_code, too_much.json()["code"]) == (422, "VALIDATION_ERROR")
    resolved = await api.post(f"/api/orders/{order_id}/dispute/resolve", headers=OPS, json={
        "outcome": "refund", "amount": "50.5", "note": "half the headphones were fine"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["order"]["status"] == "refunded"
    assert await ledger_is(session_db, order_id, [("refund", Decimal("50.5"))])
    history = (await api.get(f"/api/orders/{order_id}/history", headers=bearer(buyer))).json()
    dispute_row = [h for h in history["history"] if h["newStatus"] == "disputed"][0]
    assert dispute_row["metadata"]["evidence"] == "https://example.com/photo1.jpg"
    assert history["history"][-1]["metadata"]["refundAmount"] == "50.5"


async def test_releasing_a_disputed_escrow_pays_the_seller(api, session_db):
    order_id, buyer, _, _ = await _delivered(api, session_db, "escrow")
    await api.post(f"/api/orders/{order_id}/dispute", headers=bearer(buyer),
                   json={"reason": "late"})
    resolved = await api.post(f"/api/orders/{order_id}/dispute/resolve", headers=OPS,
                              json={"outcome": "release", "note": "delivered as described"})
    assert resolved.json()["order"]["status"] == "completed"
    assert await ledger_is(session_db, order_id, [("release", Decimal("200"))])


async def test_a_partly_refunded_escrow_is_settled_and_shows_both_movements(api, session_db):
    order_id, buyer, _, body = await new_order(api, session_db, method="escrow")
    listing = body["checkoutData"]["listingId"]
    assert await stock(api, listing) == 8
    disputed = await api.post(f"/api/orders/{order_id}/dispute", headers=bearer(buyer),
                              json={"reason": "arrived broken"})  # still locked, not shipped
    assert disputed.status_code == 200, disputed.text
    resolved = await api.post(f"/api/orders/{order_id}/dispute/resolve", headers=OPS,
                              json={"outcome": "refund", "amount": "50", "note": "one cup"})
    assert resolved.status_code == 200, resolved.text
    assert await ledger_is(session_db, order_id, [("refund", Decimal("50")),
                                                  ("release", Decimal("150"))])

    async def settled():
        details = await api.get(f"/api/orders/{order_id}", headers=bearer(buyer))
        payment = details.json()["order"]["payment"]
        assert payment["status"] == "partially_refunded", payment
        return payment

    payment = await eventually(settled)
    assert [(op["kind"], op["amount"]) for op in payment["operations"]] == [
        ("refund", "50.000000"), ("release", "150.000000")]
    assert await eventually(lambda: _stock_is(api, listing, 10))  # it never shipped


async def test_a_completed_escrow_shows_its_money_released(api, session_db):
    order_id, buyer, _, _ = await _delivered(api, session_db, "escrow")
    done = await api.put(f"/api/orders/{order_id}/status", headers=bearer(buyer),
                         json={"status": "completed"})
    assert done.status_code == 200, done.text

    async def released():
        details = await api.get(f"/api/orders/{order_id}", headers=bearer(buyer))
        return details.json()["order"]["payment"]["status"] == "released"

    assert await eventually(released)


async def _stock_is(api, listing, expected):
    return await stock(api, listing) == expected


@pytest.mark.parametrize(
    "body",
    [{"outcome": "refund"},  # the note is required
     {"outcome": "release", "note": "x", "amount": "10"},  # an amount only for refunds
     {"outcome": "refund", "note": "x", "amount": "1.0000001"},  # USDC has 6 places
     {"outcome": "keep", "note": "x"}],
)
async def test_resolutions_are_validated(api, session_db, body):
    order_id, buyer, _, _ = await _delivered(api, session_db, "fiat")
    await api.post(f"/api/orders/{order_id}/dispute", headers=bearer(buyer),
                   json={"reason": "late"})
    answer = await api.post(f"/api/orders/{order_id}/dispute/resolve", headers=OPS, json=body)
    assert (answer.status_code, answer.json()["code"]) == (422, "VALIDATION_ERROR")
    assert (await order_state(api, order_id))["status"] == "disputed"


async def test_a_cancel_retried_with_its_key_is_answered_once(api, session_db):
    order_id, buyer, _, _ = await new_order(api, session_db)
    headers = {**bearer(buyer), "Idempotency-Key": "cancel-1"}
    answers = await asyncio.gather(*(api.post(f"/api/orders/{order_id}/cancel", headers=headers,
                                              json={"reasonCode": "buyer_request"})
                                     for _ in range(2)))
    assert [a.status_code for a in answers] == [200, 200]
