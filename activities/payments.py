"""Money-moving activities, and the provider port each payment method plugs into.

Every payment state comes from the method's provider: `verify_payment` asks it what it says
about the checkout's reference (the order counts as paid only on its word), refunds and
releases go through it, and each money movement it confirms is recorded once in the
`payment_operations` ledger.

Providers: card payments are the Stripe API (`payments/stripe_provider.py`; localstripe in
development and tests). Crypto transfers and the escrow contract are the chain's
(`payments/chain_provider.py`, `payments/chain_escrow.py`) when OMS_CHAIN_RPC_URL is set;
without a chain they cannot be paid (`NoChain` refuses them, saying why), unless
OMS_CHAIN_STAND_IN asks for `LedgerStandIn`, which believes what the checkout claimed and moves
no money: for load tests and demos on one machine only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import metrics
from db import tables as t
from db.engine import Database
from db.ids import row_id
from db.upsert import insert_ignore
from domain.commands import (
    PaymentCheck,
    PaymentCommand,
    PaymentOperationResult,
    RefundsCheck,
    RefundsCheckCommand,
    VerifyPaymentCommand,
)
from domain.errors import ErrorCode
from domain.order import PaymentMethod
from domain.payments import (
    Judgement,
    PaymentStatus,
    ProviderRefund,
    RefundStatus,
    Verdict,
    VerifiedPayment,
    judge,
    settled_payment_state,
)
from payments.errors import PaymentProviderError, ProviderRefused
from payments.stripe_provider import StripeProvider

if TYPE_CHECKING:
    from payments.chain_provider import Chain


class PaymentProvider(Protocol):
    """What the order needs from a payment method's provider."""

    async def verify(self, cmd: VerifyPaymentCommand) -> VerifiedPayment: ...

    async def refund(self, cmd: PaymentCommand) -> str:
        """Give `cmd.amount` back, once per `cmd.idempotency_key`; the provider's id for it."""
        ...

    async def release(self, cmd: PaymentCommand) -> str:
        """Pay an escrow out to the seller, once per key; the provider's id for it."""
        ...

    async def refunds(self, reference: str) -> list[ProviderRefund]:
        """Every refund the provider holds for the payment, with the key it was made with
        (empty for one made outside this service)."""
        ...


class GatewayUnavailable(RuntimeError):
    """The payment service did not answer; the activity retries."""


class StripeCardPayments:
    """Card payments: PaymentIntents verified and refunded through the Stripe API."""

    def __init__(self, stripe: StripeProvider) -> None:
        self._stripe = stripe

    async def verify(self, cmd: VerifyPaymentCommand) -> VerifiedPayment:
        return await self._stripe.verify(cmd.reference)

    async def refund(self, cmd: PaymentCommand) -> str:
        refund = await self._stripe.refund(cmd.payment_reference, cmd.amount, cmd.currency,
                                           cmd.idempotency_key)
        return refund.provider_id

    async def release(self, cmd: PaymentCommand) -> str:
        raise ApplicationError("a card payment has no escrow to release",
                               type=ErrorCode.VALIDATION_ERROR.value, non_retryable=True)

    async def refunds(self, reference: str) -> list[ProviderRefund]:
        return await self._stripe.refunds_of(reference)


class NoChain:
    """Crypto and escrow when no chain is configured: nothing can confirm such a payment, so
    the checkout is refused with the reason, and nothing can move its money."""

    def __init__(self, method: PaymentMethod) -> None:
        self._why = (f"{method.value} payments need a chain, and this service has none "
                     "configured (OMS_CHAIN_RPC_URL)")

    async def verify(self, cmd: VerifyPaymentCommand) -> VerifiedPayment:
        raise ProviderRefused(self._why)

    async def refund(self, cmd: PaymentCommand) -> str:
        raise ProviderRefused(self._why)

    async def release(self, cmd: PaymentCommand) -> str:
        raise ProviderRefused(self._why)

    async def refunds(self, reference: str) -> list[ProviderRefund]:
        return []


class LedgerStandIn:
    """Crypto and escrow on a machine without a chain, when OMS_CHAIN_STAND_IN asks for it
    (load tests, demos): takes the checkout's claim for the payment and moves no money. Its
    operation ids are derived from the idempotency key."""

    async def verify(self, cmd: VerifyPaymentCommand) -> VerifiedPayment:
        return VerifiedPayment(
            provider_id=cmd.reference,
            status=PaymentStatus.SUCCEEDED if cmd.claimed_final else PaymentStatus.PROCESSING,
            amount=cmd.total_amount, currency=cmd.currency, payer=cmd.buyer_id)

    async def refund(self, cmd: PaymentCommand) -> str:
        return f"re_{row_id('refund', cmd.idempotency_key)[:18]}"

    async def release(self, cmd: PaymentCommand) -> str:
        return f"rl_{row_id('release', cmd.idempotency_key)[:18]}"

    async def refunds(self, reference: str) -> list[ProviderRefund]:
        return []


