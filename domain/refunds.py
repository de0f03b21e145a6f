"""Partial refunds (DESIGN §3, "Refunds"): who may give money back, how much, and for what.

Pure. An order may be refunded in parts, several times, by its seller or an operator, while it
is paid and not final; never more in all than was paid. Card and crypto refunds go through the
provider at once; an escrow's refunds are owed to the buyer and paid in its final settlement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from domain.errors import DomainError, ErrorCode
from domain.order import FINAL_STATUSES, ActorKind, OrderStatus

# Who may refund part of an order: its seller (a goodwill credit, a broken item) and operators.
REFUNDERS = frozenset({ActorKind.SELLER, ActorKind.OPERATOR})
# The email both parties get for each partial refund (activities/email_templates.py).
REFUND_EMAIL = "partially_refunded"


@dataclass(frozen=True)
class RefundLine:
    """So many units of one of the order's listings given back."""

    listing_id: str
    quantity: int


@dataclass(frozen=True)
class RefundRequest:
    # Made by the API from the caller and the request's Idempotency-Key: a retry of the same
    # request carries the same id, and the order applies each id once.
    refund_id: str
    actor_kind: ActorKind
    actor_id: str
    amount: Decimal
    reason: str
    lines: list[RefundLine] = field(default_factory=list)


@dataclass(frozen=True)
class Refund:
    """A partial refund the order accepted."""

    refund_id: str
    amount: Decimal
    reason: str
    actor_kind: ActorKind
    actor_id: str
    at: datetime
    lines: list[RefundLine] = field(default_factory=list)
    # Escrow: owed to the buyer and paid in the final settlement, not at once.
    at_settlement: bool = False


@dataclass(frozen=True)
class RefundOutcome:
    refund: Refund
    status: OrderStatus  # the order's status once the refund was taken
    refunded: Decimal  # all the order's partial refunds, this one included
    refundable: Decimal  # what may still be refunded


def refundable(total: Decimal, refunds: list[Refund], refunded_outside: Decimal) -> Decimal:
    """What may still be given back: the total less every refund, ours and the provider's."""
    return max(total - sum((r.amount for r in refunds), Decimal(0)) - refunded_outside,
               Decimal(0))


def check_refund(request: RefundRequest, *, status: OrderStatus, left: Decimal,
                 ordered: dict[str, int], refunds: list[Refund]) -> None:
    """Raise a DomainError unless the order may take this refund now. `left` is what may still
    be refunded, `ordered` the units per listing."""
    if request.actor_kind not in REFUNDERS:
        raise DomainError(ErrorCode.FORBIDDEN, "only the seller or an operator may refund")
    if status is OrderStatus.PAYMENT_PENDING or status in FINAL_STATUSES:
        raise DomainError(ErrorCode.INVALID_TRANSITION,
                          f"an order that is {status} cannot be refunded in part",
                          current_status=status)
    if request.amount <= 0:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "a refund must be more than zero",
                          field="amount")
    given = units_refunded(refunds)
    for line in request.lines:
        if line.listing_id not in ordered:
            raise DomainError(ErrorCode.VALIDATION_ERROR,
                              f"listing {line.listing_id} is not in this order", field="items")
        still = ordered[line.listing_id] - given.get(line.listing_id, 0)
        if not 0 < line.quantity <= still:
            raise DomainError(ErrorCode.VALIDATION_ERROR,
                              f"{still} of listing {line.listing_id} may still be refunded",
                              field="items")
    if request.amount > left:
        raise DomainError(ErrorCode.REFUND_EXCEEDS_PAYMENT,
                          f"at most {left} may still be refunded on this order",
                          current_status=status, field="amount")


def units_refunded(refunds: list[Refund]) -> dict[str, int]:
    given: dict[str, int] = {}
    for refund in refunds:
        for line in refund.lines:
            given[line.listing_id] = given.get(line.listing_id, 0) + line.quantity
    return given


def owed_at_settlement(refunds: list[Refund]) -> Decimal:
    """What an escrow owes its buyer from partial refunds, paid when it is settled."""
    return sum((r.amount for r in refunds if r.at_settlement), Decimal(0))
