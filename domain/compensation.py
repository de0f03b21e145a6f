"""Money and stock follow the status (DESIGN §3): what an order owes when it changes. Pure."""

from __future__ import annotations

from decimal import Decimal

from domain.commands import Owed, OwedKind
from domain.order import OrderStatus, PaymentMethod

S = OrderStatus


def compensations(
    previous: OrderStatus,
    target: OrderStatus,
    *,
    method: PaymentMethod,
    shipped: bool,
    settled_externally: bool = False,
    refund_amount: Decimal | None = None,
    reason: str,
) -> list[Owed]:
    """What moving from `previous` to `target` owes, in the order it should be paid.

    `settled_externally`: the money already moved (an escrow contract event), so no gateway
    call is owed, only the stock. Stock goes back only for parcels that never left.
    """
    owed: list[Owed] = []
    paid = previous is not S.PAYMENT_PENDING
    if target in (S.CANCELLED, S.FAILED) and not shipped:
        owed.append(Owed(OwedKind.RESTOCK, reason))
    if settled_externally:
        return owed
    if target is S.CANCELLED and paid:
        owed.insert(0, Owed(OwedKind.REFUND, reason))
    elif target is S.REFUNDED:
        owed.insert(0, Owed(OwedKind.REFUND, reason, refund_amount))
    elif target is S.COMPLETED and method is PaymentMethod.ESCROW:
        owed.append(Owed(OwedKind.RELEASE, reason))
    return owed