class PaymentActivities:
    def __init__(self, db: Database, providers: Mapping[PaymentMethod, PaymentProvider], *,
                 fail_first_attempts: int = 0, latency: timedelta = timedelta(0)) -> None:
        self._db = db
        self._providers = providers
        # Failing the first attempts of each refund or release on demand shows retries and
        # compensation (OMS_GATEWAY_FAIL_FIRST_ATTEMPTS); 0 in normal use.
        self._fail_first = fail_first_attempts
        self._latency = latency.total_seconds()

    @activity.defn
    async def verify_payment(self, cmd: VerifyPaymentCommand) -> PaymentCheck:
        """What the payment's provider says, judged against the order: paid, pending or
        refused (with the code the checkout gets)."""
        try:
            verified = await self._providers[cmd.method].verify(cmd)
        except ProviderRefused as err:
            # The provider's own reason the payment cannot be this order's (the buyer has no
            # wallet on record): a refusal the checkout hears, not a failed run.
            verified, judgement = VerifiedPayment.unknown(cmd.reference), Judgement(
                Verdict.REFUSED, ErrorCode.PAYMENT_NOT_CONFIRMED, str(err))
        else:
            judgement = judge(verified, buyer_id=cmd.buyer_id, total=cmd.total_amount,
                              currency=cmd.currency)
        if judgement.refused:
            metrics.PAYMENT_FAILURES.labels(cmd.method.value, "not_verified").inc()
            activity.logger.info("payment %s refused: %s", cmd.reference, judgement.message)
        return PaymentCheck(verdict=judgement.verdict,
                            code=judgement.code.value if judgement.code else None,
                            message=judgement.message, provider_fee=verified.provider_fee,
                            gas_fee=verified.gas_fee)

    @activity.defn
    async def refund_payment(self, cmd: PaymentCommand) -> PaymentOperationResult:
        """Refund a payment through its provider; retried until it succeeds."""
        return await self._operate("refund", cmd)

    @activity.defn
    async def release_escrow(self, cmd: PaymentCommand) -> PaymentOperationResult:
        """Release an escrow payment to the seller; retried until it succeeds."""
        return await self._operate("release", cmd)

    @activity.defn
    async def reconcile_refunds(self, cmd: RefundsCheckCommand) -> RefundsCheck:
        """Record, once each, the refunds the provider made that this service did not ask for
        (one made in the provider's dashboard), and return what they add up to."""
        refunds = await self._call(self._providers[cmd.method].refunds(cmd.payment_reference))
        outside = [r for r in refunds if not r.idempotency_key
                   and r.status in (RefundStatus.SUCCEEDED, RefundStatus.PENDING)]
        now = datetime.now(UTC)
        async with self._db.transaction() as conn:
            for refund in outside:
                key = f"provider-refund:{refund.provider_id}"
                await insert_ignore(conn, t.payment_operations, {
                    "id": row_id("payment-operation", key), "idempotency_key": key,
                    "kind": "refund", "payment_method": cmd.method.value,
                    "payment_reference": cmd.payment_reference, "workflow_id": cmd.workflow_id,
                    "order_id": cmd.order_id, "amount": refund.amount,
                    "currency": refund.currency, "status": refund.status.value,
                    "external_id": refund.provider_id,
                    "reason": "refunded at the payment provider, outside this service",
                    "attempts": activity.info().attempt, "created_at": now, "updated_at": now,
                })
            await _record_payment_state(conn, cmd.workflow_id)
        return RefundsCheck(refunded_outside=sum((r.amount for r in outside), ZERO))

    async def _operate(self, kind: str, cmd: PaymentCommand) -> PaymentOperationResult:
        attempt = activity.info().attempt
        if attempt <= self._fail_first:
            metrics.PAYMENT_FAILURES.labels(cmd.method.value, f"{kind}_gateway_error").inc()
            raise GatewayUnavailable(f"{kind} service unavailable (attempt {attempt})")
        provider = self._providers[cmd.method]
        operation = provider.refund(cmd) if kind == "refund" else provider.release(cmd)
        async with _heartbeating():
            external_id = await self._call(operation)
            if self._latency:
                # Spent after the provider acted and before the ledger row: the window in
                # which a worker that dies leaves money moved but not yet recorded.
                await asyncio.sleep(self._latency)
            result = await self._record(kind, cmd, external_id, attempt)
        activity.logger.info("%s %s recorded as %s", kind, cmd.idempotency_key,
                             result.external_id)
        return result

    @staticmethod
    async def _call(operation):
        try:
            return await operation
        except PaymentProviderError as err:
            if err.retryable:
                raise
            # The provider will give the same answer on every retry: stop, with its reason.
            raise ApplicationError(str(err), type=ErrorCode.PAYMENT_NOT_CONFIRMED.value,
                                   non_retryable=True) from err

    async def _record(self, kind: str, cmd: PaymentCommand, external_id: str,
                      attempt: int) -> PaymentOperationResult:
        """The ledger row of a money movement the provider confirmed, once per key."""
        now = datetime.now(UTC)
        ops = t.payment_operations
        async with self._db.transaction() as conn:
            await insert_ignore(conn, ops, {
                "id": row_id("payment-operation", cmd.idempotency_key),
                "idempotency_key": cmd.idempotency_key,
                "kind": kind,
                "payment_method": cmd.method.value,
                "payment_reference": cmd.payment_reference,
                "workflow_id": cmd.workflow_id,
                "order_id": cmd.order_id,
                "amount": cmd.amount,
                "currency": cmd.currency,
                "status": "succeeded",
                "external_id": external_id,
                "reason": cmd.reason[:200],
                "attempts": attempt,
                "created_at": now,
                "updated_at": now,
            })
            row = (await conn.execute(
                select(ops.c.external_id, ops.c.status)
                .where(ops.c.idempotency_key == cmd.idempotency_key)
            )).one()
            await _record_payment_state(conn, cmd.workflow_id)
        return PaymentOperationResult(cmd.idempotency_key, row.external_id, row.status)


