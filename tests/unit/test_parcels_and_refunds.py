"""The pure rules of parcels and partial refunds (domain/parcels.py, domain/refunds.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.errors import DomainError, ErrorCode
from domain.order import ActorKind, OrderStatus
from domain.parcels import (
    Fulfilment,
    Parcel,
    ParcelLine,
    ShipParcelRequest,
    check_parcel,
    fulfilment,
    order_steps,
    unshipped,
)
from domain.refunds import Refund, RefundLine, RefundRequest, check_refund, refundable

S = OrderStatus
AT = datetime(2026, 12, 1, tzinfo=UTC)
ORDERED = {"a": 2, "b": 1}


def parcel(tracking: str, status: OrderStatus, *lines: tuple[str, int]) -> Parcel:
    return Parcel(tracking_number=tracking, carrier="UPS", status=status, shipped_at=AT,
                  lines=[ParcelLine(x, q) for x, q in lines])


@pytest.mark.parametrize(("current", "statuses", "steps"), [
    (S.READY_TO_SHIP, [S.SHIPPED], []),  # the case is not shipped yet
    (S.READY_TO_SHIP, [S.SHIPPED, S.DELIVERED], [S.SHIPPED]),
    (S.SHIPPED, [S.DELIVERED, S.IN_TRANSIT], [S.IN_TRANSIT]),
    (S.SHIPPED, [S.DELIVERED, S.DELIVERED], [S.DELIVERED]),  # shipped -> delivered is a step
    (S.SHIPPED, [S.OUT_FOR_DELIVERY, S.DELIVERED], [S.IN_TRANSIT, S.OUT_FOR_DELIVERY]),
    (S.IN_TRANSIT, [S.SHIPPED, S.DELIVERED], []),  # never backwards
    (S.DISPUTED, [S.DELIVERED, S.DELIVERED], []),
])
def test_the_order_follows_its_least_advanced_parcel(current, statuses, steps):
    if len(statuses) == 1:
        parcels = [parcel("P1", statuses[0], ("a", 2))]
    else:
        parcels = [parcel("P1", statuses[0], ("a", 2)), parcel("P2", statuses[1], ("b", 1))]
    assert order_steps(current, ORDERED, parcels) == steps


def test_fulfilment_says_what_the_status_does_not():
    one = parcel("P1", S.DELIVERED, ("a", 2))
    assert fulfilment(ORDERED, []) is None
    assert fulfilment(ORDERED, [one]) is Fulfilment.PARTIALLY_SHIPPED
    two = parcel("P2", S.IN_TRANSIT, ("b", 1))
    assert fulfilment(ORDERED, [one, two]) is Fulfilment.PARTIALLY_DELIVERED
    assert fulfilment(ORDERED, [one, parcel("P2", S.DELIVERED, ("b", 1))]) is None
    assert unshipped(ORDERED, [one]) == {"b": 1}


def test_a_parcel_takes_what_is_left_or_what_it_names():
    request = ShipParcelRequest(actor_kind=ActorKind.SELLER, actor_id="s", tracking_number="P2")
    left = check_parcel(request, status=S.READY_TO_SHIP, ordered=ORDERED,
                        parcels=[parcel("P1", S.SHIPPED, ("a", 1))])
    assert left == [ParcelLine("a", 1), ParcelLine("b", 1)]
    for wrong, code in (
        (dict(actor_kind=ActorKind.BUYER), ErrorCode.FORBIDDEN),
        (dict(tracking_number="P1"), ErrorCode.VALIDATION_ERROR),
        (dict(lines=[ParcelLine("a", 2)]), ErrorCode.VALIDATION_ERROR),
    ):
        asked = ShipParcelRequest(**{"actor_kind": ActorKind.SELLER, "actor_id": "s",
                                     "tracking_number": "P2", **wrong})
        with pytest.raises(DomainError) as refused:
            check_parcel(asked, status=S.READY_TO_SHIP, ordered=ORDERED,
                         parcels=[parcel("P1", S.SHIPPED, ("a", 1))])
        assert refused.value.code is code
    with pytest.raises(DomainError) as early:
        check_parcel(request, status=S.PROCESSING, ordered=ORDERED, parcels=[])
    assert early.value.code is ErrorCode.INVALID_TRANSITION


def _refund(amount: str, *lines: tuple[str, int], at_settlement: bool = False) -> Refund:
    return Refund(refund_id=amount, amount=Decimal(amount), reason="r",
                  actor_kind=ActorKind.SELLER, actor_id="s", at=AT,
                  lines=[RefundLine(x, q) for x, q in lines], at_settlement=at_settlement)


def test_what_may_still_be_refunded_counts_every_refund():
    refunds = [_refund("50"), _refund("20.5", at_settlement=True)]
    assert refundable(Decimal(200), refunds, Decimal(30)) == Decimal("99.5")
    assert refundable(Decimal(100), refunds, Decimal(40)) == 0  # never below nothing


@pytest.mark.parametrize(("amount", "lines", "status", "code"), [
    ("10", (), S.PAYMENT_PENDING, ErrorCode.INVALID_TRANSITION),
    ("10", (), S.COMPLETED, ErrorCode.INVALID_TRANSITION),
    ("0", (), S.SHIPPED, ErrorCode.VALIDATION_ERROR),
    ("100.01", (), S.SHIPPED, ErrorCode.REFUND_EXCEEDS_PAYMENT),
    # Units are checked before the amount: the clearer reason wins.
    ("500", (("a", 2),), S.SHIPPED, ErrorCode.VALIDATION_ERROR),  # one of a refunded already
    ("1", (("c", 1),), S.SHIPPED, ErrorCode.VALIDATION_ERROR),
])
def test_a_refund_is_refused_with_its_reason(amount, lines, status, code):
    request = RefundRequest(refund_id="r9", actor_kind=ActorKind.SELLER, actor_id="s",
                            amount=Decimal(amount), reason="r",
                            lines=[RefundLine(x, q) for x, q in lines])
    with pytest.raises(DomainError) as refused:
        check_refund(request, status=status, left=Decimal(100), ordered=ORDERED,
                     refunds=[_refund("10", ("a", 1))])
    assert refused.value.code is code
