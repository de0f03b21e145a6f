"""Card payments through the Stripe API: what a PaymentIntent says, and refunds made once.

Talks to Stripe, or to localstripe in development and tests, with the official SDK's own client
object (no module-wide `stripe.api_key`) and its async methods over httpx, so no call blocks the
event loop. Retries belong to the caller (a Temporal activity's retry policy): the SDK's own are
off, and every failure says whether a retry can help (`payments.errors`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import stripe

from domain.money import CURRENCY_SCALE, MoneyError, from_minor_units, to_minor_units
from domain.payments import PaymentStatus, ProviderRefund, RefundStatus, VerifiedPayment
from payments.errors import PaymentNotSettled, ProviderRefused, ProviderUnavailable

if TYPE_CHECKING:
    from oms.settings import Settings

# Stripe's ids are a type prefix and letters and digits; anything else was never issued by it.
PAYMENT_INTENT_ID = re.compile(r"pi_[A-Za-z0-9]{1,250}")
BUYER_KEY = "buyerId"  # the PaymentIntent metadata the checkout sets
IDEMPOTENCY_KEY = "idempotencyKey"  # the refund metadata that finds a refund again

# A PaymentIntent's status, as the order sees it. `requires_payment_method` is a failed attempt
# when the PaymentIntent carries the error of its last one, and a payment not started otherwise.
_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "processing": PaymentStatus.PROCESSING,
    "canceled": PaymentStatus.FAILED,
    "requires_payment_method": PaymentStatus.INCOMPLETE,
    "requires_confirmation": PaymentStatus.INCOMPLETE,
    "requires_action": PaymentStatus.INCOMPLETE,
    "requires_capture": PaymentStatus.INCOMPLETE,  # authorised only; this service never captures
}
_REFUND_STATUS = {
    "succeeded": RefundStatus.SUCCEEDED,
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.FAILED,
}
_LIVE_REFUND = {RefundStatus.SUCCEEDED, RefundStatus.PENDING}


class StripeProvider:
    """Verifies PaymentIntents and refunds them, idempotently even where the server ignores
    `Idempotency-Key` (localstripe does). Build one per process; `aclose()` at the end."""

    def __init__(self, api_key: str, api_base: str, *, timeout: float = 20.0) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout)
        # A client of its own for this key and API base: nothing is set module-wide.
        self.client = stripe.StripeClient(api_key, base_addresses={"api": api_base},
                                          http_client=self._http, max_network_retries=0)

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeProvider:
        return cls(settings.stripe_api_key, settings.stripe_api_base)

    async def verify(self, payment_intent_id: str) -> VerifiedPayment:
        """The PaymentIntent as Stripe has it; status `unknown` when there is no such one."""
        if not PAYMENT_INTENT_ID.fullmatch(payment_intent_id):
            return VerifiedPayment.unknown(payment_intent_id)
        try:
            intent = await call_stripe(self.client.v1.payment_intents.retrieve_async(
                payment_intent_id, {"expand": ["latest_charge.balance_transaction"]}))
        except ProviderRefused as err:
            if err.http_status == 404:
                return VerifiedPayment.unknown(payment_intent_id)
            raise
        return _verified(intent)

    async def refund(self, payment_intent_id: str, amount: Decimal, currency: str,
                     idempotency_key: str) -> ProviderRefund:
        """Refund `amount` (major units, part or all of the payment) once per key: a repeat
        with the same key returns the refund the first call made."""
        try:
            units = to_minor_units(amount, currency)
        except MoneyError as err:
            raise ProviderRefused(f"cannot refund {amount} {currency}: {err}") from err
        if units <= 0:
            raise ProviderRefused(f"a refund must be positive, not {amount} {currency}")
        if not PAYMENT_INTENT_ID.fullmatch(payment_intent_id):
            raise ProviderRefused(f"{payment_intent_id!r} is not a Stripe PaymentIntent id")

        intent = await call_stripe(self.client.v1.payment_intents.retrieve_async(payment_intent_id))
        if intent["status"] == "processing":
            raise PaymentNotSettled(f"{payment_intent_id} is still processing; refund it once "
                                    "it has succeeded")
        if intent["status"] != "succeeded":
            raise ProviderRefused(f"{payment_intent_id} has not succeeded ({intent['status']}): "
                                  "there is nothing to refund")
        if intent["currency"].upper() != currency:
            raise ProviderRefused(f"{payment_intent_id} was paid in "
                                  f"{intent['currency'].upper()}, not {currency}")

        earlier = await self.refunds_of(payment_intent_id)
        for made in earlier:
            if made.idempotency_key == idempotency_key:
                return made
        # Checked here as well as by Stripe: localstripe refunds any amount it is asked for.
        refundable = _paid_units(intent) - sum(
            to_minor_units(r.amount, r.currency) for r in earlier if r.status in _LIVE_REFUND)
        if units > refundable:
            raise ProviderRefused(
                f"cannot refund {amount} {currency} of {payment_intent_id}: only "
                f"{from_minor_units(max(refundable, 0), currency)} {currency} is left to refund")

        refund = await call_stripe(self.client.v1.refunds.create_async(
            {"payment_intent": payment_intent_id, "amount": units,
             "metadata": {IDEMPOTENCY_KEY: idempotency_key}},
            {"idempotency_key": idempotency_key}))
        return _refund(refund, idempotency_key)

    async def refunds_of(self, payment_intent_id: str) -> list[ProviderRefund]:
        """Every refund of the PaymentIntent, with the idempotency key this service made it
        with (empty for one made in the Stripe dashboard)."""
        if not PAYMENT_INTENT_ID.fullmatch(payment_intent_id):
            return []
        page = await call_stripe(self.client.v1.refunds.list_async(
            {"payment_intent": payment_intent_id, "limit": 100}))
        found: list[ProviderRefund] = []
        while True:
            found += [_refund(r, (r.get("metadata") or {}).get(IDEMPOTENCY_KEY, ""))
                      for r in page["data"]]
            if not page.get("has_more") or not page["data"]:
                return found
            page = await call_stripe(self.client.v1.refunds.list_async(
                {"payment_intent": payment_intent_id, "limit": 100,
                 "starting_after": page["data"][-1]["id"]}))

    async def aclose(self) -> None:
        await self._http.close_async()


def _verified(intent: dict[str, Any]) -> VerifiedPayment:
    status = _STATUS.get(intent["status"], PaymentStatus.INCOMPLETE)
    if intent["status"] == "requires_payment_method" and intent.get("last_payment_error"):
        status = PaymentStatus.FAILED
    currency = intent["currency"].upper()
    known = currency in CURRENCY_SCALE
    return VerifiedPayment(
        provider_id=intent["id"],
        status=status,
        amount=from_minor_units(_paid_units(intent), currency) if known else None,
        currency=currency,
        payer=(intent.get("metadata") or {}).get(BUYER_KEY) or None,
        provider_fee=_fee(intent, currency) if known else None,
    )


def _paid_units(intent: dict[str, Any]) -> int:
    # Stripe reports what it took as amount_received once the payment succeeded; localstripe
    # has only amount, which is the same for a payment captured at once.
    received = intent.get("amount_received")
    return received if intent["status"] == "succeeded" and received is not None \
        else intent["amount"]


def _fee(intent: dict[str, Any], currency: str) -> Decimal | None:
    """Stripe's fee from the charge's balance transaction, when it is already there (it comes
    a little after the payment) and in the payment's currency (not when Stripe settled it in
    another)."""
    charge = intent.get("latest_charge")
    transaction = charge.get("balance_transaction") if isinstance(charge, dict) else None
    if not isinstance(transaction, dict) or transaction.get("currency", "").upper() != currency:
        return None
    return from_minor_units(transaction["fee"], currency)


def _refund(refund: dict[str, Any], idempotency_key: str) -> ProviderRefund:
    currency = refund["currency"].upper()
    return ProviderRefund(
        provider_id=refund["id"],
        status=_REFUND_STATUS.get(refund["status"], RefundStatus.PENDING),
        amount=from_minor_units(refund["amount"], currency),
        currency=currency,
        idempotency_key=idempotency_key,
    )


async def call_stripe(request: Awaitable[stripe.StripeObject]) -> dict[str, Any]:
    """The SDK's answer as plain data, or its failure as retryable or not."""
    try:
        return (await request).to_dict()
    except stripe.APIConnectionError as err:
        # The SDK's message ends with the network error, after a paragraph of advice.
        cause = (err.user_message or "").strip().splitlines()[-1:] or ["no answer"]
        raise ProviderUnavailable(f"Stripe API unreachable {cause[0]}") from err
    except stripe.StripeError as err:
        status = err.http_status or 0
        message = f"Stripe API answered {status}: {err.user_message or err}"
        # 401/403: a wrong or revoked key, which an operator fixes without the call changing;
        # 409: a concurrent request with the same idempotency key; 429: rate limited.
        if status >= 500 or status in (401, 403, 409, 429) or status == 0:
            raise ProviderUnavailable(message) from err
        raise ProviderRefused(message, http_status=status, code=err.code) from err
