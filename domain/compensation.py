"""Money and stock follow the status (DESIGN §3): what an order owes when it changes. Pure."""

from __future__ import annotations

from decimal import Decimal

from domain.commands import MoneyDue
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
) -> list[MoneyDue]:
    """What moving from `previous` to `target` owes, in the order it should be paid.

    `settled_externally`: the money already moved (an escrow contract event), so no gateway
    call is owed, only the stock. Stock goes back only for parcels that never left.
    """
    owed: list[MoneyDue] = []
    paid = previous is not S.PAYMENT_PENDING
    if target in (S.CANCELLED, S.FAILED) and not shipped:
        owed.append(MoneyDue("restore_inventory", reason))
    if settled_externally:
        return owed
    if target is S.CANCELLED and paid:
        owed.insert(0, MoneyDue("refund", reason))
    elif target is S.REFUNDED:
        owed.insert(0, MoneyDue("refund", reason, refund_amount))
    elif target is S.COMPLETED and method is PaymentMethod.ESCROW:
        owed.append(MoneyDue("release", reason))
    return owed
