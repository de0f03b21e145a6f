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
    total: Decimal | None = None,
    settle_fully: bool = True,
    owed_to_buyer: Decimal = Decimal(0),
    reason: str,
) -> list[Owed]:
    """What moving from `previous` to `target` owes, in the order it should be paid.

    `settled_externally`: the money already moved (an escrow contract event), so no gateway
    call is owed, only the stock. Stock goes back only for parcels that never left.

    `settle_fully` (orders started before 0.2.0 replay without it): a refunded order that never
    shipped gives its stock back too, and a partial refund of an escrow releases the rest of
    it to the seller, so nothing stays locked in the escrow once the order is final.

    `owed_to_buyer`: an escrow's partial refunds (domain/refunds.py), paid when it is settled:
    completing the order then pays them to the buyer and the rest to the seller.
    """
    owed: list[Owed] = []
    paid = previous is not S.PAYMENT_PENDING
    gives_stock_back = (S.CANCELLED, S.FAILED, S.REFUNDED) if settle_fully else (
        S.CANCELLED, S.FAILED)
    if target in gives_stock_back and not shipped:
        owed.append(Owed(OwedKind.RESTOCK, reason))
    if settled_externally:
        return owed
    if target is S.CANCELLED and paid:
        owed.insert(0, Owed(OwedKind.REFUND, reason))
    elif target is S.REFUNDED:
        refund = [Owed(OwedKind.REFUND, reason, refund_amount)]
        partial = refund_amount is not None and total is not None and refund_amount < total
        if settle_fully and partial and method is PaymentMethod.ESCROW:
            # One split settlement: the buyer gets the refund, the seller the remainder.
            refund.append(Owed(OwedKind.RELEASE, reason, total - refund_amount))
        owed[:0] = refund
    elif target is S.COMPLETED and method is PaymentMethod.ESCROW:
        if owed_to_buyer > 0 and total is not None:
            # One split settlement, as for a dispute resolved with a partial refund; all of it
            # owed to the buyer is a refund of the whole escrow, with nothing to release.
            owed.append(Owed(OwedKind.REFUND, reason, min(owed_to_buyer, total)))
            if owed_to_buyer < total:
                owed.append(Owed(OwedKind.RELEASE, reason, total - owed_to_buyer))
        else:
            owed.append(Owed(OwedKind.RELEASE, reason))
    return owed
