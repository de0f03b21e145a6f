"""The whole lifecycle through the HTTP API, against the real worker, Temporal and database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from api.auth import Role
from db import tables as t
from tests.conftest import bearer, carrier
from tests.factories import checkout_body, currency_for, seed_listing, unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")


async def _people(api, session_db, currency="USDC"):
    buyer, seller = unique("buyer"), unique("seller")
    ops = bearer("ops1", Role.OPERATOR)
    for user_id, name, store in ((buyer, "John Doe", None), (seller, "Alice Store", "Alice's")):
        body = {"name": name, "email": f"{user_id}@example.com"}
        if store:
            body["storeName"] = store
        assert (await api.put(f"/api/users/{user_id}", json=body, headers=ops)).status_code == 200
    listing = await seed_listing(session_db, seller_id=seller, currency=currency)
    return buyer, seller, listing


async def _status(api, order_id, who, status, **extra):
    return await api.put(f"/api/orders/{order_id}/status", json={"status": status, **extra},
                         headers=who)


@pytest.mark.parametrize("method", ["crypto", "fiat", "escrow"])
async def test_an_order_goes_from_payment_to_completion(api, session_db, method):
    buyer_id, seller_id, listing = await _people(api, session_db, currency_for(method))
    buyer, seller, system = bearer(buyer_id), bearer(seller_id), carrier()

    created = await api.post("/api/orders", headers=buyer, json=checkout_body(
        buyer_id=buyer_id, seller_id=seller_id, listing_id=listing, method=method))
    assert created.status_code == 201, created.text
    order = created.json()["order"]
    first = "escrow_locked" if method == "escrow" else "payment_confirmed"
    assert created.json()["success"] is True
    assert order["status"] == first
    # Card payments are in dollars (2 decimals), chain payments in a stablecoin (6).
    exact = (lambda units: f"{units}.00") if method == "fiat" else (lambda units: f"{units}.000000")
    assert order["totalAmount"] == exact(200) and order["currency"] == currency_for(method)
    assert order["orderNumber"].startswith("ORD-")
    order_id = order["id"]

    steps = [(seller, "order_confirmed", {}), (seller, "processing", {}),
             (seller, "ready_to_ship", {}),
             (seller, "shipped", {"trackingNumber": "1Z999AA1234567890", "carrier": "UPS",
                                  "estimatedDelivery": "2026-12-15", "notes": "via UPS"}),
             (system, "in_transit", {}), (system, "out_for_delivery", {}),
             (system, "delivered", {}), (buyer, "completed", {})]
    for who, status, extra in steps:
        response = await _status(api, order_id, who, status, **extra)
        assert response.status_code == 200, (status, response.text)
        assert response.json()["order"]["status"] == status

    details = (await api.get(f"/api/orders/{order_id}", headers=buyer)).json()["order"]
    assert details["status"] == "completed"
    assert details["buyer"] == {"id": buyer_id, "name": "John Doe",
                                "email": f"{buyer_id}@example.com"}
    assert details["seller"]["storeName"] == "Alice's"
    assert details["items"][0]["quantity"] == 2
    assert details["items"][0]["unitPrice"] == exact(100)
    assert details["payment"]["method"] == method
    assert details["shipping"]["trackingNumber"] == "1Z999AA1234567890"
    assert details["shipping"]["estimatedDelivery"] == "2026-12-15"
    assert details["shipping"]["address"]["zipCode"] == "10001"
    assert [e["status"] for e in details["timeline"]] == [first] + [s for _, s, _ in steps]
    shipped = next(e for e in details["timeline"] if e["status"] == "shipped")
    assert shipped["description"] == "Package shipped via UPS"
    assert shipped["trackingNumber"] == "1Z999AA1234567890"

    timeline = (await api.get(f"/api/orders/{order_id}/timeline", headers=seller)).json()
    assert timeline["timeline"][4]["metadata"]["carrier"] == "UPS"
    assert timeline["timeline"][4]["source"] == "seller"
    history = (await api.get(f"/api/orders/{order_id}/history", headers=seller)).json()
    assert [(h["previousStatus"], h["newStatus"]) for h in history["history"]][:2] == [
        (None, first), (first, "order_confirmed")]
    assert history["history"][-1]["actor"] == "buyer"

    notes = (await api.get("/api/notifications", headers=buyer)).json()["notifications"]
    kinds = {n["type"] for n in notes if n["orderId"] == order_id}
    assert {"order_created", "order_shipped", "order_completed"} <= kinds
    seller_notes = (await api.get("/api/notifications", headers=seller)).json()["notifications"]
    assert "new_order" in {n["type"] for n in seller_notes}


async def test_a_retried_post_returns_the_same_order(api, session_db):
    buyer_id, seller_id, listing = await _people(api, session_db)
    body = checkout_body(buyer_id=buyer_id, seller_id=seller_id, listing_id=listing)
    responses = await asyncio.gather(*(api.post("/api/orders", json=body,
                                                headers=bearer(buyer_id)) for _ in range(3)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["order"]["id"] for r in responses}) == 1
    stock = (await api.get(f"/api/listings/{listing}", headers=bearer(buyer_id))).json()
    assert stock["listing"]["inventory"] == 8


async def test_an_unavailable_listing_is_refused_and_refunded(api, session_db):
    buyer_id, seller_id, _ = await _people(api, session_db)
    body = checkout_body(buyer_id=buyer_id, seller_id=seller_id, listing_id=unique("gone"),
                         method="fiat")
    response = await api.post("/api/orders", json=body, headers=bearer(buyer_id))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "LISTING_UNAVAILABLE"
    assert problem["canRetry"] is False and problem["refund"] == "initiated"
    reference = body["paymentResult"]["paymentIntentId"]

    async def ledger():
        async with session_db.reader.connect() as conn:
            return (await conn.execute(select(t.payment_operations).where(
                t.payment_operations.c.payment_reference == reference))).all()

    rows = await eventually(ledger)
    assert [(r.kind, r.status) for r in rows] == [("refund", "succeeded")]


async def test_insufficient_inventory_and_wrong_amount_have_their_codes(api, session_db):
    buyer_id, seller_id, listing = await _people(api, session_db)
    short = checkout_body(buyer_id=buyer_id, seller_id=seller_id, listing_id=listing,
                          quantity=11, total=1100)
    wrong = checkout_body(buyer_id=buyer_id, seller_id=seller_id, listing_id=listing,
                          total="150.5")
    r1 = await api.post("/api/orders", json=short, headers=bearer(buyer_id))
    r2 = await api.post("/api/orders", json=wrong, headers=bearer(buyer_id))
    assert (r1.status_code, r1.json()["code"]) == (409, "INSUFFICIENT_INVENTORY")
    assert (r2.status_code, r2.json()["code"]) == (422, "AMOUNT_MISMATCH")


async def test_health_reports_both_dependencies(api):
    response = await api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "temporal": "ok"}


async def test_a_status_change_retried_with_its_idempotency_key_gets_the_first_answer(
    api, session_db
):
    buyer_id, seller_id, listing = await _people(api, session_db)
    created = await api.post("/api/orders", headers=bearer(buyer_id), json=checkout_body(
        buyer_id=buyer_id, seller_id=seller_id, listing_id=listing))
    order_id = created.json()["order"]["id"]
    seller = bearer(seller_id)
    keyed = {**seller, "Idempotency-Key": "confirm-1"}
    first = await _status(api, order_id, keyed, "order_confirmed")
    retry = await _status(api, order_id, keyed, "order_confirmed")
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    unkeyed = await _status(api, order_id, seller, "order_confirmed")
    assert unkeyed.status_code == 409  # without the key, the repeat is a new, invalid change
    history = (await api.get(f"/api/orders/{order_id}/history", headers=seller)).json()
    assert [h["newStatus"] for h in history["history"]] == ["escrow_locked", "order_confirmed"]
    bad = await _status(api, order_id, {**seller, "Idempotency-Key": "no spaces"}, "processing")
    assert bad.status_code == 422


async def test_notifications_count_unread_and_can_be_marked_read(api, session_db):
    buyer_id, seller_id, listing = await _people(api, session_db)
    await api.post("/api/orders", headers=bearer(buyer_id), json=checkout_body(
        buyer_id=buyer_id, seller_id=seller_id, listing_id=listing))
    inbox = (await api.get("/api/notifications", headers=bearer(buyer_id))).json()
    assert inbox["unreadCount"] == 1 and inbox["notifications"][0]["read"] is False
    note_id = inbox["notifications"][0]["id"]
    stranger = await api.post(f"/api/notifications/{note_id}/read", headers=bearer("someone"))
    assert stranger.status_code == 404
    for _ in range(2):  # marking twice is fine
        read = await api.post(f"/api/notifications/{note_id}/read", headers=bearer(buyer_id))
        assert read.json() == {"success": True, "unreadCount": 0}
    unread = (await api.get("/api/notifications?unread=true", headers=bearer(buyer_id))).json()
    assert unread["notifications"] == [] and unread["unreadCount"] == 0


@pytest.mark.parametrize("method, field", [("crypto", "transactionHash"),
                                           ("escrow", "escrowId")])
async def test_a_chain_reference_in_another_case_is_the_same_payment_and_the_same_order(
        api, session_db, method, field):
    buyer_id, seller_id, listing = await _people(api, session_db, currency_for(method))
    reference = "0x" + "AbCdEf0123456789" * 4
    body = checkout_body(buyer_id=buyer_id, seller_id=seller_id, listing_id=listing,
                         method=method)
    body["paymentResult"][field] = reference
    first = await api.post("/api/orders", json=body, headers=bearer(buyer_id))
    assert first.status_code == 201, first.text
    body["paymentResult"][field] = reference.lower()
    again = await api.post("/api/orders", json=body, headers=bearer(buyer_id))
    assert again.json()["order"]["id"] == first.json()["order"]["id"], again.text
    details = (await api.get(f"/api/orders/{first.json()['order']['id']}",
                             headers=bearer(buyer_id))).json()["order"]
    key = "transactionHash" if method == "crypto" else "escrowId"
    assert details["payment"][key] == reference.lower()
