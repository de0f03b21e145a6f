"""`python -m bench.seed_orders`: a PostgreSQL read model with N orders, for dashboard benchmarks.

Most orders come from tests.bulk.insert_orders, in batches of their own transaction: one a
minute going back from 2026-06-01, spread over 2,000 sellers and 200,000 buyers (about 500
orders a seller). One more seller, BIG_SELLER, gets 25,000 of the N orders, interleaved in time
with everyone else's, so that its list has a page at depth 10,000 (page 501 of 20) and a
product word (BIG_PRODUCT) that only its orders contain.

Then what a live system would have: the status counters the projection keeps, a heap in
creation order, and vacuumed and analysed tables.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.progress import Progress
from db.engine import create_database
from db.migrate import upgrade
from tests import servers
from tests.bulk import ADDRESS, STATUSES, insert_first_history, insert_orders

BIG_SELLER = "bulk-seller-big"
BIG_PRODUCT = "Ceramic mug"


@dataclass(frozen=True)
class Plan:
    orders: int = 1_000_000  # all of them, the big seller's included
    big_seller_orders: int = 25_000
    sellers: int = 2_000
    buyers: int = 200_000
    batch: int = 50_000

    @property
    def regular(self) -> int:
        return self.orders - self.big_seller_orders

    def big_number(self, j: int) -> int:
        """Order numbers after the regular ones: n = regular + 1 + j for the big seller's j."""
        return self.regular + 1 + j


async def insert_big_seller_orders(conn: AsyncConnection, plan: Plan, lo: int, hi: int) -> None:
    """The big seller's orders j in [lo, hi), shaped like insert_orders' rows.

    Order j is made `regular / big_seller_orders` minutes after order j + 1, so its orders
    cover the same months as everyone else's instead of being its own block of time."""
    if hi <= lo:
        return
    params = {"first": plan.big_number(lo), "last": plan.big_number(hi - 1),
              "base": plan.big_number(0), "step": plan.regular / plan.big_seller_orders,
              "buyers": plan.buyers, "statuses": list(STATUSES), "seller": BIG_SELLER,
              "product": BIG_PRODUCT, "address": ADDRESS}
    await conn.execute(text("""
        INSERT INTO orders (id, workflow_id, order_number, buyer_id, seller_id, listing_id,
            quantity, unit_price, total_amount, currency, payment_method, payment_status,
            payment_reference, status, status_updated_at, last_sequence, shipping_address,
            shipping_method, tracking_number, created_at, updated_at, total_units, search_text)
        SELECT md5('order' || n)::uuid::text, 'order-bulk-' || n,
            'ORD-2026-' || lpad(n::text, 7, '0'), 'bulk-buyer-' || (n % :buyers),
            :seller, 'bulk-listing-big', 1 + n % 5, 10, 10 * (1 + n % 5), 'USD',
            (ARRAY['crypto', 'fiat', 'escrow'])[1 + n % 3], 'confirmed', 'bulk-' || n,
            (CAST(:statuses AS text[]))[1 + (n / 7) % 10], ts, 1, CAST(:address AS json),
            'standard',
            CASE WHEN n % 3 = 0 THEN '1ZBULK' || n END, ts, ts,
            (10 * (1 + n % 5))::bigint * 100000000,
            'ORD 2026 ' || lpad(n::text, 7, '0') || ' ' || :product
                || ' Buyer ' || (n % :buyers) || ' Big Seller Big Store'
                || CASE WHEN n % 3 = 0 THEN ' 1ZBULK' || n ELSE '' END
        FROM generate_series(CAST(:first AS int), CAST(:last AS int)) n,
             LATERAL (SELECT timestamptz '2026-06-01'
                      - ((n - :base) * CAST(:step AS float8) + 0.5) * interval '1 minute'
                      AS ts) t
    """), params)
    await conn.execute(text("""
        INSERT INTO order_items (id, order_id, listing_id, product_name, quantity, unit_price,
            total_price, product_snapshot, created_at)
        SELECT md5('item' || n)::uuid::text, md5('order' || n)::uuid::text, 'bulk-listing-big',
            :product, 1 + n % 5, 10, 10 * (1 + n % 5), '{}'::json, now()
        FROM generate_series(CAST(:first AS int), CAST(:last AS int)) n
    """), params)
    await insert_first_history(conn, params["first"], params["last"])


