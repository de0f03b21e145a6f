"""Which deadline an order is waiting for, given its status and policy (DESIGN §4). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.commands import OrderPolicy
from domain.order import OrderStatus

S = OrderStatus


class TimerAction(StrEnum):
    PAYMENT_TIMEOUT = "payment_timeout"  # -> failed
    SELLER_CONFIRMATION_TIMEOUT = "seller_confirmation_timeout"  # -> cancelled + refund
    STUCK_ORDER = "stuck_order"  # alert, repeats while stuck
    STUCK_SHIPMENT = "stuck_shipment"  # alert, repeats while undelivered
    AUTO_COMPLETE = "auto_complete"  # -> completed (+ escrow release)
    DISPUTE_UNRESOLVED = "dispute_unresolved"  # alert to operators, repeats


ALERT_ACTIONS = frozenset(
    {TimerAction.STUCK_ORDER, TimerAction.STUCK_SHIPMENT, TimerAction.DISPUTE_UNRESOLVED}
)
_FULFILMENT = frozenset({S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP})
_SHIPPING = frozenset({S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY})


@dataclass(frozen=True)
class Deadline:
    at: datetime
    action: TimerAction


def next_deadline(
    status: OrderStatus,
    *,
    status_since: datetime,
    shipped_at: datetime | None,
    policy: OrderPolicy,
    alerts_raised: int,
) -> Deadline | None:
    """The next thing that happens to an order if nobody acts, or None for final orders.

    `alerts_raised` counts the alerts already raised in the current status (or, while shipping,
    since the parcel left): each repeat comes `stuck_alert_repeat` after the previous one.
    """
    repeat = policy.stuck_alert_repeat * alerts_raised
    if status is S.PAYMENT_PENDING:
        return Deadline(status_since + policy.payment_timeout, TimerAction.PAYMENT_TIMEOUT)
    if status in (S.PAYMENT_CONFIRMED, S.ESCROW_LOCKED):
        return Deadline(status_since + policy.seller_confirmation_timeout,
                        TimerAction.SELLER_CONFIRMATION_TIMEOUT)
    if status in _FULFILMENT:
        return Deadline(status_since + policy.stuck_alert_after + repeat, TimerAction.STUCK_ORDER)
    if status in _SHIPPING:
        since = shipped_at or status_since
        return Deadline(since + policy.shipment_stuck_after + repeat, TimerAction.STUCK_SHIPMENT)
    if status is S.DELIVERED:
        return Deadline(status_since + policy.dispute_window, TimerAction.AUTO_COMPLETE)
    if status is S.DISPUTED:
        return Deadline(status_since + policy.dispute_unresolved_after + repeat,
                        TimerAction.DISPUTE_UNRESOLVED)
    return None
