"""Who may do what, and what bad input gets: a 4xx with a stable code, never a 500."""

from __future__ import annotations

import json

import pytest

from api.auth import Role, mint_token
from tests.conftest import JWT_SECRET, bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")


@pytest.fixture
async def order(api, session_db):
    """A fresh escrow order: (order id, buyer id, seller id)."""
    buyer_id, seller_id = unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller_id)
    response = await api.post("/api/orders", headers=bearer(buyer_id), json=checkout_body(
        buyer_id=buyer_id, seller_id=seller_id, listing_id=listing))
    assert response.status_code == 201, response.text
    return response.json()["order"]["id"], buyer_id, seller_id


def _problem(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert {"type", "title", "status", "detail", "message", "canRetry",
            "suggestedAction"} <= body.keys()
    return body


# ---- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic dXNlcjpwYXNz"},
     {"Authorization": f"Bearer {mint_token('another-secret-0123456789abcdef0123', 'u1')}"},
     {"Authorization": "Bearer " + mint_token(JWT_SECRET, "u1").rsplit(".", 1)[0] + ".forged"}],
)
async def test_missing_or_bad_tokens_are_401(api, order, headers):
    order_id, _, _ = order
    _problem(await api.get(f"/api/orders/{order_id}", headers=headers), 401, "UNAUTHORIZED")


async def test_an_expired_token_is_401(api, order):
    from datetime import timedelta

    token = mint_token(JWT_SECRET, order[1], ttl=timedelta(seconds=-1))
    response = await api.get(f"/api/orders/{order[0]}",
                             headers={"Authorization": f"Bearer {token}"})
    assert "expired" in _problem(response, 401, "UNAUTHORIZED")["detail"]


# ---- who sees and changes what -------------------------------------------------------------


async def test_nobody_sees_an_order_that_is_not_theirs(api, order):
    order_id, buyer_id, seller_id = order
    stranger = bearer(unique("stranger"))
    for path in ("", "/timeline", "/history"):
        _problem(await api.get(f"/api/orders/{order_id}{path}", headers=stranger), 404,
                 "NOT_FOUND")
        for who in (bearer(buyer_id), bearer(seller_id), bearer("ops", Role.OPERATOR)):
            assert (await api.get(f"/api/orders/{order_id}{path}", headers=who)).status_code == 200
    response = await api.put(f"/api/orders/{order_id}/status", headers=stranger,
                             json={"status": "cancelled"})
    _problem(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(("action", "body"), [
    ("cancel", {"reasonCode": "buyer_request"}),
    ("dispute", {"reason": "never arrived"}),
    ("dispute/resolve", {"outcome": "refund", "note": "refunded", "amount": "1.00"}),
])
async def test_nobody_acts_on_an_order_that_is_not_theirs(api, order, action, body):
    order_id, _, _ = order
    response = await api.post(f"/api/orders/{order_id}/{action}", json=body,
                              headers=bearer(unique("stranger")))
    _problem(response, 404, "NOT_FOUND")


async def test_an_unknown_order_is_404_like_a_hidden_one(api):
    response = await api.get("/api/orders/00000000-0000-0000-0000-000000000000",
                             headers=bearer("ops", Role.OPERATOR))
    _problem(response, 404, "NOT_FOUND")


async def test_a_buyer_cannot_ship_or_confirm(api, order):
    order_id, buyer_id, seller_id = order
    buyer = bearer(buyer_id)
    body = _problem(await api.put(f"/api/orders/{order_id}/status", headers=buyer,
                                  json={"status": "order_confirmed"}), 403, "FORBIDDEN")
    assert body["currentStatus"] == "escrow_locked"
    for status in ("order_confirmed", "processing", "ready_to_ship"):
        r = await api.put(f"/api/orders/{order_id}/status", headers=bearer(seller_id),
                          json={"status": status})
        assert r.status_code == 200
    _problem(await api.put(f"/api/orders/{order_id}/status", headers=buyer,
                           json={"status": "shipped", "trackingNumber": "1Z999AA1"}),
             403, "FORBIDDEN")


async def test_shipping_needs_a_tracking_number(api, order):
    order_id, _, seller_id = order
    seller = bearer(seller_id)
    for status in ("order_confirmed", "processing", "ready_to_ship"):
        await api.put(f"/api/orders/{order_id}/status", headers=seller, json={"status": status})
    body = _problem(await api.put(f"/api/orders/{order_id}/status", headers=seller,
                                  json={"status": "shipped"}), 422, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] == "trackingNumber"


async def test_an_invalid_transition_is_409_with_the_current_status(api, order):
    order_id, _, seller_id = order
    body = _problem(await api.put(f"/api/orders/{order_id}/status", headers=bearer(seller_id),
                                  json={"status": "delivered"}), 409, "INVALID_TRANSITION")
    assert body["currentStatus"] == "escrow_locked"


async def test_a_final_order_cannot_move(api, order):
    order_id, buyer_id, _ = order
    cancel = await api.put(f"/api/orders/{order_id}/status", headers=bearer(buyer_id),
                           json={"status": "cancelled", "reason": "buyer_request"})
    assert cancel.status_code == 200

    async def refused():  # the workflow closes once its last handler is done
        again = await api.put(f"/api/orders/{order_id}/status", headers=bearer(buyer_id),
                              json={"status": "cancelled"})
        assert again.status_code == 409, again.text
        return again

    again = await eventually(refused)
    assert _problem(again, 409, "INVALID_TRANSITION")["currentStatus"] == "cancelled"


async def test_a_buyer_may_only_order_for_themselves(api, session_db):
    seller_id = unique("seller")
    listing = await seed_listing(session_db, seller_id=seller_id)
    body = checkout_body(buyer_id=unique("victim"), seller_id=seller_id, listing_id=listing)
    _problem(await api.post("/api/orders", json=body, headers=bearer(unique("me"))), 403,
             "FORBIDDEN")


async def test_only_operators_change_users_and_sellers_only_their_listings(api):
    user = bearer(unique("u"))
    _problem(await api.put("/api/users/x1", json={"name": "A", "email": "a@b.co"},
                           headers=user), 403, "FORBIDDEN")
    listing = {"sellerId": "s-other", "title": "T", "unitPrice": "1.00", "currency": "USD",
               "inventory": 1}
    _problem(await api.put("/api/listings/l-x", json=listing, headers=user), 403, "FORBIDDEN")
    mine = bearer("s-mine")
    ok = await api.put("/api/listings/l-mine", json={**listing, "sellerId": "s-mine"},
                       headers=mine)
    assert ok.status_code == 200 and ok.json()["listing"]["unitPrice"] == "1.00"
    _problem(await api.put("/api/listings/l-mine", json=listing, headers=bearer("s-other")),
             403, "FORBIDDEN")


# ---- bad input at the edge -----------------------------------------------------------------


def _checkout(**overrides):
    body = checkout_body(buyer_id="b-edge", seller_id="s-edge", listing_id="l-edge")
    for path, value in overrides.items():
        target = body
        *parents, leaf = path.split(".")
        for p in parents:
            target = target[p]
        if value is _DROP:
            target.pop(leaf)
        else:
            target[leaf] = value
    return body


_DROP = object()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"checkoutData.totalAmount": "1e3"}, "checkoutData.totalAmount"),
        ({"checkoutData.totalAmount": "NaN"}, "checkoutData.totalAmount"),
        ({"checkoutData.totalAmount": "-200"}, "checkoutData.totalAmount"),
        ({"checkoutData.totalAmount": "200.0000001"}, "checkoutData"),
        ({"checkoutData.totalAmount": "0"}, "checkoutData"),
        ({"checkoutData.totalAmount": " 200"}, "checkoutData.totalAmount"),
        ({"checkoutData.quantity": 0}, "checkoutData.quantity"),
        ({"checkoutData.quantity": "2"}, "checkoutData.quantity"),
        ({"checkoutData.quantity": 2.5}, "checkoutData.quantity"),
        ({"checkoutData.currency": "DOGE"}, "checkoutData.currency"),
        ({"checkoutData.surprise": 1}, "checkoutData.surprise"),
        ({"paymentResult.escrowId": _DROP}, "paymentResult"),
        ({"paymentResult.transactionHash": "0xabc123..."}, "paymentResult.transactionHash"),
        ({"checkoutData.buyerId": "b edge; drop"}, "checkoutData.buyerId"),
    ],
)
async def test_malformed_orders_are_422_and_start_nothing(api, overrides, field):
    body = _checkout(**overrides)
    problem = _problem(await api.post("/api/orders", json=body, headers=bearer("b-edge")), 422,
                       "VALIDATION_ERROR")
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem["errors"]