async def _add_big_seller(conn: AsyncConnection) -> None:
    await conn.execute(text(
        "INSERT INTO users (id, name, email, store_name, created_at, updated_at) "
        "VALUES (:seller, 'Big Seller', 'big@example.com', 'Big Store', now(), now())"),
        {"seller": BIG_SELLER})
    await conn.execute(text(
        "INSERT INTO listings (id, seller_id, title, unit_price, currency, inventory, active, "
        "created_at, updated_at) VALUES ('bulk-listing-big', :seller, :product, 10, 'USD', "
        "1000000000, true, now(), now())"), {"seller": BIG_SELLER, "product": BIG_PRODUCT})


async def count_orders_in(url: str) -> int:
    db = create_database(url)
    try:
        async with db.reader.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM orders"))).scalar_one()
    finally:
        await db.dispose()


async def seed(url: str, plan: Plan, *, out=sys.stderr) -> dict[str, float]:
    """Insert the plan's orders into a migrated, empty database; seconds per phase."""
    if plan.regular < 1 or plan.big_seller_orders < 1:
        raise ValueError("need regular orders and big-seller orders, fewer than --orders")
    db = create_database(url)
    seconds: dict[str, float] = {}
    try:
        progress = Progress(plan.orders, "orders", out=out)
        started = time.perf_counter()
        first = 1
        while first <= plan.regular:
            size = min(plan.batch, plan.regular - first + 1)
            # The big seller's share of this batch's stretch of time, so both are inserted
            # together, as they would arrive.
            lo = (first - 1) * plan.big_seller_orders // plan.regular
            hi = (first - 1 + size) * plan.big_seller_orders // plan.regular
            async with db.transaction() as conn:
                if first == 1:
                    await _add_big_seller(conn)
                await insert_orders(conn, first=first, count=size, sellers=plan.sellers,
                                    buyers=plan.buyers)
                await insert_big_seller_orders(conn, plan, lo, hi)
            first += size
            progress.update(first - 1 + hi)
        progress.close()
        seconds["insert"] = time.perf_counter() - started
        seconds.update(await _settle(db, out))
    finally:
        await db.dispose()
    return seconds


async def _settle(db, out) -> dict[str, float]:
    """What the projection and time would have done to a live database."""
    seconds: dict[str, float] = {}
    async with db.reader.connect() as conn:
        # VACUUM and CLUSTER refuse to run inside a transaction.
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        steps = {
            # The counters db.status_counts keeps as orders are written (per seller and
            # platform-wide, ''); the bulk rows skipped the projection.
            "counters": [
                "DELETE FROM order_status_counts",
                "INSERT INTO order_status_counts (seller_id, status, count) "
                "SELECT seller_id, status, count(*) FROM orders GROUP BY seller_id, status",
                "INSERT INTO order_status_counts (seller_id, status, count) "
                "SELECT '', status, count(*) FROM orders GROUP BY status",
            ],
            # Live orders reach the heap in creation order, so one seller's orders of a month
            # share pages with the others' of that month; batches wrote them in clumps.
            "cluster": ["CLUSTER orders USING ix_orders_created"],
            # The visibility map (index-only scans) and planner statistics that autovacuum
            # would have brought by now; done here so it does not start mid-measurement.
            "vacuum_analyze": ["VACUUM (ANALYZE) orders", "VACUUM (ANALYZE) order_items",
                               "VACUUM (ANALYZE) order_status_history",
                               "VACUUM (ANALYZE) users", "VACUUM (ANALYZE) listings",
                               "VACUUM (ANALYZE) order_status_counts"],
        }
        for name, statements in steps.items():
            print(f"{name} ...", file=out, flush=True)
            started = time.perf_counter()
            for statement in statements:
                await conn.exec_driver_sql(statement)
            seconds[name] = time.perf_counter() - started
    return seconds


