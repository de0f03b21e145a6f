"""A batch of orders through worker kills, a Temporal restart, a PostgreSQL outage and an API
crash: nothing lost, nothing done twice, no 500 (RELIABILITY.md).

The whole stack runs as real processes (tests/chaos/stack.py) on PostgreSQL and a persisted
Temporal dev server; the load (load.py) plays every order's script through the API while the
faults (faults.py) strike; then checks.py compares what every store holds with what each
script says it must (scripts.py, from the domain's rules).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import httpx
import pytest
from sqlalchemy import select

from db import reference_repo
from db import tables as t
from db.engine import Database, create_database
from oms.temporal import connect
from tests.chaos import checks
from tests.chaos.conftest import ChaosSize, chaos_size
from tests.chaos.faults import FaultLog, break_things
from tests.chaos.load import Load, Order, currency_of
from tests.chaos.scripts import UNIT_PRICE, expected, scripts
from tests.chaos.stack import ChaosStack
from tests.factories import checkout_body
from tests.polling import eventually

pytestmark = [pytest.mark.chaos, pytest.mark.postgres]
SELLERS = ("chaos-seller-1", "chaos-seller-2")
INVENTORY = 10_000
# Start-up, the orders' last refunds and the checks, on top of the load's own deadline.
OVERHEAD = 150


@pytest.mark.timeout(chaos_size().deadline + OVERHEAD)
async def test_a_batch_of_orders_survives_crashes_restarts_and_an_outage(
        chaos_stack: ChaosStack, stripe_base: str, size: ChaosSize):
    stack = chaos_stack
    print(f"\nchaos: {size.orders} orders, seed {size.seed} (OMS_CHAOS_SEED={size.seed} "
          "replays it); logs in", stack.logs)
    rng = random.Random(size.seed)
    started = time.monotonic()
    db = create_database(stack.database_url)
    try:
        stock = await _seed(db)
        orders = await asyncio.to_thread(_orders, size.orders, rng)
        await _ready(stack)
        load, faults = Load(stack.api_url, rng), FaultLog()
        try:
            await _storm(stack, load, orders, size, rng, faults)
        finally:
            await load.aclose()
        loaded = time.monotonic()
        found = await _check(stack, db, orders, stock, load, stripe_base)
    finally:
        await db.dispose()
    answered = load.summary()
    print(f"chaos: load and faults {loaded - started:.0f} s, {len(load.answers)} requests "
          f"answered {dict(sorted(answered.items(), key=str))}\n"
          f"chaos: {faults.count} faults:\n  " + "\n  ".join(faults.entries) + "\n"
          f"chaos: checked {dict(found.checked)}\n"
          f"chaos: {len(load.wrong)} wrong answers, "
          f"{sum(len(f) for f in found.by_check.values())} wrong findings")
    assert not load.wrong, "answers a correct service would not give:\n" + "\n".join(
        load.wrong[:20])
    assert not found.by_check, found.report()


async def _storm(stack: ChaosStack, load: Load, orders: list[Order], size: ChaosSize,
                 rng: random.Random, faults: FaultLog) -> None:
    """Every order played, `size.concurrency` at a time, while the faults strike."""
    gate = asyncio.Semaphore(size.concurrency)
    in_flight = 0

    async def play(order: Order) -> None:
        nonlocal in_flight
        async with gate:
            in_flight += 1
            try:
                await load.run(order)
            finally:
                in_flight -= 1

    async with asyncio.timeout(size.deadline):
        await asyncio.gather(*(play(o) for o in orders),
                             break_things(stack, size.plan, rng, lambda: in_flight, faults))


async def _check(stack: ChaosStack, db: Database, orders: list[Order], stock: dict[str, int],
                 load: Load, stripe_base: str) -> checks.Findings:
    found = checks.Findings()
    async with db.reader.connect() as conn:
        workflow_ids = dict((await conn.execute(
            select(t.orders.c.id, t.orders.c.workflow_id))).all())
    client = await connect(stack.temporal_address)
    # The last refunds and releases may still be retried (the provider fails the first
    # attempts); every order settles well within this.
    with contextlib.suppress(AssertionError):
        await eventually(lambda: _all_closed(client, workflow_ids), timeout=90, interval=1)
    await checks.workflows_closed(client, workflow_ids, found)
    await checks.read_model(db, orders, stock, found)
    await asyncio.to_thread(checks.card_refunds, stripe_base, orders,
                            await checks.ledger_ids(db), found)
    await checks.through_the_api(stack.api_url, orders, found)
    checks.answers(load.answers, found)
    return found


async def _all_closed(client, workflow_ids: dict[str, str]) -> bool:
    for workflow_id in workflow_ids.values():
        if (await client.get_workflow_handle(workflow_id).describe()).close_time is None:
            return False
    return True


async def _seed(db: Database) -> dict[str, int]:
    """Two sellers, each with a listing in dollars (card orders) and one in USDC; their stock."""
    stock: dict[str, int] = {}
    async with db.transaction() as conn:
        for seller in SELLERS:
            await reference_repo.upsert_user(conn, seller, name=seller, store_name=seller,
                                             email=f"{seller}@example.com")
            for currency in ("USD", "USDC"):
                listing = f"{seller}-{currency.lower()}"
                await reference_repo.upsert_listing(
                    conn, listing, seller_id=seller, title="Wireless Headphones",
                    description=None, unit_price=UNIT_PRICE, currency=currency,
                    inventory=INVENTORY)
                stock[listing] = INVENTORY
    return stock


def _orders(count: int, rng: random.Random) -> list[Order]:
    """The scripted orders with their checkout bodies; card orders are paid at localstripe
    first, as a checkout does before it asks for the order."""
    orders = []
    for n, script in enumerate(scripts(count, rng)):
        seller = SELLERS[n % len(SELLERS)]
        currency = currency_of(script.method)
        listing = f"{seller}-{currency.lower()}"
        buyer = f"chaos-buyer-{n}"
        body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing,
                             method=script.method.value, quantity=script.quantity,
                             total=str(script.total), currency=currency)
        orders.append(Order(script, expected(script), buyer, seller, listing, body))
    return orders


async def _ready(stack: ChaosStack) -> None:
    async def healthy() -> bool:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=5) as http:
            with contextlib.suppress(httpx.HTTPError):
                return (await http.get("/health")).status_code == 200
        return False

    await eventually(healthy, timeout=60, interval=0.2)
    for worker in stack.workers:
        await eventually(lambda w=worker: "worker serving task queue" in w.log.read_text(),
                         timeout=60, interval=0.2)

