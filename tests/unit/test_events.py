"""What each carrier and escrow event does to an order, for every status."""

from datetime import UTC, datetime

import pytest

from domain.events import EventSource, ExternalEvent, decide
from domain.order import OrderStatus as S

AT = datetime(2026, 1, 1, tzinfo=UTC)


def shipping(kind):
    return ExternalEvent(source=EventSource.SHIPPING, event_id="e1", kind=kind, occurred_at=AT)


def escrow(kind, outcome=None):
    return ExternalEvent(source=EventSource.ESCROW, event_id="e1", kind=kind, occurred_at=AT,
                         outcome=outcome)


SHIPPING_MOVES = {
    ("picked_up", S.READY_TO_SHIP): S.SHIPPED,
    ("in_transit", S.SHIPPED): S.IN_TRANSIT,
    ("out_for_delivery", S.IN_TRANSIT): S.OUT_FOR_DELIVERY,
    ("delivered", S.SHIPPED): S.DELIVERED,
    ("delivered", S.IN_TRANSIT): S.DELIVERED,
    ("delivered", S.OUT_FOR_DELIVERY): S.DELIVERED,
}


@pytest.mark.parametrize("kind", ["picked_up", "in_transit", "out_for_delivery", "delivered"])
@pytest.mark.parametrize("current", list(S))
def test_carrier_scans_move_orders_only_forward(kind, current):
    decision = decide(current, shipping(kind))
    assert decision.target == SHIPPING_MOVES.get((kind, current))
    assert decision.alert is None


def test_a_late_in_transit_after_delivery_changes_nothing():
    assert decide(S.DELIVERED, shipping("in_transit")).target is None
    assert decide(S.COMPLETED, shipping("delivered")).target is None


@pytest.mark.parametrize("kind", ["exception", "returned"])
@pytest.mark.parametrize("current", [S.SHIPPED, S.IN_TRANSIT, S.DELIVERED])
def test_exceptions_and_returns_alert_and_never_move(kind, current):
    decision = decide(current, shipping(kind))
    assert (decision.target, decision.alert) == (None, f"shipping_{kind}")


ESCROW_MOVES = {
    ("EscrowCreated", S.PAYMENT_PENDING): S.ESCROW_LOCKED,
    ("EscrowReleased", S.DELIVERED): S.COMPLETED,
    ("EscrowReleased", S.DISPUTED): S.COMPLETED,
    ("EscrowRefunded", S.PAYMENT_CONFIRMED): S.REFUNDED,
    ("EscrowRefunded", S.DISPUTED): S.REFUNDED,
    **{("EscrowRefunded", s): S.CANCELLED for s in (S.PAYMENT_PENDING, S.ESCROW_LOCKED,
                                                    S.ORDER_CONFIRMED, S.PROCESSING,
                                                    S.READY_TO_SHIP)},
    ("DisputeCreated", S.ESCROW_LOCKED): S.DISPUTED,
    ("DisputeCreated", S.DELIVERED): S.DISPUTED,
}


@pytest.mark.parametrize("kind", ["EscrowCreated", "EscrowReleased", "EscrowRefunded",
                                  "DisputeCreated"])
@pytest.mark.parametrize("current", list(S))
def test_escrow_events_move_orders_only_along_allowed_transitions(kind, current):
    decision = decide(current, escrow(kind))
    assert decision.target == ESCROW_MOVES.get((kind, current))
    moved_money = kind in ("EscrowReleased", "EscrowRefunded")
    assert decision.settled_externally == moved_money


@pytest.mark.parametrize(("outcome", "target"), [("release", S.COMPLETED),
                                                  ("refund", S.REFUNDED),
                                                  ("cancel", S.CANCELLED)])
def test_a_resolved_dispute_settles_as_the_contract_decided(outcome, target):
    decision = decide(S.DISPUTED, escrow("DisputeResolved", outcome))
    assert (decision.target, decision.settled_externally) == (target, True)
    assert decide(S.DELIVERED, escrow("DisputeResolved", outcome)).target is None
