"""Which deadline an order is waiting for, given its status and policy (DESIGN §4). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.commands import OrderPolicy
from domain.order import OrderStatus
from domain.parcels import Parcel
from domain.statuses import StatusGroup, info

S = OrderStatus


class TimerAction(StrEnum):
    PAYMENT_RECHECK = "payment_recheck"
    PAYMENT_TIMEOUT = "payment_timeout"
    SELLER_CONFIRMATION_TIMEOUT = "seller_confirmation_timeout"
    STUCK_ORDER = "stuck_order"
    STUCK_SHIPMENT = "stuck_shipment"
    AUTO_COMPLETE = "auto_complete"
    DISPUTE_UNRESOLVED = "dispute_unresolved"


@dataclass(frozen=True)
class TimerRule:
    """What a deadline does when nobody acted in time: move the order, or raise an alert."""

    outcome: OrderStatus | None  # None: an alert (or a question), repeated while it stays put
    alerts_seller: bool = False  # the alert is the seller's to act on: notified and emailed
    asks_provider: bool = False  # no alert: the payment's provider is asked again


TIMER_RULES: dict[TimerAction, TimerRule] = {
    # A payment still processing: paid (or failed) once the provider says so.
    TimerAction.PAYMENT_RECHECK: TimerRule(None, asks_provider=True),
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
    parcel: str | None = None  # the late parcel's tracking number, for a parcel's alert


def parcel_deadline(parcels: list[Parcel], policy: OrderPolicy) -> Deadline | None:
    """The first of an order's parcels to be late: each one not delivered
    `shipment_stuck_after` after it left raises its own alert, repeated every
    `stuck_alert_repeat` while it stays undelivered."""
    due = [Deadline(p.shipped_at + policy.shipment_stuck_after
                    + policy.stuck_alert_repeat * p.alerts, TimerAction.STUCK_SHIPMENT,
                    p.tracking_number)
           for p in parcels if p.status is not S.DELIVERED]
    return min(due, key=lambda d: d.at, default=None)


def next_deadline(
    status: OrderStatus,
    *,
    status_since: datetime,
    shipped_at: datetime | None,
    policy: OrderPolicy,
    alerts_raised: int,
    payment_checks: int | None = None,
) -> Deadline | None:
    """The next thing that happens to an order if nobody acts, or None for final orders.

    `alerts_raised` counts the alerts already raised in the current status (or, while shipping,
    since the parcel left): each repeat comes `stuck_alert_repeat` after the previous one.
    `payment_checks` counts how often the provider was asked again about a pending payment
    (one every `payment_recheck_interval`); None for orders that do not ask (started before
    0.2.0), which wait for the timeout.
    """
    repeat = policy.stuck_alert_repeat * alerts_raised
    group = info(status).group
    if group is StatusGroup.AWAITING_PAYMENT:
        timeout = Deadline(status_since + policy.payment_timeout, TimerAction.PAYMENT_TIMEOUT)
        if payment_checks is None:
            return timeout
        recheck = status_since + policy.payment_recheck_interval * (payment_checks + 1)
        return Deadline(recheck, TimerAction.PAYMENT_RECHECK) if recheck < timeout.at else timeout
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
