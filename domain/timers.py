"""Which deadline an order is waiting for, given its status and policy (DESIGN §4). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.commands import OrderPolicy
from domain.order import OrderStatus
from domain.statuses import StatusGroup, info

S = OrderStatus


class TimerAction(StrEnum):
    PAYMENT_TIMEOUT = "payment_timeout"
    SELLER_CONFIRMATION_TIMEOUT = "seller_confirmation_timeout"
    STUCK_ORDER = "stuck_order"
    STUCK_SHIPMENT = "stuck_shipment"
    AUTO_COMPLETE = "auto_complete"
    DISPUTE_UNRESOLVED = "dispute_unresolved"


@dataclass(frozen=True)
class TimerRule:
    """What a deadline does when nobody acted in time: move the order, or raise an alert."""

    outcome: OrderStatus | None  # None: an alert, repeated while the order stays put
    alerts_seller: bool = False  # the alert is the seller's to act on: notified and emailed


TIMER_RULES: dict[TimerAction, TimerRule] = {
    TimerAction.PAYMENT_TIMEOUT: TimerRule(S.FAILED),
    TimerAction.SELLER_CONFIRMATION_TIMEOUT: TimerRule(S.CANCELLED),  # and refunded
    TimerAction.STUCK_ORDER: TimerRule(None, alerts_seller=True),
    TimerAction.STUCK_SHIPMENT: TimerRule(None, alerts_seller=True),
    TimerAction.AUTO_COMPLETE: TimerRule(S.COMPLETED),  # and the escrow released
    TimerAction.DISPUTE_UNRESOLVED: TimerRule(None),  # operators' alert
}


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
    group = info(status).group
    if group is StatusGroup.AWAITING_PAYMENT:
        return Deadline(status_since + policy.payment_timeout, TimerAction.PAYMENT_TIMEOUT)
    if group is StatusGroup.AWAITING_SELLER:
        return Deadline(status_since + policy.seller_confirmation_timeout,
                        TimerAction.SELLER_CONFIRMATION_TIMEOUT)
    if group is StatusGroup.FULFILMENT:
        return Deadline(status_since + policy.stuck_alert_after + repeat, TimerAction.STUCK_ORDER)
    if group is StatusGroup.SHIPPING:
        since = shipped_at or status_since
        return Deadline(since + policy.shipment_stuck_after + repeat, TimerAction.STUCK_SHIPMENT)
    if group is StatusGroup.DELIVERED:
        return Deadline(status_since + policy.dispute_window, TimerAction.AUTO_COMPLETE)
    if group is StatusGroup.DISPUTED:
        return Deadline(status_since + policy.dispute_unresolved_after + repeat,
                        TimerAction.DISPUTE_UNRESOLVED)
    return None
