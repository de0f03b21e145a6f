"""What the order page offers each reader (web/offers.py), read as a table: the steps the API
would take from them at each status, and nothing else; and the demo sign-in's one rule."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from api.auth import Principal, Role
from oms.settings import Settings
from tests.unit.test_settings import PUBLIC_API
from web.offers import Offer, offers

Act = Offer
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)
BUYER, SELLER = Principal("b1", Role.USER), Principal("s1", Role.USER)
OPERATOR, SUPPORT = Principal("ops", Role.OPERATOR), Principal("help", Role.SUPPORT)
STRANGER = Principal("someone", Role.USER)


def order(status: str, *, delivered_days_ago: float | None = None, refunded: str = "0",
          total: str = "200.00") -> dict:
    delivered = (None if delivered_days_ago is None
                 else (NOW - timedelta(days=delivered_days_ago)).isoformat())
    return {"status": status, "buyer": {"id": "b1"}, "seller": {"id": "s1"},
            "totalAmount": total, "shipping": {"deliveredAt": delivered},
            "refunds": [{"amount": refunded}] if refunded != "0" else []}


def offered(who: Principal, details: dict) -> set[Offer]:
    return set(offers(who, details, now=NOW, dispute_window=WINDOW))


@pytest.mark.parametrize(("who", "status", "expected"), [
    (SELLER, "payment_pending", {Act.CANCEL}),
    (SELLER, "payment_confirmed", {Act.CONFIRM, Act.CANCEL, Act.REFUND}),
    (SELLER, "order_confirmed", {Act.PROCESS, Act.CANCEL, Act.REFUND}),
    (SELLER, "processing", {Act.READY, Act.CANCEL, Act.REFUND}),
    (SELLER, "ready_to_ship", {Act.SHIP, Act.CANCEL, Act.REFUND}),
    (SELLER, "shipped", {Act.REFUND}),
    (SELLER, "completed", set()),
    (BUYER, "payment_confirmed", {Act.CANCEL}),
    (BUYER, "escrow_locked", {Act.CANCEL, Act.DISPUTE}),
    (BUYER, "order_confirmed", {Act.CANCEL}),
    (BUYER, "processing", set()),
    (BUYER, "ready_to_ship", set()),
    (BUYER, "shipped", set()),
    (OPERATOR, "ready_to_ship", {Act.SHIP, Act.CANCEL, Act.REFUND}),
    (OPERATOR, "disputed", {Act.RESOLVE, Act.CANCEL, Act.REFUND}),
    (OPERATOR, "delivered", {Act.REFUND}),
    (SUPPORT, "disputed", set()),
    (SUPPORT, "ready_to_ship", set()),
    (STRANGER, "ready_to_ship", set()),
])
def test_each_reader_is_offered_what_the_api_would_take_from_them(who, status, expected):
    assert offered(who, order(status)) == expected


def test_a_buyer_may_dispute_a_delivered_order_only_within_the_window():
    assert offered(BUYER, order("delivered", delivered_days_ago=2)) == {
        Act.CONFIRM_RECEIPT, Act.DISPUTE}
    assert offered(BUYER, order("delivered", delivered_days_ago=8)) == {Act.CONFIRM_RECEIPT}


def test_nothing_is_offered_to_refund_once_all_of_it_was():
    assert Act.REFUND not in offered(SELLER, order("shipped", refunded="200.00"))
    assert Act.REFUND in offered(SELLER, order("shipped", refunded="150.00"))


def test_a_seller_buying_from_themselves_acts_as_the_seller():
    # As api/permissions.actor_for decides: the seller relation is looked at first.
    details = {**order("ready_to_ship"), "buyer": {"id": "s1"}}
    assert Act.SHIP in offered(SELLER, details)


def test_demo_sign_in_is_refused_beyond_loopback(monkeypatch):
    for key, value in {**PUBLIC_API, "OMS_WEB_DEMO_SIGN_IN": "true"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="OMS_WEB_DEMO_SIGN_IN"):
        Settings(_env_file=None)
    monkeypatch.setenv("OMS_WEB_DEMO_SIGN_IN", "false")
    assert not Settings(_env_file=None).web_demo_sign_in
