"""The status machine of DESIGN §3, checked pair by pair against the table as written there."""

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from domain.errors import DomainError, ErrorCode
from domain.order import (
    FINAL_STATUSES,
    ActorKind,
    OrderStatus,
    PaymentMethod,
    actor_may,
    can_transition,
    check_transition,
    flow_for,
    initial_status,
)

S = OrderStatus

# DESIGN §3, "Allowed transitions", copied by hand so the test does not read the code's table.
DESIGN_TABLE = {
    "payment_pending": {"payment_confirmed", "escrow_locked", "cancelled", "failed"},
    "payment_confirmed": {"order_confirmed", "cancelled", "refunded"},
    "escrow_locked": {"order_confirmed", "disputed", "cancelled"},
    "order_confirmed": {"processing", "cancelled"},
    "processing": {"ready_to_ship", "cancelled"},
    "ready_to_ship": {"shipped", "cancelled"},
    "shipped": {"in_transit", "delivered"},
    "in_transit": {"out_for_delivery", "delivered"},
    "out_for_delivery": {"delivered"},
    "delivered": {"completed", "disputed"},
    "disputed": {"completed", "refunded", "cancelled"},
    "completed": set(),
    "cancelled": set(),
    "refunded": set(),
    "failed": set(),
}


def test_there_are_exactly_fifteen_statuses_with_the_wire_names_of_the_spec():
    assert {s.value for s in OrderStatus} == set(DESIGN_TABLE)
    assert len(OrderStatus) == 15


@pytest.mark.parametrize(("current", "target"), list(product(OrderStatus, OrderStatus)))
def test_every_pair_follows_the_design_table(current, target):
    assert can_transition(current, target) == (target.value in DESIGN_TABLE[current.value])


def test_final_statuses_are_the_four_dead_ends():
    assert FINAL_STATUSES == {S.COMPLETED, S.CANCELLED, S.REFUNDED, S.FAILED}


@pytest.mark.parametrize("method", [PaymentMethod.CRYPTO, PaymentMethod.FIAT])
def test_crypto_and_fiat_start_confirmed_and_walk_the_base_flow(method):
    assert flow_for(method) == (S.PAYMENT_CONFIRMED, S.ORDER_CONFIRMED, S.PROCESSING,
                                S.READY_TO_SHIP, S.SHIPPED, S.IN_TRANSIT, S.DELIVERED,
                                S.COMPLETED)


def test_escrow_starts_locked():
    assert flow_for(PaymentMethod.ESCROW)[0] is S.ESCROW_LOCKED
    assert flow_for(PaymentMethod.ESCROW)[1:] == flow_for(PaymentMethod.FIAT)[1:]


@pytest.mark.parametrize("method", list(PaymentMethod))
def test_every_happy_path_is_made_of_allowed_steps(method):
    flow = flow_for(method)
    assert all(can_transition(a, b) for a, b in zip(flow, flow[1:], strict=False))


@pytest.mark.parametrize("method", list(PaymentMethod))
def test_an_unsettled_payment_starts_pending(method):
    assert initial_status(method, payment_final=False) is S.PAYMENT_PENDING
    assert initial_status(method, payment_final=True) is flow_for(method)[0]


# ---- who may cause what (DESIGN §3), for every actor and every target -----------------------

# For each (actor, target): the source statuses from which that actor may cause it, among the
# statuses the transition table allows. Written from the design's prose, one line per rule.
BEFORE_SHIPPING = {"payment_pending", "payment_confirmed", "escrow_locked", "order_confirmed",
                   "processing", "ready_to_ship"}
BEFORE_PROCESSING = {"payment_pending", "payment_confirmed", "escrow_locked", "order_confirmed"}
EVERY = set(DESIGN_TABLE)
EXPECTED_SOURCES = {
    ("seller", "order_confirmed"): EVERY,
    ("seller", "processing"): EVERY,
    ("seller", "ready_to_ship"): EVERY,
    ("seller", "shipped"): EVERY,
    ("seller", "cancelled"): BEFORE_SHIPPING,
    ("buyer", "cancelled"): BEFORE_PROCESSING,
    ("buyer", "disputed"): {"escrow_locked", "delivered"},  # delivered: within the window
    ("buyer", "completed"): {"delivered"},
    # Through the API an integration reports shipping only; payment, escrow, completion and
    # failure come from verified events and timers, which the workflow applies without asking.
    **{("system", t): EVERY for t in ("shipped", "in_transit", "out_for_delivery",
                                      "delivered")},
    ("operator", "completed"): {"disputed"},
    ("operator", "refunded"): {"disputed", "payment_confirmed"},
    ("operator", "cancelled"): EVERY,
}

DELIVERED_AT = datetime(2026, 1, 10, tzinfo=UTC)
WINDOW = timedelta(days=7)


@pytest.mark.parametrize(("actor", "target"), list(product(ActorKind, OrderStatus)))
def test_every_actor_and_target_pair_follows_the_design(actor, target):
    allowed_from = EXPECTED_SOURCES.get((actor.value, target.value), set())
    for current in OrderStatus:
        if not can_transition(current, target):
            continue
        got = actor_may(actor, current, target, delivered_at=DELIVERED_AT,
                        now=DELIVERED_AT + timedelta(days=1), dispute_window=WINDOW)
        assert got == (current.value in allowed_from), (actor, current, target)


def test_a_buyer_may_dispute_a_delivered_order_only_within_the_window():
    def may(now):
        return actor_may(ActorKind.BUYER, S.DELIVERED, S.DISPUTED, delivered_at=DELIVERED_AT,
                         now=now, dispute_window=WINDOW)

    assert may(DELIVERED_AT + WINDOW)
    assert not may(DELIVERED_AT + WINDOW + timedelta(seconds=1))


def test_check_transition_reports_invalid_transitions_before_permissions():
    with pytest.raises(DomainError) as err:
        check_transition(ActorKind.BUYER, S.ORDER_CONFIRMED, S.SHIPPED)
    assert err.value.code is ErrorCode.INVALID_TRANSITION
    assert err.value.current_status == "order_confirmed"


def test_a_buyer_cannot_ship():
    with pytest.raises(DomainError) as err:
        check_transition(ActorKind.BUYER, S.READY_TO_SHIP, S.SHIPPED, tracking_number="1Z999")
    assert err.value.code is ErrorCode.FORBIDDEN


def test_a_seller_must_give_a_tracking_number_to_ship():
    with pytest.raises(DomainError) as err:
        check_transition(ActorKind.SELLER, S.READY_TO_SHIP, S.SHIPPED)
    assert err.value.code is ErrorCode.VALIDATION_ERROR
    assert err.value.field == "trackingNumber"
    check_transition(ActorKind.SELLER, S.READY_TO_SHIP, S.SHIPPED, tracking_number="1Z999")


def test_updates_accepted_before_scopes_replay_with_the_rules_they_were_checked_with():
    # A system token could declare a pending order paid in 0.1.0; new ones cannot.
    assert not actor_may(ActorKind.SYSTEM, S.PAYMENT_PENDING, S.PAYMENT_CONFIRMED)
    assert actor_may(ActorKind.SYSTEM, S.PAYMENT_PENDING, S.PAYMENT_CONFIRMED,
                     replaying_rules=True)
    assert actor_may(ActorKind.SYSTEM, S.SHIPPED, S.IN_TRANSIT)
