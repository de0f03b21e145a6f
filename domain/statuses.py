"""Everything the service says or records about a status, one row per status. Pure.

A new status is one row here (and its transitions in domain/order.py): the timeline line, the
notification title, who is emailed, the read-model column it stamps and the group that timers,
alerts and metrics treat alike. `tests/unit/test_statuses.py` fails when a row is incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from domain.order import OrderStatus
from domain.payments import PaymentState

S = OrderStatus


class StatusGroup(StrEnum):
    """Statuses that deadlines, alerts and dashboards treat alike."""

    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_SELLER = "awaiting_seller"  # paid or locked, not yet confirmed by the seller
    FULFILMENT = "fulfilment"  # the seller is preparing the order: stuck-order alerts
    SHIPPING = "shipping"  # the parcel is on its way: stuck-shipment alerts
    DELIVERED = "delivered"  # the dispute window runs
    DISPUTED = "disputed"
    FINAL = "final"


class Party(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"


BUYER = (Party.BUYER,)
SELLER = (Party.SELLER,)
BOTH = (Party.BUYER, Party.SELLER)


@dataclass(frozen=True)
class Email:
    """An order email: its template (activities/email_templates.py) and who receives it."""

    template: str
    audience: tuple[Party, ...]


@dataclass(frozen=True)
class StatusInfo:
    group: StatusGroup
    description: str  # the timeline line for entering the status
    title: str  # the in-app notification's title
    email: Email | None  # sent on entering the status; None: no email
    stamps: str | None  # the read-model column set to the time the order entered the status
    # The payment state entering the status shows; None: the status leaves it as it is (money
    # moved by a refund or release changes it once the provider confirms the operation).
    payment_state: PaymentState | None = None


STATUSES: dict[OrderStatus, StatusInfo] = {
    S.PAYMENT_PENDING: StatusInfo(
        StatusGroup.AWAITING_PAYMENT, "Waiting for payment confirmation",
        "Waiting for payment", None, None, PaymentState.PENDING),
    S.PAYMENT_CONFIRMED: StatusInfo(
        StatusGroup.AWAITING_SELLER, "Payment confirmed", "Payment confirmed", None, None,
        PaymentState.CONFIRMED),
    S.ESCROW_LOCKED: StatusInfo(
        StatusGroup.AWAITING_SELLER, "Payment secured in escrow", "Payment secured in escrow",
        None, None, PaymentState.LOCKED),
    S.ORDER_CONFIRMED: StatusInfo(
        StatusGroup.FULFILMENT, "Order confirmed by seller", "Order confirmed",
        Email("order_confirmed", BUYER), None),
    S.PROCESSING: StatusInfo(
        StatusGroup.FULFILMENT, "Order is being prepared", "Order being prepared", None, None),
    S.READY_TO_SHIP: StatusInfo(
        StatusGroup.FULFILMENT, "Order is ready to ship", "Order ready to ship", None, None),
    S.SHIPPED: StatusInfo(
        StatusGroup.SHIPPING, "Package shipped", "Order shipped", Email("shipped", BUYER),
        "shipped_at"),
    S.IN_TRANSIT: StatusInfo(
        StatusGroup.SHIPPING, "Package in transit", "Package in transit", None, None),
    S.OUT_FOR_DELIVERY: StatusInfo(
        StatusGroup.SHIPPING, "Package out for delivery", "Package out for delivery", None,
        None),
    S.DELIVERED: StatusInfo(
        StatusGroup.DELIVERED, "Package delivered", "Order delivered",
        Email("delivered", BOTH), "actual_delivery_date"),
    S.COMPLETED: StatusInfo(
        StatusGroup.FINAL, "Order completed", "Order completed", Email("completed", BOTH),
        "completed_at"),
    S.DISPUTED: StatusInfo(
        StatusGroup.DISPUTED, "Order disputed", "Order disputed", Email("disputed", BOTH), None),
    S.CANCELLED: StatusInfo(
        StatusGroup.FINAL, "Order cancelled", "Order cancelled", Email("cancelled", BOTH),
        "cancelled_at"),
    S.REFUNDED: StatusInfo(
        StatusGroup.FINAL, "Payment refunded", "Order refunded", Email("refunded", BOTH), None),
    S.FAILED: StatusInfo(
        StatusGroup.FINAL, "Payment failed", "Payment failed", None, None, PaymentState.FAILED),
}


@dataclass(frozen=True)
class CreationNotice:
    """What a party is told when an order is placed: a notification and an email."""

    party: Party
    kind: str  # the notification's type and the email's template
    title: str
    message: str  # {n} is the order number


ON_CREATION = (
    CreationNotice(Party.BUYER, "order_created", "Order Confirmed",
                   "Your order {n} has been confirmed"),
    CreationNotice(Party.SELLER, "new_order", "New Order Received",
                   "You have a new order {n}"),
)


def info(status: OrderStatus) -> StatusInfo:
    return STATUSES[status]


@cache
def in_group(group: StatusGroup) -> frozenset[OrderStatus]:
    return frozenset(s for s, row in STATUSES.items() if row.group is group)


FULFILMENT = in_group(StatusGroup.FULFILMENT)
SHIPPING = in_group(StatusGroup.SHIPPING)


def describe(status: OrderStatus, carrier: str | None = None) -> str:
    """The timeline line for entering `status`; a new carrier is named when shipping."""
    if status is S.SHIPPED and carrier:
        return f"Package shipped via {carrier}"
    return STATUSES[status].description
