"""Verifying through the real activity (the provider's answer judged as the workflow gets it)."""

from __future__ import annotations

import os
from decimal import Decimal

from temporalio.testing import ActivityEnvironment

from activities.payments import PaymentActivities, PaymentProvider
from db.engine import Database
from domain.commands import PaymentCheck, PaymentCommand, VerifyPaymentCommand
from domain.order import PaymentMethod
from tests.payments_chain.fixtures import BUYER, SELLER, TOTAL


async def verify(db: Database, method: PaymentMethod, provider: PaymentProvider,
                 reference: str, *, buyer_id: str = BUYER, total: Decimal = TOTAL,
                 currency: str = "USDC") -> PaymentCheck:
    activities = PaymentActivities(db, {method: provider})
    cmd = VerifyPaymentCommand(method=method, reference=reference, buyer_id=buyer_id,
                               total_amount=total, currency=currency, seller_id=SELLER)
    return await ActivityEnvironment().run(activities.verify_payment, cmd)


def payment(method: PaymentMethod, reference: str, kind: str, amount: Decimal = TOTAL,
            key: str | None = None) -> PaymentCommand:
    return PaymentCommand(idempotency_key=key or f"{kind}:order-{reference[:10]}",
                          workflow_id=f"order-{reference}", order_id=None, method=method,
                          payment_reference=reference, amount=amount, currency="USDC",
                          reason="test")


def made_up_hash() -> str:
    return "0x" + os.urandom(32).hex()
