"""What a marketplace checkout does at Stripe, for the dev stack (`oms pay fiat`) and tests:
pay with a test card and put the buyer on the PaymentIntent, as verification requires."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from domain.money import to_minor_units
from payments.errors import ProviderRefused
from payments.stripe_provider import BUYER_KEY, StripeProvider, call_stripe


class TestCard(StrEnum):
    """Stripe's test PaymentMethods, which Stripe's test mode and localstripe both know; no card
    number crosses the API."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    VISA = "pm_card_visa"
    DECLINED = "pm_card_chargeCustomerFail"  # attaches, then its charge is declined


async def pay_with_test_card(provider: StripeProvider, *, amount: Decimal, currency: str,
                             buyer_id: str | None, card: TestCard = TestCard.VISA) -> str:
    """The id of a new PaymentIntent for `amount` paid with `card`, succeeded or (for a declined
    card) failed. `buyer_id` None leaves out the metadata a real checkout always sets.

    Created, then confirmed in a second call: a declined confirmation at creation would answer
    402 without naming the PaymentIntent (localstripe), and a failed payment has an id too.
    """
    params: dict[str, object] = {
        "amount": to_minor_units(amount, currency), "currency": currency.lower(),
        "payment_method": str(card), "payment_method_types": ["card"]}
    if buyer_id:
        params["metadata"] = {BUYER_KEY: buyer_id}
    intent = await call_stripe(provider.client.v1.payment_intents.create_async(params))
    try:
        await call_stripe(provider.client.v1.payment_intents.confirm_async(intent["id"]))
    except ProviderRefused as err:
        if err.http_status != 402:
            raise
        # Declined: the PaymentIntent records it, and verification reports it as failed.
    return intent["id"]
