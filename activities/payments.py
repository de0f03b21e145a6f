"""Money-moving activities and the gateway interface they call.

`LedgerPaymentGateway` is the default gateway: a stand-in for the card processor, the crypto
refund wallet and the escrow contract, which this service cannot reach in development. It behaves
like them where it matters: every operation is idempotent on its key, it can fail on demand, and
each operation is recorded once in the `payment_operations` ledger.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from temporalio import activity

from activities import metrics
from db import tables as t
from db.engine import Database
from db.ids import row_id
from db.upsert import insert_ignore
from domain.commands import PaymentCommand, PaymentOperationResult


class PaymentGateway(Protocol):
    """Card refunds, crypto refund transfers and escrow refunds/releases, per payment method."""

    async def refund(self, cmd: PaymentCommand, attempt: int) -> PaymentOperationResult: ...

    async def release(self, cmd: PaymentCommand, attempt: int) -> PaymentOperationResult: ...


class GatewayUnavailable(RuntimeError):
    """The payment service did not answer; the activity retries."""


class LedgerPaymentGateway:
    def __init__(self, db: Database, *, fail_first_attempts: int = 0,
                 latency: timedelta = timedelta(0)) -> None:
        self._db = db
        self._fail_first = fail_first_attempts
        self._latency = latency.total_seconds()

    async def refund(self, cmd: PaymentCommand, attempt: int) -> PaymentOperationResult:
        return await self._operate("refund", cmd, attempt)

    async def release(self, cmd: PaymentCommand, attempt: int) -> PaymentOperationResult:
        return await self._operate("release", cmd, attempt)

    async def _operate(self, kind: str, cmd: PaymentCommand, attempt: int
                       ) -> PaymentOperationResult:
        if self._latency:
            await asyncio.sleep(self._latency)
        if attempt <= self._fail_first:
            metrics.PAYMENT_FAILURES.labels(cmd.method.value, f"{kind}_gateway_error").inc()
            raise GatewayUnavailable(f"{kind} service unavailable (attempt {attempt})")
        now = datetime.now(UTC)
        external_id = f"{kind[:2]}_{row_id(kind, cmd.idempotency_key)[:18]}"
        async with self._db.transaction() as conn:
            await insert_ignore(
                conn,
                t.payment_operations,
                {
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
                },
            )
            row = (
                await conn.execute(
                    select(t.payment_operations.c.external_id, t.payment_operations.c.status)
                    .where(t.payment_operations.c.idempotency_key == cmd.idempotency_key)
                )
            ).one()
        return PaymentOperationResult(cmd.idempotency_key, row.external_id, row.status)


class PaymentActivities:
    def __init__(self, gateway: PaymentGateway) -> None:
        self._gateway = gateway

    @activity.defn
    async def refund_payment(self, cmd: PaymentCommand) -> PaymentOperationResult:
        """Refund a payment through its method's gateway; retried until it succeeds."""
        result = await self._gateway.refund(cmd, activity.info().attempt)
        activity.logger.info("refund %s recorded as %s", cmd.idempotency_key, result.external_id)
        return result

    @activity.defn
    async def release_escrow(self, cmd: PaymentCommand) -> PaymentOperationResult:
        """Release an escrow payment to the seller; retried until it succeeds."""
        result = await self._gateway.release(cmd, activity.info().attempt)
        activity.logger.info("release %s recorded as %s", cmd.idempotency_key,
                             result.external_id)
        return result
