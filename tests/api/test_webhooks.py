"""Signed webhooks through the API against the running stack (worker, Temporal, database)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from api.auth import Role
from db import tables as t
from oms.settings import DEV_ESCROW_SECRET, DEV_SHIPPING_SECRET
from tests.conftest import bearer
from tests.factories import checkout_body, currency_for, seed_listing, unique
from tests.polling import eventually
from webhooks.signature import sign

pytestmark = pytest.mark.usefixtures("stack_worker")


async def post_signed(api, source, event, *, secret=None, at=None, raw=None):
    secret = secret or (DEV_SHIPPING_SECRET if source == "shipping" else DEV_ESCROW_SECRET)
    body = raw if raw is not None else json.dumps(event).encode()
    header = sign(secret, body, int(at if at is not None else time.time()))
    return await api.post(f"/api/webhooks/{source}", content=body,
                          headers={"X-OMS-Signature": header,
                                   "content-type": "application/json"})


def scan(order_id, status, event_id=None, **extra):
    return {"eventId": event_id or unique("evt"), "orderId": order_id, "status": status,
            "trackingNumber": "1Z999AA1234567890", "carrier": "UPS", "location": "Newark, NJ",
            "occurredAt": datetime.now(UTC).isoformat(), **extra}


async def new_order(api, session_db, method="fiat"):
    buyer, seller = unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller, currency=currency_for(method))
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method=method)
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    return created.json()["order"]["id"], buyer, seller, body


async def ready_to_ship(api, order_id, seller):
    for status in ("order_confirmed", "processing", "ready_to_ship"):
        r = await api.put(f"/api/orders/{order_id}/status", json={"status": status},
                          headers=bearer(seller))
        assert r.status_code == 200


async def order_state(api, order_id):
    response = await api.get(f"/api/orders/{order_id}", headers=bearer("ops", Role.OPERATOR))
    return response.json()["order"]


async def status_becomes(api, order_id, status):
    async def check():
        return (await order_state(api, order_id))["status"] == status
    return await eventually(check)


async def test_carrier_scans_move_the_order_and_fill_in_the_shipment(api, session_db):
    order_id, _, seller, _ = await new_order(api, session_db)
    await ready_to_ship(api, order_id, seller)
    accepted = await post_signed(api, "shipping", scan(order_id, "picked_up",
                                                       estimatedDelivery="2026-12-20"))
    assert accepted.status_code == 200
    assert accepted.json() == {"received": True, "status": "accepted"}  # by the workflow
    assert await status_becomes(api, order_id, "shipped")
    for status in ("in_transit", "out_for_delivery", "delivered"):
        assert (await post_signed(api, "shipping", scan(order_id, status))).status_code == 200
        assert await status_becomes(api, order_id, status)
    order = await order_state(api, order_id)
    assert order["shipping"]["trackingNumber"] == "1Z999AA1234567890"
    assert order["shipping"]["carrier"] == "UPS"
    assert order["shipping"]["estimatedDelivery"] == "2026-12-20"
    assert [e["source"] for e in order["timeline"]][-1] == "system"


async def test_a_duplicate_delivered_three_times_has_one_effect(api, session_db):
    order_id, _, seller, _ = await new_order(api, session_db)
    await ready_to_ship(api, order_id, seller)
    event = scan(order_id, "picked_up", event_id=unique("dup"))
    answers = [(await post_signed(api, "shipping", event)).json()["status"] for _ in range(3)]
    # A resend that beats the workflow's inbox write is signalled again; either way it is
    # acknowledged and applied once.
    assert answers[0] == "accepted" and set(answers) <= {"accepted", "duplicate"}
    assert await status_becomes(api, order_id, "shipped")

    async def inbox_rows():
        async with session_db.reader.connect() as conn:
            return (await conn.execute(select(t.webhook_events).where(
                t.webhook_events.c.event_id == event["eventId"]))).all()

    assert await eventually(inbox_rows)
    assert [r.status for r in await inbox_rows()] == ["accepted"]
    later = await post_signed(api, "shipping", event)
    assert later.json()["status"] == "duplicate"
    history = (await api.get(f"/api/orders/{order_id}/history", headers=bearer(seller))).json()
    assert [h["newStatus"] for h in history["history"]].count("shipped") == 1


async def test_a_late_scan_is_recorded_and_changes_nothing(api, session_db):
    order_id, _, seller, _ = await new_order(api, session_db)
    await ready_to_ship(api, order_id, seller)
    for status in ("picked_up", "delivered"):
        await post_signed(api, "shipping", scan(order_id, status))
        assert await status_becomes(api, order_id, status if status == "delivered"
                                    else "shipped")
    late = await post_signed(api, "shipping", scan(order_id, "in_transit", location="Memphis"))
    assert late.json()["status"] == "accepted"  # handed to the workflow, which only records it

    async def recorded():
        timeline = (await api.get(f"/api/orders/{order_id}/timeline",
                                  headers=bearer(seller))).json()["timeline"]
        return any(e["metadata"].get("kind") == "in_transit" for e in timeline)

    assert await eventually(recorded)
    assert (await order_state(api, order_id))["status"] == "delivered"


async def test_a_carrier_exception_raises_an_alert_not_a_move(api, session_db):
    order_id, _, seller, _ = await new_order(api, session_db)
    await ready_to_ship(api, order_id, seller)
    await post_signed(api, "shipping", scan(order_id, "picked_up"))
    assert await status_becomes(api, order_id, "shipped")
    await post_signed(api, "shipping", scan(order_id, "exception"))

    async def alerted():
        alerts = (await api.get("/api/alerts", headers=bearer(seller))).json()["alerts"]
        return [a for a in alerts if a["orderId"] == order_id]

    assert await eventually(alerted)
    assert (await alerted())[0]["kind"] == "shipping_exception"
    assert (await order_state(api, order_id))["status"] == "shipped"
    stranger = (await api.get("/api/alerts", headers=bearer(unique("other")))).json()
    assert all(a["orderId"] != order_id for a in stranger["alerts"])


async def test_an_escrow_event_that_beats_the_checkout_is_kept_and_applied(api, session_db):
    buyer, seller = unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method="escrow")
    escrow_id = body["paymentResult"]["escrowId"]
    early = {"eventId": unique("chain"), "type": "DisputeCreated", "escrowId": escrow_id,
             "disputeId": "d-1", "occurredAt": datetime.now(UTC).isoformat()}
    answer = await post_signed(api, "escrow", early)
    assert answer.json()["status"] == "pending"
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    order_id = created.json()["order"]["id"]
    assert await status_becomes(api, order_id, "disputed")
    again = await post_signed(api, "escrow", early)
    assert again.json()["status"] == "duplicate"


async def test_escrow_release_completes_without_a_second_release(api, session_db):
    order_id, _, seller, body = await new_order(api, session_db, method="escrow")
    await ready_to_ship(api, order_id, seller)
    for status in ("picked_up", "delivered"):
        await post_signed(api, "shipping", scan(order_id, status))
    assert await status_becomes(api, order_id, "delivered")
    released = {"eventId": unique("chain"), "type": "EscrowReleased", "orderId": order_id,
                "transactionHash": "0x" + "ab" * 32, "occurredAt": datetime.now(UTC).isoformat()}
    assert (await post_signed(api, "escrow", released)).json()["status"] == "accepted"
    assert await status_becomes(api, order_id, "completed")
    async with session_db.reader.connect() as conn:
        ledger = (await conn.execute(select(t.payment_operations).where(
            t.payment_operations.c.order_id == order_id))).all()
    assert ledger == []  # the contract already paid the seller


def _escrow_event(kind: str, **names) -> dict:
    return {"eventId": unique("chain"), "type": kind, "transactionHash": "0x" + "cd" * 32,
            "occurredAt": datetime.now(UTC).isoformat(), **names}


@pytest.mark.parametrize("method", ["fiat", "crypto"])
async def test_an_escrow_event_for_an_order_paid_otherwise_is_recorded_and_never_applied(
        api, session_db, method):
    order_id, _, _, _ = await new_order(api, session_db, method=method)
    event = _escrow_event("EscrowRefunded", orderId=order_id)
    answer = await post_signed(api, "escrow", event)
    assert answer.status_code == 200 and answer.json()["status"] == "rejected"
    assert (await post_signed(api, "escrow", event)).json()["status"] == "duplicate"
    async with session_db.reader.connect() as conn:
        row = (await conn.execute(select(t.webhook_events.c.status).where(
            t.webhook_events.c.event_id == event["eventId"]))).one()
    assert row.status == "rejected"
    assert (await order_state(api, order_id))["status"] == "payment_confirmed"


async def test_an_escrow_event_naming_another_orders_escrow_is_refused(api, session_db):
    order_id, _, _, _ = await new_order(api, session_db, method="escrow")
    _, _, _, other = await new_order(api, session_db, method="escrow")
    event = _escrow_event("DisputeCreated", orderId=order_id,
                          escrowId=other["paymentResult"]["escrowId"], disputeId="d-9")
    assert (await post_signed(api, "escrow", event)).json()["status"] == "rejected"
    assert (await order_state(api, order_id))["status"] == "escrow_locked"


@pytest.mark.parametrize(
    ("event", "status"),
    [({"eventId": "u1", "orderId": "00000000-0000-0000-0000-000000000000",
       "status": "in_transit"}, "unknown_order"),
     ({"eventId": "u2", "orderId": "00000000-0000-0000-0000-000000000000",
       "status": "teleported"}, "unknown_type")],
)
async def test_unknown_orders_and_types_are_acknowledged_and_recorded(api, session_db, event,
                                                                      status):
    event = {**event, "eventId": unique(event["eventId"]),
             "occurredAt": datetime.now(UTC).isoformat()}
    answer = await post_signed(api, "shipping", event)
    assert (answer.status_code, answer.json()["status"]) == (200, status)
    async with session_db.reader.connect() as conn:
        row = (await conn.execute(select(t.webhook_events).where(
            t.webhook_events.c.event_id == event["eventId"]))).one()
    assert row.status == status


async def _nothing_recorded(session_db, event_id):
    async with session_db.reader.connect() as conn:
        return (await conn.execute(select(t.webhook_events).where(
            t.webhook_events.c.event_id == event_id))).first() is None


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"secret": "wrong-secret-0123456789abcdef0123456789"}, "WEBHOOK_SIGNATURE_INVALID"),
     ({"at": time.time() - 301}, "WEBHOOK_TIMESTAMP_OUT_OF_RANGE"),
     ({"at": time.time() + 3600}, "WEBHOOK_TIMESTAMP_OUT_OF_RANGE")],
)
async def test_bad_signatures_and_stale_or_future_timestamps_are_refused(api, session_db,
                                                                         kwargs, code):
    event = scan("00000000-0000-0000-0000-000000000000", "in_transit")
    answer = await post_signed(api, "shipping", event, **kwargs)
    assert (answer.status_code, answer.json()["code"]) == (401, code)
    assert await _nothing_recorded(session_db, event["eventId"])


async def test_the_shipping_secret_does_not_sign_escrow_events(api, session_db):
    event = {"eventId": unique("x"), "type": "EscrowCreated", "escrowId": "e1",
             "occurredAt": datetime.now(UTC).isoformat()}
    answer = await post_signed(api, "escrow", event, secret=DEV_SHIPPING_SECRET)
    assert answer.status_code == 401


async def test_an_unsigned_webhook_is_refused(api):
    answer = await api.post("/api/webhooks/shipping", json={"eventId": "x"})
    assert (answer.status_code, answer.json()["code"]) == (401, "WEBHOOK_SIGNATURE_INVALID")


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b'{"eventId": "a", "eventId": "b"}',
     json.dumps({"eventId": "m1", "orderId": "not-a-uuid", "status": "in_transit",
                 "occurredAt": "2026-01-01T00:00:00Z"}).encode(),
     json.dumps({"eventId": "m2", "orderId": "00000000-0000-0000-0000-000000000000",
                 "status": "in_transit", "occurredAt": "2026-01-01T00:00:00"}).encode()],
)
async def test_a_malformed_but_signed_body_is_422_and_not_recorded(api, session_db, raw):
    answer = await post_signed(api, "shipping", None, raw=raw)
    assert (answer.status_code, answer.json()["code"]) == (422, "VALIDATION_ERROR")
    for event_id in ("a", "b", "m1", "m2"):
        assert await _nothing_recorded(session_db, event_id)
