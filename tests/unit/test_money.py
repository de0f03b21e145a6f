from decimal import Decimal

import pytest

from domain.money import MoneyError, check_scale, parse_amount, to_wire


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("200", Decimal("200")), ("199.99", Decimal("199.99")), (200, Decimal("200")),
     (Decimal("0.000001"), Decimal("0.000001")), ("0", Decimal("0"))],
)
def test_plain_amounts_parse_exactly(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["1e3", "NaN", "Infinity", "-5", " 1.5", "1_000", "١٢٣", "1.", ".5", "", "0x10", 1.5, True,
     Decimal("1E+3"), Decimal("NaN"), None, "12345678901234567890"],
)
def test_anything_else_is_refused(raw):
    with pytest.raises(MoneyError):
        parse_amount(raw)


def test_scale_is_checked_per_currency():
    assert check_scale(Decimal("19.99"), "USD") == Decimal("19.99")
    assert check_scale(Decimal("19.990000"), "USD") == Decimal("19.99")  # trailing zeros are fine
    with pytest.raises(MoneyError):
        check_scale(Decimal("19.999"), "USD")
    assert check_scale(Decimal("1.123456"), "USDC")
    with pytest.raises(MoneyError):
        check_scale(Decimal("1.1234567"), "USDC")
    with pytest.raises(MoneyError):
        check_scale(Decimal("1"), "XYZ")


def test_amounts_leave_with_the_currency_scale():
    assert to_wire(Decimal("200"), "USDC") == "200.000000"
    assert to_wire(Decimal("39.9"), "USD") == "39.90"
