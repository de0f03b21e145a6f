"""`oms pay fiat`: pay at the configured Stripe (the dev stack's localstripe) as a checkout
would, so an order can be created with a real PaymentIntent id."""

from __future__ import annotations

import asyncio
import logging
import re
import sys

from domain.ids import REFERENCE_ID_PATTERN
from domain.money import CARD_CURRENCIES, MoneyError, check_scale, parse_amount
from domain.payments import PaymentStatus
from oms.settings import Settings
from payments.errors import PaymentProviderError
from payments.stripe_checkout import TestCard, pay_with_test_card
from payments.stripe_provider import StripeProvider

_CARDS = {"visa": TestCard.VISA, "declined": TestCard.DECLINED}


def pay_fiat(settings: Settings, *, buyer: str, amount: str, currency: str, card: str) -> int:
    """Prints the PaymentIntent id; a clear line on stderr and a non-zero code on bad input or
    an unreachable Stripe."""
    for chatty in ("stripe", "httpx"):  # a line per request; only the id belongs on screen
        logging.getLogger(chatty).setLevel(logging.WARNING)
    currency = currency.upper()
    try:
        if not re.fullmatch(REFERENCE_ID_PATTERN, buyer):
            raise ValueError(f"--buyer {buyer!r} is not a user id")
        if currency not in CARD_CURRENCIES:
            raise ValueError(f"--currency must be one of {', '.join(sorted(CARD_CURRENCIES))}")
        value = check_scale(parse_amount(amount), currency)
        if value <= 0:
            raise ValueError("--amount must be more than zero")
    except (MoneyError, ValueError) as err:
        print(f"oms pay fiat: {err}", file=sys.stderr)
        return 2
    try:
        payment_intent_id, status = asyncio.run(
            _pay(settings, buyer, value, currency, _CARDS[card]))
    except PaymentProviderError as err:
        hint = (f"; is the Stripe API at {settings.stripe_api_base} up (`make run`)?"
                if err.retryable else "")
        print(f"oms pay fiat: {err}{hint}", file=sys.stderr)
        return 1
    print(payment_intent_id)
    if status is not PaymentStatus.SUCCEEDED:
        print(f"oms pay fiat: the payment is {status}", file=sys.stderr)
    return 0


async def _pay(settings, buyer, amount, currency, card) -> tuple[str, PaymentStatus]:
    provider = StripeProvider.from_settings(settings)
    try:
        payment_intent_id = await pay_with_test_card(provider, amount=amount, currency=currency,
                                                     buyer_id=buyer, card=card)
        return payment_intent_id, (await provider.verify(payment_intent_id)).status
    finally:
        await provider.aclose()
