"""What a provider's answer means for an order, and exact minor units."""

from decimal import Decimal

import pytest

from domain.errors import ErrorCode
from domain.money import MoneyError, from_minor_units, to_minor_units
from domain.payments import Judgement, PaymentStatus, Verdict, VerifiedPayment, judge

ORDER = {"buyer_id": "buyer123", "total": Decimal("200.00"), "currency": "USD"}


def paid(**changes) -> VerifiedPayment:
    fields = {"provider_id": "pi_1", "status": PaymentStatus.SUCCEEDED, "amount": Decimal("200"),
              "currency": "USD", "payer": "buyer123", "provider_fee": Decimal("6.10")}
    return VerifiedPayment(**{**fields, **changes})


def test_a_succeeded_payment_by_the_buyer_for_the_total_pays_the_order():
    assert judge(paid(), **ORDER) == Judgement(Verdict.PAID)


def test_a_payment_still_processing_leaves_the_order_pending():
    judgement = judge(paid(status=PaymentStatus.PROCESSING), **ORDER)
    assert judgement.verdict is Verdict.PENDING and not judgement.refused


@pytest.mark.parametrize("status", [PaymentStatus.UNKNOWN, PaymentStatus.FAILED,
                                    PaymentStatus.INCOMPLETE])
def test_an_unknown_failed_or_unfinished_payment_is_not_confirmed(status):
    judgement = judge(paid(status=status), **ORDER)
    assert judgement.refused and judgement.code is ErrorCode.PAYMENT_NOT_CONFIRMED
    assert judgement.message


def test_an_unknown_reference_is_not_confirmed():
    judgement = judge(VerifiedPayment.unknown("pi_made_up"), **ORDER)
    assert (judgement.verdict, judgement.code) == (Verdict.REFUSED,
                                                   ErrorCode.PAYMENT_NOT_CONFIRMED)


@pytest.mark.parametrize("payer", [None, "", "buyer999"])
def test_a_payment_naming_no_buyer_or_another_buyer_is_not_confirmed(payer):
    judgement = judge(paid(payer=payer), **ORDER)
    assert judgement.refused and judgement.code is ErrorCode.PAYMENT_NOT_CONFIRMED


def test_another_buyers_payment_does_not_reveal_its_amount():
    judgement = judge(paid(payer="buyer999", amount=Decimal("5")), **ORDER)
    assert judgement.code is ErrorCode.PAYMENT_NOT_CONFIRMED
    assert "5" not in judgement.message


@pytest.mark.parametrize("changes", [{"amount": Decimal("199.99")}, {"amount": Decimal("200.01")},
                                     {"amount": None}, {"currency": "EUR"}, {"currency": None}])
def test_another_amount_or_currency_is_a_mismatch(changes):
    judgement = judge(paid(**changes), **ORDER)
    assert judgement.refused and judgement.code is ErrorCode.AMOUNT_MISMATCH


def test_a_processing_payment_for_another_amount_is_a_mismatch_not_pending():
    judgement = judge(paid(status=PaymentStatus.PROCESSING, amount=Decimal("1")), **ORDER)
    assert judgement.code is ErrorCode.AMOUNT_MISMATCH


def test_a_failed_payment_is_not_confirmed_whatever_its_amount():
    judgement = judge(paid(status=PaymentStatus.FAILED, amount=Decimal("1")), **ORDER)
    assert judgement.code is ErrorCode.PAYMENT_NOT_CONFIRMED


def test_trailing_zeros_do_not_make_a_mismatch():
    assert judge(paid(amount=Decimal("200.00")), **{**ORDER, "total": Decimal("200")}).verdict \
        is Verdict.PAID


@pytest.mark.parametrize(("amount", "currency", "units"),
                         [("200", "USD", 20000), ("199.99", "USD", 19999), ("0.01", "EUR", 1),
                          ("19.990000", "USD", 1999), ("1E+3", "USD", 100000),
                          ("0.000001", "USDC", 1), ("1.23456789", "ETH", 123456789),
                          ("0", "GBP", 0), ("10000000000", "USD", 1000000000000)])
def test_minor_units_are_exact(amount, currency, units):
    assert to_minor_units(Decimal(amount), currency) == units
    assert from_minor_units(units, currency) == Decimal(amount)


def test_major_units_are_written_with_the_currencys_places():
    assert str(from_minor_units(20000, "USD")) == "200.00"
    assert str(from_minor_units(1, "USDC")) == "0.000001"


@pytest.mark.parametrize(("amount", "currency"),
                         [("1.001", "USD"), ("0.0000001", "USDC"), ("-1", "USD"), ("NaN", "USD"),
                          ("Infinity", "USD"), ("10000000000.01", "USD"), ("1", "JPY")])
def test_amounts_the_currency_cannot_settle_are_refused_not_rounded(amount, currency):
    with pytest.raises(MoneyError):
        to_minor_units(Decimal(amount), currency)


@pytest.mark.parametrize(("units", "currency"), [(1.5, "USD"), (True, "USD"), ("100", "USD"),
                                                 (100, "JPY")])
def test_minor_units_are_integers_of_a_known_currency(units, currency):
    with pytest.raises(MoneyError):
        from_minor_units(units, currency)
