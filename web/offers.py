"""Which actions an order page offers its reader: exactly those the API would take from them.

Derived from the rules the API enforces, not restated: who the caller is to the order
(api/permissions.py), the status machine (domain/order.actor_may), who may ship and refund
(seller_or_operator, domain/refunds.REFUNDERS) and the operator's grant to resolve disputes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from api import permissions
from api.auth import Principal
from api.permissions import Grant
from domain.order import FINAL_STATUSES, ActorKind, OrderStatus, actor_may, can_transition
from domain.refunds import REFUNDERS

S = OrderStatus


class Offer(StrEnum):
    CONFIRM = "confirm"  # the seller accepts the order
    PROCESS = "process"
    READY = "ready"  # packed, ready to ship
    SHIP = "ship"  # a parcel with its tracking number
    CANCEL = "cancel"
    REFUND = "refund"  # part of the payment back
    CONFIRM_RECEIPT = "receipt"  # the buyer has it: completed
    DISPUTE = "dispute"
    RESOLVE = "resolve"  # an operator settles a dispute


# The offers that are a plain status change (PUT /status) and the status each asks for.
STATUS_STEPS: dict[Offer, OrderStatus] = {
    Offer.CONFIRM: S.ORDER_CONFIRMED,
    Offer.PROCESS: S.PROCESSING,
    Offer.READY: S.READY_TO_SHIP,
    Offer.CONFIRM_RECEIPT: S.COMPLETED,
}
# What a cancellation may give as its reason, by who cancels (the API's CancelReason).
CANCEL_REASONS: dict[ActorKind, tuple[str, ...]] = {
    ActorKind.BUYER: ("buyer_request", "other"),
    ActorKind.SELLER: ("seller_out_of_stock", "buyer_request", "other"),
    ActorKind.OPERATOR: ("fraud_suspected", "buyer_request", "seller_out_of_stock",
                         "payment_timeout", "other"),
}


def actor_of(user: Principal, order: dict[str, Any]) -> ActorKind | None:
    """Who `user` is to the order when it asks for a change (as permissions.actor_for decides),
    or None for a reader who may change nothing (support, an integration)."""
    if user.is_integration:
        return None
    if permissions.allows(user, Grant.MANAGE_ORDERS):
        return ActorKind.OPERATOR
    if permissions.is_self(user, order["seller"]["id"]):
        return ActorKind.SELLER
    if permissions.is_self(user, order["buyer"]["id"]):
        return ActorKind.BUYER
    return None


def offers(user: Principal, order: dict[str, Any], *, now: datetime,
           dispute_window: timedelta) -> list[Offer]:
    """The actions to show `user` on `order` (the API's OrderDetails), in workflow order."""
    actor = actor_of(user, order)
    if actor is None:
        return []
    status = S(order["status"])
    delivered = order["shipping"]["deliveredAt"]
    delivered_at = datetime.fromisoformat(delivered) if delivered else None

    def may(target: OrderStatus) -> bool:
        return can_transition(status, target) and actor_may(
            actor, status, target, delivered_at=delivered_at, now=now,
            dispute_window=dispute_window)

    found = [offer for offer, target in STATUS_STEPS.items()
             if offer is not Offer.CONFIRM_RECEIPT and may(target)]
    if status is S.READY_TO_SHIP and actor in (ActorKind.SELLER, ActorKind.OPERATOR):
        found.append(Offer.SHIP)
    if may(S.COMPLETED) and actor is ActorKind.BUYER:
        found.append(Offer.CONFIRM_RECEIPT)
    if may(S.DISPUTED):
        found.append(Offer.DISPUTE)
    if status is S.DISPUTED and permissions.allows(user, Grant.MANAGE_ORDERS):
        found.append(Offer.RESOLVE)
    if may(S.CANCELLED):
        found.append(Offer.CANCEL)
    if actor in REFUNDERS and _refundable(order, status):
        found.append(Offer.REFUND)
    return found


def _refundable(order: dict[str, Any], status: OrderStatus) -> bool:
    """Paid, not final, and something left to give back (domain/refunds.check_refund)."""
    if status is S.PAYMENT_PENDING or status in FINAL_STATUSES:
        return False
    refunded = sum((Decimal(r["amount"]) for r in order["refunds"] if r["amount"]), Decimal(0))
    return Decimal(order["totalAmount"] or 0) > refunded