def seed_database(url: str, plan: Plan, *, out=sys.stderr) -> dict[str, float]:
    """Migrate (Alembic runs its own event loop, so outside ours) and seed."""
    upgrade(url)
    existing = asyncio.run(count_orders_in(url))
    if existing:
        raise SystemExit(f"{url} already holds {existing:,} orders; seed an empty database")
    return asyncio.run(seed(url, plan, out=out))


@contextlib.contextmanager
def throwaway_database(name: str) -> Iterator[str]:
    """A fresh cluster on loopback with one database, stopped (and deleted) on leaving,
    on Ctrl-C and on SIGTERM (which would otherwise end Python without running `finally`)."""
    bin_dir = servers.postgres_bin_dir()
    if bin_dir is None:
        raise SystemExit("no PostgreSQL server binaries (initdb) found; pass a database URL")
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with servers.postgres_cluster(bin_dir) as base_url:
            yield servers.create_database(base_url, name)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(_signum, _frame) -> None:
    raise SystemExit(143)


def summary(plan: Plan, seconds: dict[str, float]) -> str:
    total = sum(seconds.values())
    parts = ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    return (f"seeded {plan.orders:,} orders ({plan.big_seller_orders:,} for {BIG_SELLER}) in "
            f"{total:.1f} s: {parts}; {plan.orders / seconds['insert']:,.0f} orders/s inserting")


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Plan()
    parser.add_argument("--orders", type=int, default=defaults.orders,
                        help=f"orders in all (default {defaults.orders:,})")
    parser.add_argument("--big-seller-orders", type=int, default=defaults.big_seller_orders,
                        help=f"orders of {BIG_SELLER} (default {defaults.big_seller_orders:,})")
    parser.add_argument("--sellers", type=int, default=defaults.sellers)
    parser.add_argument("--buyers", type=int, default=defaults.buyers)
    parser.add_argument("--batch", type=int, default=defaults.batch,
                        help="orders per transaction (default %(default)s)")


def plan_from(args: argparse.Namespace) -> Plan:
    return Plan(orders=args.orders, big_seller_orders=args.big_seller_orders,
                sellers=args.sellers, buyers=args.buyers, batch=args.batch)


def add_bench_database_arguments(parser: argparse.ArgumentParser) -> None:
    """What a benchmark's database is: the plan's orders, or --reuse-url's."""
    add_plan_arguments(parser)
    parser.add_argument("--reuse-url", help="postgresql+psycopg://... database to use (seeded "
                                            "first if empty) instead of a throwaway cluster")


@contextlib.contextmanager
def bench_database(args: argparse.Namespace, name: str) -> Iterator[tuple[str, str]]:
    """A benchmark's database and the line saying how it was seeded: --reuse-url's, seeded
    only when empty, or else a throwaway cluster's seeded with the plan."""
    plan = plan_from(args)
    if args.reuse_url:
        yield args.reuse_url, reuse(args.reuse_url, plan)
        return
    with throwaway_database(name) as url:
        yield url, summary(plan, seed_database(url, plan))


def reuse(url: str, plan: Plan) -> str:
    """Seed a reused database only when it is empty; otherwise take its orders as they are."""
    upgrade(url)
    if asyncio.run(count_orders_in(url)) == 0:
        return summary(plan, seed_database(url, plan))
    return "seeding: none (reused a seeded database)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seed_orders",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?",
                        help="postgresql+psycopg://... of an empty (or unmigrated) database; "
                             "without it a throwaway cluster is started and removed")
    parser.add_argument("--hold", action="store_true",
                        help="keep the throwaway cluster running after seeding until Ctrl-C or "
                             "SIGTERM (to run dashboard_bench --reuse-url against it)")
    add_plan_arguments(parser)
    args = parser.parse_args(argv)
    plan = plan_from(args)
    if args.url:
        print(summary(plan, seed_database(args.url, plan)))
        return
    with throwaway_database("oms_dashboards") as url:
        print(summary(plan, seed_database(url, plan)))
        if args.hold:
            print(f"database: {url}\nCtrl-C or `kill {os.getpid()}` stops the cluster",
                  flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    signal.pause()


if __name__ == "__main__":
    main()
