"""Composition root of the worker: builds the activities once and serves the `orders` queue."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import py_compile
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import prometheus_client
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities.email import EmailActivities, SmtpSender
from activities.payments import PaymentActivities, PaymentProvider, payment_providers
from activities.projection import ProjectionActivities
from db.engine import Database, create_database
from domain.order import PaymentMethod
from oms import logs
from oms.settings import Settings, load_or_exit
from oms.startup import (
    CannotStart,
    database_unreachable,
    require_free_port,
    temporal_unreachable,
)
from oms.temporal import connect, ensure_search_attributes
from payments.errors import ProviderUnavailable
from payments.stripe_provider import StripeProvider
from workflows.order_workflow import OrderWorkflow

if TYPE_CHECKING:
    from payments.chain_provider import Chain

log = logging.getLogger("oms.worker")


def ensure_workflow_bytecode() -> None:
    """Write the bytecode of the workflow package's modules if it is missing or stale.

    The sandbox imports a workflow's module afresh for every workflow it loads into the cache,
    which for a weeks-old order is most events; without bytecode on disk (an editable install
    under PYTHONDONTWRITEBYTECODE, as in development) every such import compiles the source
    (BENCHMARKS.md, "Worker start-up machinery"). Installed packages have their bytecode
    already; a directory we may not write to is left as it is.
    """
    for source in sorted(Path(workflows.__file__).parent.glob("*.py")):
        try:
            py_compile.compile(str(source), cfile=importlib.util.cache_from_source(str(source)),
                               doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        except (OSError, py_compile.PyCompileError) as err:
            log.debug("no bytecode written for %s: %s", source, err)


def build_worker(client: Client, db: Database, settings: Settings, task_queue: str, *,
                 providers: dict[PaymentMethod, PaymentProvider] | None = None) -> Worker:
    projection = ProjectionActivities(db)
    payments = PaymentActivities(
        db, providers or payment_providers(StripeProvider.from_settings(settings),
                                           stand_in=settings.chain_stand_in),
        fail_first_attempts=settings.gateway_fail_first_attempts,
        latency=settings.gateway_latency)
    emails = EmailActivities(db, SmtpSender(settings.smtp_url or "smtp://localhost"),
                             settings.email_from)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderWorkflow],
        activities=[
            projection.create_order,
            projection.record_status_change,
            projection.record_timeline,
            projection.raise_alert,
            projection.restore_inventory,
            projection.record_refund,
            projection.record_shipment,
            payments.verify_payment,
            payments.refund_payment,
            payments.release_escrow,
            payments.reconcile_refunds,
            emails.send_order_email,
        ],
        # Let in-flight activities finish their transaction on shutdown instead of cancelling.
        graceful_shutdown_timeout=timedelta(seconds=10),
        max_cached_workflows=settings.worker_max_cached_workflows,
    )


async def run(settings: Settings) -> None:
    try:
        client = await connect(settings.temporal_address, settings.temporal_namespace,
                               metrics_port=settings.temporal_metrics_port,
                               metrics_host=settings.metrics_host,
                               payload_keys=settings.payload_key_ring)
    except RuntimeError as err:  # the SDK's connect failure: no type of its own
        raise temporal_unreachable(settings.temporal_address, err) from None
    if settings.worker_metrics_port:
        prometheus_client.start_http_server(settings.worker_metrics_port,
                                            addr=settings.metrics_host)
    added = await ensure_search_attributes(client)
    if added:
        log.info("registered search attributes %s", ", ".join(added))
    ensure_workflow_bytecode()
    db = create_database(settings.database_url)
    await _require_database(db, settings.database_url)
    stripe = StripeProvider.from_settings(settings)
    # Crypto and escrow on the chain when one is configured; refused (or, when asked, taken
    # on trust) otherwise.
    chain = await _chain(settings, db) if settings.chain_rpc_url else None
    if chain is None:
        if settings.chain_stand_in:
            log.warning("OMS_CHAIN_STAND_IN: crypto and escrow payments are taken on the "
                        "checkout's word and no money moves; never in production")
        else:
            log.info("no chain configured (OMS_CHAIN_RPC_URL): crypto and escrow orders "
                     "cannot be paid")
    worker = build_worker(client, db, settings, settings.task_queue,
                          providers=payment_providers(stripe, chain,
                                                      stand_in=settings.chain_stand_in))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        log.info("worker serving task queue %r on %s", settings.task_queue,
                 settings.temporal_address)
        await stop.wait()
        log.info("worker stopping")
    await stripe.aclose()
    if chain is not None:
        await chain.aclose()
    await db.dispose()


async def _chain(settings: Settings, db: Database) -> Chain:
    """The chain of the settings, refused if it is not the one they describe. A node that does
    not answer yet is no reason not to start: card orders need none, and chain payments are
    asked again until it answers."""
    assert settings.chain_id is not None
    from payments.chain_provider import Chain  # web3: only a worker on a chain imports it

    chain = Chain.from_settings(settings, db)
    try:
        wrong = await chain.misconfigured(settings.chain_id)
    except ProviderUnavailable as err:
        log.warning("%s", err)
    else:
        if wrong:
            await chain.aclose()
            await db.dispose()
            raise CannotStart(wrong)
    log.info("crypto and escrow on chain %s at %s, signing as %s", settings.chain_id,
             settings.chain_rpc_url, chain.signer.address)
    return chain


async def _require_database(db: Database, url: str) -> None:
    """Refuse to start on a database that does not answer: every activity would fail."""
    try:
        async with asyncio.timeout(10), db.reader.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (DBAPIError, TimeoutError) as err:
        await db.dispose()
        # aiosqlite's thread of the failed connection answers once more; let it, before the
        # event loop closes, or it prints a traceback of its own.
        await asyncio.sleep(0.2)
        raise database_unreachable(url, err) from None


def main() -> int:
    settings = load_or_exit("oms worker")
    logs.configure(settings.log_level, settings.log_format)
    try:
        require_free_port("OMS_WORKER_METRICS_PORT", settings.worker_metrics_port,
                          settings.metrics_host)
        require_free_port("OMS_TEMPORAL_METRICS_PORT", settings.temporal_metrics_port,
                          settings.metrics_host)
        asyncio.run(run(settings))
    except CannotStart as err:
        print(f"oms worker: {err}", file=sys.stderr)
        sys.stderr.flush()
        # Nothing is running yet, and the SDK's runtime threads, left behind by the failed
        # connect, have been seen to abort the interpreter's teardown (SIGABRT) instead of
        # letting it exit with 1: leave without it.
        os._exit(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
