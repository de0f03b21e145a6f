"""Partial refunds through the HTTP API: card refunds made at a real localstripe once each,
never more than was paid, an escrow's paid in its final split, and each refund in the order's
details, timeline and both parties' notifications. The workflow's decisions alone:
tests/workflows/test_partial_refunds.py."""

from __future__ import annotations

import pytest
import stripe
from sqlalchemy import select

from api.auth import Role
from db import tables as t
from tests import factories
from tests.conftest import bearer, carrier
from tests.factories import checkout_body, seed_listing, unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")
OPS = bearer("ops-refunds", Role.OPERATOR)


async def _order(api, session_db, method: str):
    """A paid order of 2 x 100 (dollars by card, USDC otherwise)."""
    buyer, seller = unique("buyer"), unique("seller")
    currency = factories.currency_for(method)
    listing = await seed_listing(session_db, seller_id=seller, currency=currency)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method=method)
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    return created.json()["order"]["id"], buyer, seller, listing, body


async def _refund(api, order_id, who, key, **body):
    return await api.post(f"/api/orders/{order_id}/refunds", json={"reason": "broken", **body},
                          headers={**who, "Idempotency-Key": key})


def _stripe_refunds(payment_intent: str) -> list:
    client = stripe.StripeClient("sk_test_oms_tests",
                                 base_addresses={"api": factories.STRIPE["api_base"]})
    return list(client.v1.refunds.list({"payment_intent": payment_intent}).data)


async def _details(api, order_id, who=OPS):
    return (await api.get(f"/api/orders/{order_id}", headers=who)).json()["order"]


