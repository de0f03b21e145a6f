"""The Stripe provider against a real localstripe: verification, refunds, failures. No mocks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiohttp import web

from domain.errors import ErrorCode
from domain.payments import PaymentStatus, RefundStatus, Verdict, judge
from oms.processes import free_port
from payments.errors import PaymentNotSettled, ProviderRefused, ProviderUnavailable
from payments.stripe_checkout import TestCard, pay_with_test_card
from payments.stripe_provider import StripeProvider, call_stripe

ORDER = {"buyer_id": "buyer123", "total": Decimal("200.00"), "currency": "USD"}


@pytest.fixture
async def provider(stripe_base: str) -> AsyncIterator[StripeProvider]:
    stripe = StripeProvider("sk_test_oms_tests", stripe_base)
    yield stripe
    await stripe.aclose()


async def pay(provider: StripeProvider, amount: str = "200", currency: str = "USD",
              buyer_id: str | None = "buyer123", card: TestCard = TestCard.VISA) -> str:
    return await pay_with_test_card(provider, amount=Decimal(amount), currency=currency,
                                    buyer_id=buyer_id, card=card)


async def refunds_at_stripe(provider: StripeProvider, payment_intent_id: str) -> list[dict]:
    page = await call_stripe(provider.client.v1.refunds.list_async(
        {"payment_intent": payment_intent_id, "limit": 100}))
    return page["data"]


async def test_a_paid_payment_intent_verifies_with_its_amount_currency_payer_and_fee(provider):
    payment_intent_id = await pay(provider)
    verified = await provider.verify(payment_intent_id)
    assert (verified.provider_id, verified.status) == (payment_intent_id,
                                                       PaymentStatus.SUCCEEDED)
    assert (verified.amount, verified.currency, verified.payer) == (Decimal("200.00"), "USD",
                                                                    "buyer123")
    assert verified.provider_fee == Decimal("0.00")  # localstripe charges no fee
    assert judge(verified, **ORDER).verdict is Verdict.PAID


@pytest.mark.parametrize("reference", ["pi_madeUp0000000000", "pi_", "ch_123", "../v1/charges",
                                       "0x" + "ab" * 32])
async def test_an_unknown_or_malformed_reference_is_unknown(provider, reference):
    verified = await provider.verify(reference)
    assert verified.status is PaymentStatus.UNKNOWN
    assert judge(verified, **ORDER).code is ErrorCode.PAYMENT_NOT_CONFIRMED


@pytest.mark.parametrize("buyer_id", [None, "buyer999"])
async def test_a_payment_without_the_buyer_or_by_another_is_refused(provider, buyer_id):
    verified = await provider.verify(await pay(provider, buyer_id=buyer_id))
    assert verified.status is PaymentStatus.SUCCEEDED
    judgement = judge(verified, **ORDER)
    assert (judgement.verdict, judgement.code) == (Verdict.REFUSED,
                                                   ErrorCode.PAYMENT_NOT_CONFIRMED)


@pytest.mark.parametrize(("amount", "currency"), [("199.99", "USD"), ("200", "EUR")])
async def test_another_amount_or_currency_is_an_amount_mismatch(provider, amount, currency):
    verified = await provider.verify(await pay(provider, amount, currency))
    assert judge(verified, **ORDER).code is ErrorCode.AMOUNT_MISMATCH


async def test_a_declined_card_is_a_failed_payment(provider):
    verified = await provider.verify(await pay(provider, card=TestCard.DECLINED))
    assert verified.status is PaymentStatus.FAILED
    assert judge(verified, **ORDER).code is ErrorCode.PAYMENT_NOT_CONFIRMED


async def test_a_payment_awaiting_3d_secure_is_incomplete(provider):
    card = await call_stripe(provider.client.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": "4000002500003155", "exp_month": 12,
                                  "exp_year": 2030, "cvc": "123"}}))
    intent = await call_stripe(provider.client.v1.payment_intents.create_async(
        {"amount": 20000, "currency": "usd", "payment_method": card["id"], "confirm": True,
         "metadata": {"buyerId": "buyer123"}}))
    verified = await provider.verify(intent["id"])
    assert verified.status is PaymentStatus.INCOMPLETE
    assert judge(verified, **ORDER).code is ErrorCode.PAYMENT_NOT_CONFIRMED


async def test_a_processing_bank_debit_is_pending_cannot_be_refunded_and_then_fails(provider):
    # localstripe keeps a SEPA debit from its failing test IBAN processing for 0.5 s, then
    # fails it; it has no debit that processes and then succeeds.
    debit = await call_stripe(provider.client.v1.payment_methods.create_async(
        {"type": "sepa_debit", "sepa_debit": {"iban": "DE62370400440532013001"}}))
    intent = await call_stripe(provider.client.v1.payment_intents.create_async(
        {"amount": 20000, "currency": "eur", "payment_method": debit["id"], "confirm": True,
         "metadata": {"buyerId": "buyer123"}}))
    verified = await provider.verify(intent["id"])
    assert verified.status is PaymentStatus.PROCESSING
    assert judge(verified, **{**ORDER, "currency": "EUR"}).verdict is Verdict.PENDING
    with pytest.raises(PaymentNotSettled) as settling:
        await provider.refund(intent["id"], Decimal("200"), "EUR", "refund-while-processing")
    assert settling.value.retryable
    for _ in range(50):
        await asyncio.sleep(0.1)
        if (await provider.verify(intent["id"])).status is not PaymentStatus.PROCESSING:
            break
    assert (await provider.verify(intent["id"])).status is PaymentStatus.FAILED


async def test_a_refund_repeated_with_its_key_is_made_once(provider):
    payment_intent_id = await pay(provider)
    first = await provider.refund(payment_intent_id, Decimal("200"), "USD", "order-1:refund:1")
    again = await provider.refund(payment_intent_id, Decimal("200"), "USD", "order-1:refund:1")
    assert again == first
    assert (first.status, first.amount, first.currency) == (RefundStatus.SUCCEEDED,
                                                            Decimal("200.00"), "USD")
    made = await refunds_at_stripe(provider, payment_intent_id)
    assert [r["id"] for r in made] == [first.provider_id]
    assert made[0]["metadata"] == {"idempotencyKey": "order-1:refund:1"}


async def test_a_partial_refund_refunds_that_amount_and_no_more_than_is_left(provider):
    payment_intent_id = await pay(provider)
    part = await provider.refund(payment_intent_id, Decimal("50.25"), "USD", "part-1")
    assert part.amount == Decimal("50.25")
    assert [r["amount"] for r in await refunds_at_stripe(provider, payment_intent_id)] == [5025]
    with pytest.raises(ProviderRefused, match="only 149.75 USD is left") as refused:
        await provider.refund(payment_intent_id, Decimal("150"), "USD", "part-2")
    assert not refused.value.retryable
    rest = await provider.refund(payment_intent_id, Decimal("149.75"), "USD", "part-3")
    assert rest.amount == Decimal("149.75")
    assert len(await refunds_at_stripe(provider, payment_intent_id)) == 2


@pytest.mark.parametrize(("amount", "currency"), [("0", "USD"), ("1.001", "USD"), ("1", "EUR")])
async def test_a_refund_the_payment_cannot_take_is_refused(provider, amount, currency):
    payment_intent_id = await pay(provider)
    with pytest.raises(ProviderRefused):
        await provider.refund(payment_intent_id, Decimal(amount), currency, "bad")
    assert await refunds_at_stripe(provider, payment_intent_id) == []


async def test_refunding_a_failed_or_unknown_payment_is_refused_for_good(provider):
    failed = await pay(provider, card=TestCard.DECLINED)
    with pytest.raises(ProviderRefused, match="has not succeeded"):
        await provider.refund(failed, Decimal("200"), "USD", "k")
    with pytest.raises(ProviderRefused) as unknown:
        await provider.refund("pi_madeUp0000000000", Decimal("200"), "USD", "k")
    assert unknown.value.http_status == 404 and not unknown.value.retryable


async def test_an_unreachable_stripe_is_worth_retrying():
    stripe = StripeProvider("sk_test_oms_tests", f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ProviderUnavailable, match="unreachable") as failure:
            await stripe.verify("pi_madeUp0000000000")
        assert failure.value.retryable
    finally:
        await stripe.aclose()


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_a_stripe_in_trouble_is_worth_retrying(status):
    async def answer(_request):
        return web.json_response({"error": {"type": "api_error", "message": "try later"}},
                                 status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stripe = StripeProvider("sk_test_oms_tests", f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ProviderUnavailable, match=str(status)):
            await stripe.verify("pi_madeUp0000000000")
        with pytest.raises(ProviderUnavailable):
            await stripe.refund("pi_madeUp0000000000", Decimal("1"), "USD", "k")
    finally:
        await stripe.aclose()
        await runner.cleanup()


def _oms_pay(stripe_base: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMS_STRIPE_API_BASE": stripe_base}
    return subprocess.run([sys.executable, "-m", "oms.cli", "pay", "fiat", *args], env=env,
                          capture_output=True, text=True, timeout=60)


async def test_oms_pay_fiat_prints_a_payment_intent_that_verifies(provider, stripe_base):
    result = await asyncio.to_thread(_oms_pay, stripe_base, "--buyer", "buyer123",
                                     "--amount", "200", "--currency", "USD")
    assert result.returncode == 0, result.stderr
    verified = await provider.verify(result.stdout.strip())
    assert judge(verified, **ORDER).verdict is Verdict.PAID


@pytest.mark.parametrize("args", [("--amount", "200.001"), ("--amount", "1e3"),
                                  ("--amount", "0"), ("--amount", "5", "--currency", "USDC"),
                                  ("--amount", "5", "--buyer", "not a user")])
async def test_oms_pay_fiat_refuses_bad_input_in_one_line(stripe_base, args):
    result = await asyncio.to_thread(_oms_pay, stripe_base, "--buyer", "buyer123", *args)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("oms pay fiat: ")
