"""The order status machine (DESIGN §3): statuses, transitions and who may cause them.

Pure: standard library only, no clock (callers pass `now`), so the sandboxed workflow and the
API share one set of rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import DomainError, ErrorCode


class OrderStatus(StrEnum):
    PAYMENT_PENDING = "payment_pending"
    PAYMENT_CONFIRMED = "payment_confirmed"
    ESCROW_LOCKED = "escrow_locked"
    ORDER_CONFIRMED = "order_confirmed"
    PROCESSING = "processing"
    READY_TO_SHIP = "ready_to_ship"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    DISPUTED = "disputed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    FAILED = "failed"


class PaymentMethod(StrEnum):
    CRYPTO = "crypto"
    FIAT = "fiat"
    ESCROW = "escrow"


class ActorKind(StrEnum):
    """How the caller relates to the order (a relation, not a global role). SYSTEM is the
    service itself (timers, verified events) or an integration acting through its scopes."""

    BUYER = "buyer"
    SELLER = "seller"
    OPERATOR = "operator"
    SYSTEM = "system"


S = OrderStatus

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PAYMENT_PENDING: frozenset({S.PAYMENT_CONFIRMED, S.ESCROW_LOCKED, S.CANCELLED, S.FAILED}),
    S.PAYMENT_CONFIRMED: frozenset({S.ORDER_CONFIRMED, S.CANCELLED, S.REFUNDED}),
    S.ESCROW_LOCKED: frozenset({S.ORDER_CONFIRMED, S.DISPUTED, S.CANCELLED}),
    S.ORDER_CONFIRMED: frozenset({S.PROCESSING, S.CANCELLED}),
    S.PROCESSING: frozenset({S.READY_TO_SHIP, S.CANCELLED}),
    S.READY_TO_SHIP: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.IN_TRANSIT, S.DELIVERED}),
    S.IN_TRANSIT: frozenset({S.OUT_FOR_DELIVERY, S.DELIVERED}),
    S.OUT_FOR_DELIVERY: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.DISPUTED}),
    S.DISPUTED: frozenset({S.COMPLETED, S.REFUNDED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
    S.FAILED: frozenset(),
}

FINAL_STATUSES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)

_BASE_FLOW = (
    S.ORDER_CONFIRMED,
    S.PROCESSING,
    S.READY_TO_SHIP,
    S.SHIPPED,
    S.IN_TRANSIT,
    S.DELIVERED,
    S.COMPLETED,
)

# Statuses before the parcel leaves: a seller may still cancel from these.
_BEFORE_SHIPPING = frozenset(
    {S.PAYMENT_PENDING, S.PAYMENT_CONFIRMED, S.ESCROW_LOCKED, S.ORDER_CONFIRMED, S.PROCESSING,
     S.READY_TO_SHIP}
)
# Statuses before fulfilment starts: a buyer may still change their mind.
_BEFORE_PROCESSING = frozenset({S.PAYMENT_PENDING, S.PAYMENT_CONFIRMED, S.ESCROW_LOCKED,
                                S.ORDER_CONFIRMED})

SELLER_TARGETS = frozenset({S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP, S.SHIPPED,
                            S.CANCELLED})
# What an integration may report through the API (a carrier's shipping progress; its token's
# scopes narrow it further, api/permissions.py). Payment, escrow, completion and failure come
# from verified provider and chain events and from timers, which never ask this.
CARRIER_TARGETS = frozenset({S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED})
# Before scopes (0.2.0) a `system` token could also PUT these. The workflow's update handler,
# which is replayed, still allows them, so orders that accepted such an update replay as they
# ran; its validator, which is never replayed, holds new updates to CARRIER_TARGETS.
SYSTEM_TARGETS_BEFORE_SCOPES = CARRIER_TARGETS | {S.PAYMENT_CONFIRMED, S.ESCROW_LOCKED,
                                                  S.COMPLETED, S.DISPUTED, S.FAILED}


def flow_for(method: PaymentMethod) -> tuple[OrderStatus, ...]:
    """The happy path of an order paid with `method`, from its first status to completion."""
    first = S.ESCROW_LOCKED if method is PaymentMethod.ESCROW else S.PAYMENT_CONFIRMED
    return (first, *_BASE_FLOW)


def initial_status(method: PaymentMethod, payment_final: bool) -> OrderStatus:
    """Where a new order starts: the first step of its flow, or pending while payment settles."""
    return flow_for(method)[0] if payment_final else S.PAYMENT_PENDING


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in TRANSITIONS[current]


def actor_may(
    actor: ActorKind,
    current: OrderStatus,
    target: OrderStatus,
    *,
    delivered_at: datetime | None = None,
    now: datetime | None = None,
    dispute_window: timedelta | None = None,
    replaying_rules: bool = False,
) -> bool:
    """Whether `actor` may move an order from `current` to `target` (the table in DESIGN §3).

    Assumes the transition itself is allowed; `check_transition` tests both.
    `replaying_rules`: the rules updates accepted before 0.2.0 were checked with.
    """
    if actor is ActorKind.SYSTEM:
        return target in (SYSTEM_TARGETS_BEFORE_SCOPES if replaying_rules else CARRIER_TARGETS)
    if actor is ActorKind.SELLER:
        if target is S.CANCELLED:
            return current in _BEFORE_SHIPPING
        return target in SELLER_TARGETS
    if actor is ActorKind.BUYER:
        if target is S.CANCELLED:
            return current in _BEFORE_PROCESSING
        if target is S.COMPLETED:
            return current is S.DELIVERED
        if target is S.DISPUTED:
            if current is S.ESCROW_LOCKED:
                return True
            return current is S.DELIVERED and _within_window(delivered_at, now, dispute_window)
        return False
    # Operators resolve disputes, cancel with a reason and refund confirmed payments.
    if target is S.REFUNDED:
        return current in (S.DISPUTED, S.PAYMENT_CONFIRMED)
    if target is S.COMPLETED:
        return current is S.DISPUTED
    return target is S.CANCELLED


def _within_window(
    delivered_at: datetime | None, now: datetime | None, window: timedelta | None
) -> bool:
    if delivered_at is None or now is None or window is None:
        return False
    return now <= delivered_at + window


def check_transition(
    actor: ActorKind,
    current: OrderStatus,
    target: OrderStatus,
    *,
    tracking_number: str | None = None,
    delivered_at: datetime | None = None,
    now: datetime | None = None,
    dispute_window: timedelta | None = None,
    replaying_rules: bool = False,
) -> None:
    """Raise a DomainError unless `actor` may move the order from `current` to `target` now."""
    if not can_transition(current, target):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"cannot move an order from {current} to {target}",
            current_status=current,
        )
    if not actor_may(actor, current, target, delivered_at=delivered_at, now=now,
                     dispute_window=dispute_window, replaying_rules=replaying_rules):
        raise DomainError(
            ErrorCode.FORBIDDEN,
            f"a {actor} may not move this order from {current} to {target}",
            current_status=current,
        )
    if target is S.SHIPPED and actor is not ActorKind.SYSTEM and not tracking_number:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "a tracking number is required to ship",
                          field="trackingNumber")
