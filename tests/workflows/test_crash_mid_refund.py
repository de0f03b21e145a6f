"""A worker killed in the middle of a refund: the money moves once, and is recorded once.

The first worker is a real process (`python -m worker`), so it can be killed as a crash kills
it: after it has refunded at the provider (localstripe) and before it has written the ledger row
and reported the activity done. OMS_GATEWAY_LATENCY holds it in that window. A second worker,
in process, takes the retried attempt once the first stops heartbeating.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import stripe
from sqlalchemy import select

from api import order_commands
from db import tables as t
from db.engine import create_database
from domain.commands import StatusChangeRequest
from domain.order import ActorKind, OrderStatus, PaymentMethod
from tests.factories import order_request, seed_listing, unique
from tests.polling import eventually
from worker import build_worker
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

# How long the killed worker spends between the provider's refund and the ledger row: the test
# kills it in this window, so it only has to be longer than one look at localstripe.
KILL_WINDOW = "PT5S"


def _worker_process(settings, log: Path) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OMS_")}
    env.update({
        "OMS_DATABASE_URL": settings.database_url,
        "OMS_TEMPORAL_ADDRESS": settings.temporal_address,
        "OMS_TASK_QUEUE": settings.task_queue,
        "OMS_STRIPE_API_BASE": settings.stripe_api_base,
        "OMS_JWT_SECRET": settings.jwt_secret,
        "OMS_GATEWAY_LATENCY": KILL_WINDOW,
        "OMS_CHAIN_STAND_IN": str(settings.chain_stand_in).lower(),
        "OMS_WORKER_METRICS_PORT": "0",
        "OMS_TEMPORAL_METRICS_PORT": "0",
    })
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "worker"], env=env, cwd=log.parent,
                                stdout=out, stderr=subprocess.STDOUT)


async def test_a_worker_killed_mid_refund_refunds_once_and_records_it_once(
        client, settings, sqlite_url, tmp_path):
    settings = settings.model_copy(update={"database_url": sqlite_url,
                                           "task_queue": f"crash-{uuid.uuid4().hex[:8]}"})
    db = create_database(sqlite_url)
    log = tmp_path / "worker.log"
    first = _worker_process(settings, log)
    try:
        await eventually(lambda: "worker serving task queue" in log.read_text(), timeout=30)
        buyer, seller = unique("buyer"), unique("seller")
        listing = await seed_listing(db, seller_id=seller, currency="USD", inventory=10)
        request = order_request(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                method=PaymentMethod.FIAT, quantity=2, total="200")
        created = await order_commands.create_order(client, settings, request)
        assert created.status is OrderStatus.PAYMENT_CONFIRMED
        handle = client.get_workflow_handle_for(
            OrderWorkflow.run, workflow_id_for(PaymentMethod.FIAT, request.payment.reference))
        await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
            status=OrderStatus.CANCELLED, actor_kind=ActorKind.BUYER, actor_id=buyer,
            reason="buyer_request"))

        stripe_api = stripe.StripeClient(settings.stripe_api_key,
                                         base_addresses={"api": settings.stripe_api_base})

        def refunds() -> list:
            return stripe_api.v1.refunds.list(
                {"payment_intent": request.payment.reference}).data

        await eventually(refunds, timeout=15)
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL, log.read_text()
        assert await _ledger(db, created.order_id) == [], "killed after the ledger row"

        async with build_worker(client, db, settings, settings.task_queue):
            outcome = await asyncio.wait_for(handle.result(), timeout=30)
        assert outcome.status is OrderStatus.CANCELLED

        [refund] = refunds()
        assert (refund.amount, refund.currency, refund.status) == (20000, "usd", "succeeded")
        # Recorded once, by the retried attempt, under the refund the killed one made.
        ledger = await _ledger(db, created.order_id)
        assert [(r.kind, r.amount, r.external_id, r.attempts) for r in ledger] == [
            ("refund", Decimal("200"), refund.id, 2)]
        async with db.reader.connect() as conn:
            stock = (await conn.execute(select(t.listings.c.inventory).where(
                t.listings.c.id == listing))).scalar_one()
            order = (await conn.execute(select(t.orders.c.status).where(
                t.orders.c.id == created.order_id))).scalar_one()
        assert (order, stock) == ("cancelled", 10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
        await db.dispose()


async def _ledger(db, order_id: str) -> list:
    async with db.reader.connect() as conn:
        return (await conn.execute(select(t.payment_operations).where(
            t.payment_operations.c.order_id == order_id))).all()