async def test_two_card_refunds_are_made_once_each_and_never_more_than_was_paid(api, session_db):
    order_id, buyer, seller, _, body = await _order(api, session_db, "fiat")
    first = await _refund(api, order_id, bearer(seller), "goodwill-1", amount="15.50")
    assert first.status_code == 201, first.text
    assert first.json()["order"] == {"id": order_id, "status": "payment_confirmed",
                                     "refundedAmount": "15.50", "refundableAmount": "184.50"}
    retried = await _refund(api, order_id, bearer(seller), "goodwill-1", amount="15.50")
    assert (retried.status_code, retried.json()) == (201, first.json())
    reused = await _refund(api, order_id, bearer(seller), "goodwill-1", amount="20")
    assert (reused.status_code, reused.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    second = await _refund(api, order_id, OPS, "ops-1", amount="100")
    assert second.status_code == 201, second.text
    too_much = await _refund(api, order_id, OPS, "ops-2", amount="84.51")
    assert (too_much.status_code, too_much.json()["code"]) == (409, "REFUND_EXCEEDS_PAYMENT")
    bad_scale = await _refund(api, order_id, OPS, "ops-3", amount="1.001")
    assert (bad_scale.status_code, bad_scale.json()["code"]) == (422, "VALIDATION_ERROR")

    async def settled():
        details = await _details(api, order_id)
        done = [r["status"] for r in details["refunds"]] == ["succeeded", "succeeded"]
        return details if done and details["payment"]["status"] == "partially_refunded" \
            else None

    details = await eventually(settled)
    assert details["status"] == "payment_confirmed"  # the order goes on
    assert [(r["amount"], r["actor"], r["requestedBy"]) for r in details["refunds"]] == [
        ("15.50", "seller", seller), ("100.00", "operator", "ops-refunds")]
    payment_intent = body["paymentResult"]["paymentIntentId"]
    assert sorted(r.amount for r in _stripe_refunds(payment_intent)) == [1550, 10000]
    assert sum(e["description"].startswith("Refund of") for e in details["timeline"]) == 2
    for who in (buyer, seller):
        notes = (await api.get("/api/notifications", headers=bearer(who))).json()
        assert sum(n["type"] == "order_partially_refunded" and n["orderId"] == order_id
                   for n in notes["notifications"]) == 2


async def test_refunded_items_are_priced_and_restocked_before_shipping(api, session_db):
    order_id, buyer, seller, listing, _ = await _order(api, session_db, "crypto")
    [item] = (await _details(api, order_id))["items"]
    stock_after_sale = await _stock(api, listing)
    taken = await _refund(api, order_id, bearer(seller), "one-broken",
                          items=[{"itemId": item["id"], "quantity": 1}])
    assert taken.status_code == 201, taken.text
    assert taken.json()["refund"]["amount"] == "100.000000"
    assert taken.json()["refund"]["items"] == [{"listingId": listing, "quantity": 1}]
    assert await eventually(lambda: _stock_is(api, listing, stock_after_sale + 1))
    again = await _refund(api, order_id, bearer(seller), "two-more",
                          items=[{"itemId": item["id"], "quantity": 2}])
    assert (again.status_code, again.json()["code"]) == (422, "VALIDATION_ERROR")
    costly = await _refund(api, order_id, bearer(seller), "costly", amount="150",
                           items=[{"itemId": item["id"], "quantity": 1}])
    assert (costly.status_code, costly.json()["code"]) == (422, "VALIDATION_ERROR")
    foreign = await _refund(api, order_id, bearer(seller), "foreign",
                            items=[{"itemId": "00000000-0000-0000-0000-000000000000",
                                    "quantity": 1}])
    assert (foreign.status_code, foreign.json()["code"]) == (422, "VALIDATION_ERROR")
    # The rest, by the operator: everything is refunded, so the order ends refunded.
    last = await _refund(api, order_id, OPS, "the-rest", amount="100")
    assert last.json()["order"]["status"] == "refunded"
    assert await eventually(lambda: _stock_is(api, listing, stock_after_sale + 2))
    async with session_db.reader.connect() as conn:
        ledger = (await conn.execute(select(t.payment_operations.c.amount).where(
            t.payment_operations.c.order_id == order_id))).scalars().all()
    assert sorted(ledger) == [100, 100]


async def test_an_escrow_refund_is_paid_when_the_escrow_is_settled(api, session_db):
    order_id, buyer, seller, _, _ = await _order(api, session_db, "escrow")
    taken = await _refund(api, order_id, OPS, "late", amount="40")
    assert taken.json()["refund"]["status"] == "at_settlement"
    for who, status, extra in ((bearer(seller), "order_confirmed", {}),
                               (bearer(seller), "processing", {}),
                               (bearer(seller), "ready_to_ship", {}),
                               (bearer(seller), "shipped", {"trackingNumber": "1Z999AA1"}),
                               (carrier(), "delivered", {}), (bearer(buyer), "completed", {})):
        moved = await api.put(f"/api/orders/{order_id}/status", headers=who,
                              json={"status": status, **extra})
        assert moved.status_code == 200, moved.text

    async def split():
        ops = (await _details(api, order_id))["payment"]["operations"]
        return ops if len(ops) == 2 else None

    ops = await eventually(split)
    assert sorted((o["kind"], o["amount"]) for o in ops) == [
        ("refund", "40.000000"), ("release", "160.000000")]


async def test_only_the_seller_and_operators_refund(api, session_db):
    order_id, buyer, _, _, _ = await _order(api, session_db, "crypto")
    for who, expected in ((bearer(buyer), 403), (bearer(unique("seller")), 404),
                          (bearer("support-1", Role.SUPPORT), 403)):
        refused = await _refund(api, order_id, who, "nope", amount="1")
        assert refused.status_code == expected, refused.text
    unkeyed = await api.post(f"/api/orders/{order_id}/refunds", headers=OPS,
                             json={"amount": "1", "reason": "no key"})
    assert (unkeyed.status_code, unkeyed.json()["code"]) == (422, "VALIDATION_ERROR")
    assert (await _details(api, order_id))["refunds"] == []


async def _stock(api, listing):
    return (await api.get(f"/api/listings/{listing}", headers=OPS)).json()["listing"][
        "inventory"]


async def _stock_is(api, listing, expected):
    return await _stock(api, listing) == expected