async def _record_payment_state(conn, workflow_id: str) -> None:
    """The order's payment state after the money movements its ledger holds (a retry finds the
    same rows and writes the same state). An order refused at creation has no row to update."""
    ops, o = t.payment_operations, t.orders
    # Summed here, not in SQL: SQLite would add the exact text amounts as floats.
    by_kind: dict[str, Decimal] = {}
    for kind, amount in (await conn.execute(
            select(ops.c.kind, ops.c.amount)
            .where(ops.c.workflow_id == workflow_id, ops.c.status == "succeeded"))).all():
        by_kind[kind] = by_kind.get(kind, ZERO) + amount
    total = (await conn.execute(select(o.c.total_amount).where(o.c.workflow_id == workflow_id))
             ).scalar_one_or_none()
    if total is None:
        return
    state = settled_payment_state(total=total, refunded=by_kind.get("refund", ZERO),
                                  released="release" in by_kind)
    if state is not None:
        await conn.execute(update(o).where(o.c.workflow_id == workflow_id)
                           .values(payment_status=state.value))


ZERO = Decimal(0)


# Well inside the heartbeat timeout of the workflow's money activities (order_effects.py).
_HEARTBEAT_EVERY = 1.0


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat while the body runs. A worker that dies mid-operation then stops beating, and
    Temporal gives the operation to another worker within the heartbeat timeout (rather than
    the start-to-close timeout), while a slow provider call on a live worker keeps beating and
    is not taken for a dead one."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(_HEARTBEAT_EVERY)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


def payment_providers(stripe: StripeProvider, chain: Chain | None = None, *,
                      stand_in: bool = False) -> dict[PaymentMethod, PaymentProvider]:
    """The provider of each payment method: crypto and escrow on `chain` when there is one,
    else refused, or believed when `stand_in` (OMS_CHAIN_STAND_IN)."""
    card = StripeCardPayments(stripe)
    if chain is None:
        on_trust = LedgerStandIn()
        return {PaymentMethod.FIAT: card,
                **{method: on_trust if stand_in else NoChain(method)
                   for method in (PaymentMethod.CRYPTO, PaymentMethod.ESCROW)}}
    # Imported only here: web3 and eth-account cost every process that loads the workflow's
    # module (the API, every `oms` command) 1.3 s of imports it would never use.
    from payments.chain_escrow import EscrowPayments
    from payments.chain_provider import CryptoTransfers

    return {PaymentMethod.FIAT: card, PaymentMethod.CRYPTO: CryptoTransfers(chain),
            PaymentMethod.ESCROW: EscrowPayments(chain)}
