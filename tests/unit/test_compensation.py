from decimal import Decimal

import pytest

from domain.commands import OwedKind
from domain.compensation import compensations
from domain.order import OrderStatus as S
from domain.order import PaymentMethod as M


def kinds(previous, target, method=M.FIAT, shipped=False, **kw):
    return [(d.kind, d.amount) for d in compensations(previous, target, method=method,
                                                      shipped=shipped, reason="r", **kw)]


def test_cancelling_a_paid_unshipped_order_refunds_it_and_restocks():
    assert kinds(S.PROCESSING, S.CANCELLED) == [("refund", None), ("restock", None)]


def test_cancelling_before_payment_settled_restocks_without_refund():
    assert kinds(S.PAYMENT_PENDING, S.CANCELLED) == [("restock", None)]


def test_a_failed_payment_gives_the_stock_back():
    assert kinds(S.PAYMENT_PENDING, S.FAILED) == [("restock", None)]


def test_a_cancelled_dispute_after_shipping_refunds_but_does_not_restock():
    assert kinds(S.DISPUTED, S.CANCELLED, shipped=True) == [("refund", None)]


def test_a_partial_refund_carries_its_amount():
    assert kinds(S.DISPUTED, S.REFUNDED, shipped=True,
                 refund_amount=Decimal("50")) == [("refund", Decimal("50"))]


@pytest.mark.parametrize("method", list(M))
def test_completion_releases_escrow_only(method):
    expected = [("release", None)] if method is M.ESCROW else []
    assert kinds(S.DELIVERED, S.COMPLETED, method=method, shipped=True) == expected


def test_money_the_contract_already_moved_is_not_moved_again():
    assert kinds(S.DELIVERED, S.COMPLETED, method=M.ESCROW, shipped=True,
                 settled_externally=True) == []
    assert kinds(S.ESCROW_LOCKED, S.CANCELLED, method=M.ESCROW,
                 settled_externally=True) == [("restock", None)]


@pytest.mark.parametrize("target", [S.ORDER_CONFIRMED, S.SHIPPED, S.DELIVERED, S.DISPUTED])
def test_ordinary_progress_owes_nothing(target):
    assert kinds(S.PAYMENT_CONFIRMED, target) == []


def test_a_refund_before_shipping_gives_the_stock_back():
    # An escrow disputed while still locked and refunded never left the seller.
    assert kinds(S.DISPUTED, S.REFUNDED, method=M.ESCROW) == [("refund", None), ("restock", None)]
    assert kinds(S.PAYMENT_CONFIRMED, S.REFUNDED) == [("refund", None), ("restock", None)]


def test_a_partial_refund_of_an_escrow_releases_the_rest_to_the_seller():
    assert kinds(S.DISPUTED, S.REFUNDED, method=M.ESCROW, shipped=True,
                 refund_amount=Decimal("50"), total=Decimal("200")) == [
        ("refund", Decimal("50")), ("release", Decimal("150"))]


@pytest.mark.parametrize("method", [M.FIAT, M.CRYPTO])
def test_a_partial_refund_of_a_direct_payment_leaves_the_rest_with_the_seller(method):
    assert kinds(S.DISPUTED, S.REFUNDED, method=method, shipped=True,
                 refund_amount=Decimal("50"), total=Decimal("200")) == [("refund", Decimal("50"))]


def test_orders_started_before_full_settlement_keep_their_old_compensation():
    assert kinds(S.DISPUTED, S.REFUNDED, method=M.ESCROW, refund_amount=Decimal("50"),
                 total=Decimal("200"), settle_fully=False) == [("refund", Decimal("50"))]



def test_an_escrow_completed_with_partial_refunds_settles_in_one_split():
    assert kinds(S.DELIVERED, S.COMPLETED, M.ESCROW, shipped=True, total=Decimal(200),
                 owed_to_buyer=Decimal(40)) == [(OwedKind.REFUND, 40), (OwedKind.RELEASE, 160)]


def test_an_escrow_refunded_in_full_in_parts_releases_nothing():
    assert kinds(S.DELIVERED, S.COMPLETED, M.ESCROW, shipped=True, total=Decimal(200),
                 owed_to_buyer=Decimal(200)) == [(OwedKind.REFUND, 200)]
