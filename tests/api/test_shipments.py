"""Parcels through the HTTP API: an order of several items shipped in two parcels, each moved
by signed carrier webhooks in any order and repeated, the order delivered only once both are,
and each parcel's tracking (the specification's trackShipment)."""

from __future__ import annotations

import pytest

from api.auth import Role
from tests.api.test_webhooks import post_signed, ready_to_ship, scan, status_becomes
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")
OPS = bearer("ops-parcels", Role.OPERATOR)


async def _cart(api, session_db):
    """A paid crypto order of 2 headphones (100) and 1 case (25.5), ready to ship."""
    buyer, seller = unique("buyer"), unique("seller")
    headphones = await seed_listing(session_db, seller_id=seller, price="100")
    case = await seed_listing(session_db, seller_id=seller, price="25.5", title="Leather Case")
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id="x", method="crypto",
                         total="225.5")
    data = body["checkoutData"]
    del data["listingId"], data["quantity"]
    data["items"] = [{"listingId": headphones, "quantity": 2}, {"listingId": case, "quantity": 1}]
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    order_id = created.json()["order"]["id"]
    await ready_to_ship(api, order_id, seller)
    items = (await api.get(f"/api/orders/{order_id}", headers=OPS)).json()["order"]["items"]
    return order_id, buyer, seller, items


async def _ship(api, order_id, seller, tracking, items=None):
    body = {"trackingNumber": tracking, "carrier": "UPS"}
    if items is not None:
        body["items"] = items
    return await api.post(f"/api/orders/{order_id}/shipments", json=body, headers=bearer(seller))


def _parcel_scan(order_id, tracking, status, event_id=None):
    return scan(order_id, status, event_id, trackingNumber=tracking)


async def test_two_parcels_delivered_in_any_order_deliver_the_order_once_both_are(
        api, session_db):
    order_id, buyer, seller, (headphones, case) = await _cart(api, session_db)
    first = await _ship(api, order_id, seller, "1ZPARCEL0001",
                        [{"itemId": headphones["id"], "quantity": 2}])
    assert first.status_code == 201, first.text
    assert (first.json()["orderStatus"], first.json()["fulfilment"]) == (
        "ready_to_ship", "partially_shipped")
    assert [(i["productName"], i["quantity"]) for i in first.json()["shipment"]["items"]] == [
        ("Wireless Headphones", 2)]
    rest = await _ship(api, order_id, seller, "1ZPARCEL0002")  # what is left: the case
    assert rest.json()["orderStatus"] == "shipped"
    assert rest.json()["shipment"]["items"][0]["productName"] == "Leather Case"

    # The second parcel arrives first, and its delivery is sent twice.
    delivered_b = _parcel_scan(order_id, "1ZPARCEL0002", "delivered")
    for _ in range(2):
        answer = await post_signed(api, "shipping", delivered_b)
        assert answer.status_code == 200
    assert (await post_signed(api, "shipping", _parcel_scan(
        order_id, "1ZPARCEL0001", "in_transit"))).status_code == 200
    assert await status_becomes(api, order_id, "in_transit")

    async def partially_delivered():
        listed = (await api.get(f"/api/orders/{order_id}/shipments", headers=bearer(buyer)))
        return listed.json() if listed.json()["fulfilment"] == "partially_delivered" else None

    listed = await eventually(partially_delivered)
    assert [(s["trackingNumber"], s["status"]) for s in listed["shipments"]] == [
        ("1ZPARCEL0001", "in_transit"), ("1ZPARCEL0002", "delivered")]
    assert (await api.get(f"/api/orders/{order_id}", headers=OPS)).json()["order"][
        "status"] == "in_transit"

    await post_signed(api, "shipping", _parcel_scan(order_id, "1ZPARCEL0001", "delivered"))
    assert await status_becomes(api, order_id, "delivered")
    tracked = (await api.get(f"/api/orders/{order_id}/shipments/1ZPARCEL0002",
                             headers=bearer(seller))).json()["shipment"]
    assert tracked["status"] == "delivered" and tracked["deliveredAt"]
    assert sum("delivered" in e["description"].lower() for e in tracked["events"]) == 1
    assert all(e["location"] == "Newark, NJ" for e in tracked["events"][1:])


async def test_a_scan_for_no_parcel_of_the_order_is_refused_and_recorded(api, session_db):
    order_id, _, seller, _ = await _cart(api, session_db)
    assert (await _ship(api, order_id, seller, "1ZPARCEL0001")).status_code == 201
    refused = await post_signed(api, "shipping", _parcel_scan(order_id, "1ZNOTOURS999",
                                                              "delivered"))
    assert refused.json() == {"received": True, "status": "rejected"}
    order = (await api.get(f"/api/orders/{order_id}", headers=OPS)).json()["order"]
    assert order["status"] == "shipped"
    # Without a tracking number a scan is its one parcel's; with two parcels it is no one's.
    unnamed = {k: v for k, v in _parcel_scan(order_id, "-", "in_transit").items()
               if k != "trackingNumber"}
    answer = await post_signed(api, "shipping", unnamed)
    assert answer.json()["status"] == "accepted"
    assert await status_becomes(api, order_id, "in_transit")


async def test_a_scan_naming_no_parcel_of_an_order_of_two_is_refused(api, session_db):
    order_id, _, seller, (headphones, _) = await _cart(api, session_db)
    await _ship(api, order_id, seller, "1ZPARCEL0001",
                [{"itemId": headphones["id"], "quantity": 2}])
    await _ship(api, order_id, seller, "1ZPARCEL0002")
    unnamed = {k: v for k, v in _parcel_scan(order_id, "-", "delivered").items()
               if k != "trackingNumber"}
    assert (await post_signed(api, "shipping", unnamed)).json()["status"] == "rejected"


async def test_what_the_shipments_routes_refuse(api, session_db):
    order_id, buyer, seller, (headphones, _) = await _cart(api, session_db)
    as_buyer = await _ship(api, order_id, buyer, "1ZPARCEL0001")
    assert as_buyer.status_code == 403
    too_many = await _ship(api, order_id, seller, "1ZPARCEL0001",
                           [{"itemId": headphones["id"], "quantity": 3}])
    assert (too_many.status_code, too_many.json()["code"]) == (422, "VALIDATION_ERROR")
    foreign = await _ship(api, order_id, seller, "1ZPARCEL0001",
                          [{"itemId": "00000000-0000-0000-0000-000000000000", "quantity": 1}])
    assert (foreign.status_code, foreign.json()["code"]) == (422, "VALIDATION_ERROR")
    missing = await api.get(f"/api/orders/{order_id}/shipments/1ZNONE0000", headers=OPS)
    assert missing.status_code == 404
    other = await api.get(f"/api/orders/{order_id}/shipments", headers=bearer(unique("buyer")))
    assert other.status_code == 404
