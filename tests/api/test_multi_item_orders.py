"""Orders of several items through the HTTP API: the checkout's two forms, the rejections,
and every view of an order (details, lists, search, CSV) showing all of its items."""

from __future__ import annotations

import csv
import io

import pytest

from api.auth import Role
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")
OPS = bearer("ops-items", Role.OPERATOR)


async def _shop(api, session_db):
    buyer, seller = unique("buyer"), unique("seller")
    for user_id, name in ((buyer, "Ann Able"), (seller, "Sam Seller")):
        assert (await api.put(f"/api/users/{user_id}", headers=OPS, json={
            "name": name, "email": f"{user_id}@example.com"})).status_code == 200
    headphones = await seed_listing(session_db, seller_id=seller, price="100", inventory=5)
    case = await seed_listing(session_db, seller_id=seller, price="25.5", inventory=5,
                              title="Leather Case")
    return buyer, seller, headphones, case


def _cart(buyer, seller, items, total):
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id="unused", total=total)
    data = body["checkoutData"]
    del data["listingId"], data["quantity"]
    data["items"] = [{"listingId": listing, "quantity": q} for listing, q in items]
    return body


async def _stock(api, listing):
    return (await api.get(f"/api/listings/{listing}", headers=OPS)).json()["listing"][
        "inventory"]


async def test_an_order_of_two_items_shows_both_everywhere(api, session_db):
    buyer, seller, headphones, case = await _shop(api, session_db)
    created = await api.post("/api/orders", headers=bearer(buyer), json=_cart(
        buyer, seller, [(headphones, 2), (case, 1)], "225.5"))
    assert created.status_code == 201, created.text
    order = created.json()["order"]
    assert order["totalAmount"] == "225.500000"
    assert order["estimatedDelivery"] is not None
    # The tracking URL is a path the API serves, to the order's buyer.
    assert (await api.get(order["trackingUrl"], headers=bearer(buyer))).status_code == 200

    details = (await api.get(f"/api/orders/{order['id']}", headers=bearer(seller))).json()
    assert [(i["listingId"], i["productName"], i["quantity"], i["unitPrice"], i["totalPrice"])
            for i in details["order"]["items"]] == [
        (headphones, "Wireless Headphones", 2, "100.000000", "200.000000"),
        (case, "Leather Case", 1, "25.500000", "25.500000")]
    assert [await _stock(api, x) for x in (headphones, case)] == [3, 4]

    listed = (await api.get(f"/api/orders/seller/{seller}", headers=bearer(seller))).json()
    [line] = listed["orders"]
    assert line["itemCount"] == 3
    assert [(i["productName"], i["quantity"]) for i in line["items"]] == [
        ("Wireless Headphones", 2), ("Leather Case", 1)]

    found = await eventually(lambda: _search(api, buyer, "leather"))
    assert [o["id"] for o in found] == [order["id"]]

    export = await api.get(f"/api/orders/seller/{seller}/export.csv", headers=bearer(seller))
    [row] = list(csv.DictReader(io.StringIO(export.text)))
    assert (row["itemCount"], row["items"]) == (
        "3", "2 x Wireless Headphones; 1 x Leather Case")


async def _search(api, who, q):
    return (await api.get(f"/api/orders/search?q={q}", headers=bearer(who))).json()[
        "orders"] or None


async def test_a_cancelled_cart_gives_every_item_its_stock_back(api, session_db):
    buyer, seller, headphones, case = await _shop(api, session_db)
    created = await api.post("/api/orders", headers=bearer(buyer), json=_cart(
        buyer, seller, [(headphones, 1), (case, 4)], "202"))
    assert created.status_code == 201, created.text
    cancelled = await api.post(f"/api/orders/{created.json()['order']['id']}/cancel",
                               headers=bearer(buyer), json={"reasonCode": "buyer_request"})
    assert cancelled.status_code == 200, cancelled.text

    async def restored():
        stock = [await _stock(api, x) for x in (headphones, case)]
        return stock if stock == [5, 5] else None

    assert await eventually(restored) == [5, 5]


async def test_a_cart_short_of_one_item_is_refused_and_takes_nothing(api, session_db):
    buyer, seller, headphones, case = await _shop(api, session_db)
    short = await api.post("/api/orders", headers=bearer(buyer), json=_cart(
        buyer, seller, [(headphones, 1), (case, 6)], "253"))
    assert (short.status_code, short.json()["code"]) == (409, "INSUFFICIENT_INVENTORY")
    assert "Leather Case" in short.json()["detail"]
    wrong = await api.post("/api/orders", headers=bearer(buyer), json=_cart(
        buyer, seller, [(headphones, 1), (case, 1)], "125"))
    assert (wrong.status_code, wrong.json()["code"]) == (422, "AMOUNT_MISMATCH")
    assert [await _stock(api, x) for x in (headphones, case)] == [5, 5]


@pytest.mark.parametrize("change", [
    lambda data: data.update(listingId="x1", quantity=1),  # both forms at once
    lambda data: data.update(items=[]),
    lambda data: data.update(items=[{"listingId": "x1", "quantity": 1}] * 2),  # twice
    lambda data: data.update(items=[{"listingId": f"x{i}", "quantity": 1}
                                    for i in range(51)]),
    lambda data: data.update(items=[{"listingId": "x1", "quantity": 0}]),
    lambda data: data.update(items=[{"listingId": "x1"}]),
    lambda data: data.pop("items"),  # neither form
])
async def test_a_malformed_cart_is_a_validation_error(api, change):
    body = _cart("buyer-v", "seller-v", [("x1", 1)], "100")
    change(body["checkoutData"])
    response = await api.post("/api/orders", headers=bearer("buyer-v"), json=body)
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR"), (
        response.text)
