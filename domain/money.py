"""Exact money: amounts are Decimal, parsed from plain ASCII text, with a scale per currency."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Smallest unit each currency is settled in. Card currencies in cents; stablecoins and chain
# assets capped at 8 places, the precision the order tables store (DECIMAL(18,8) in the spec).
CURRENCY_SCALE: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "USDC": 6,
    "USDT": 6,
    "DAI": 8,
    "ETH": 8,
    "BTC": 8,
}
# What a card processor settles: the fiat currencies above.
CARD_CURRENCIES = frozenset({"USD", "EUR", "GBP"})
_QUANTUM = {currency: Decimal(1).scaleb(-scale) for currency, scale in CURRENCY_SCALE.items()}

# ASCII digits only: `\d` would admit other scripts' digits, and Decimal() alone admits
# exponents, underscores, NaN and surrounding whitespace.
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,18}(\.[0-9]{1,18})?")
MAX_AMOUNT = Decimal("10000000000")  # 1e10: far above any single order, far below overflow


class MoneyError(ValueError):
    pass


def parse_amount(value: object) -> Decimal:
    """A non-negative amount from a JSON string, integer or exact decimal; never from a float."""
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError("amount must be a decimal string or an exact number")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError("amount must be a finite number")
        # A JSON number in exponent form (1e3) arrives as Decimal('1E+3'): reject the notation;
        # str() of any other Decimal is its plain digits, checked below like a string.
        text = str(value)
        if "E" in text.upper():
            raise MoneyError("amount must not use exponent notation")
    elif isinstance(value, str):
        text = value
    else:
        raise MoneyError("amount must be a decimal string or an exact number")
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise MoneyError("amount must be plain decimal digits like 199.99")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards this
        raise MoneyError("amount is not a number") from exc
    if amount > MAX_AMOUNT:
        raise MoneyError("amount is too large")
    return amount


def check_scale(amount: Decimal, currency: str) -> Decimal:
    """`amount` if it has no more decimal places than `currency` allows."""
    scale = CURRENCY_SCALE.get(currency)
    if scale is None:
        raise MoneyError(f"unsupported currency {currency!r}")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > scale:
        raise MoneyError(f"{currency} amounts have at most {scale} decimal places")
    return amount


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` written with exactly the currency's number of places."""
    return amount.quantize(_QUANTUM[currency])


def to_wire(amount: Decimal, currency: str) -> str:
    return format(quantize(amount, currency), "f")


def to_minor_units(amount: Decimal, currency: str) -> int:
    """`amount` in the currency's smallest unit (cents for USD), exactly; an amount finer than
    that unit, negative or not finite is refused rather than rounded."""
    if not amount.is_finite() or amount < 0:
        raise MoneyError("amount must be a finite, non-negative number")
    if amount > MAX_AMOUNT:  # beyond it Decimal's 28 digits could round the result
        raise MoneyError("amount is too large")
    check_scale(amount, currency)
    return int(amount.scaleb(CURRENCY_SCALE[currency]))


def from_minor_units(units: int, currency: str) -> Decimal:
    """An amount in major units (dollars) from the currency's smallest unit, exactly."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise MoneyError("minor units must be an integer")
    scale = CURRENCY_SCALE.get(currency)
    if scale is None:
        raise MoneyError(f"unsupported currency {currency!r}")
    return quantize(Decimal(units).scaleb(-scale), currency)