async def test_a_json_number_in_exponent_form_is_refused(api):
    raw = json.dumps(_checkout()).replace('"totalAmount": 200', '"totalAmount": 2e2')
    assert "2e2" in raw
    response = await api.post("/api/orders", content=raw, headers={
        **bearer("b-edge"), "content-type": "application/json"})
    _problem(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("raw", ['{"a": 1, "a": 2}', '{"x": NaN}', "{not json", "[1, 2"])
async def test_unparseable_or_ambiguous_json_is_422(api, raw):
    response = await api.post("/api/orders", content=raw, headers={
        **bearer("b-edge"), "content-type": "application/json"})
    _problem(response, 422, "VALIDATION_ERROR")


async def test_a_bad_shipping_address_has_its_own_code(api):
    body = _checkout(**{"checkoutData.shippingAddress.country": "United States"})
    problem = _problem(await api.post("/api/orders", json=body, headers=bearer("b-edge")), 422,
                       "INVALID_SHIPPING_ADDRESS")
    assert problem["errors"][0]["field"] == "checkoutData.shippingAddress.country"


async def test_an_unconfirmed_payment_is_refused(api):
    body = _checkout(**{"paymentResult.success": False})
    _problem(await api.post("/api/orders", json=body, headers=bearer("b-edge")), 422,
             "PAYMENT_NOT_CONFIRMED")


async def test_an_oversized_body_is_413(api):
    body = _checkout(**{"checkoutData.notes": "x" * 70_000})
    _problem(await api.post("/api/orders", json=body, headers=bearer("b-edge")), 413,
             "PAYLOAD_TOO_LARGE")


async def test_unknown_status_and_fields_on_status_change_are_422(api, order):
    order_id, _, seller_id = order
    for body in ({"status": "teleported"}, {"status": "order_confirmed", "extra": 1},
                 {"status": "shipped", "trackingNumber": "has spaces in it"}):
        _problem(await api.put(f"/api/orders/{order_id}/status", json=body,
                               headers=bearer(seller_id)), 422, "VALIDATION_ERROR")


async def test_a_malformed_order_id_is_422_not_500(api):
    response = await api.get("/api/orders/not-a-uuid", headers=bearer("x"))
    _problem(response, 422, "VALIDATION_ERROR")
