"""`python -m bench.dashboard_bench`: seller dashboards at marketplace scale, the app's path
against the same SQL on bare psycopg.

For each case, after a warm-up, `--repeat` timed runs of three sides, taking turns in an
order that rotates each round, on one database in one run; each turn is a block of `--block`
runs of one side, the first untimed, so that each side is measured warm (single calls taking
turns each pay for waking a database backend that sat idle meanwhile):

  app  the route function itself (api.routes.order_lists), called without HTTP: a
       connection from the read pool of db.engine.create_database, the db.order_lists /
       db.order_stats query functions, the presenters on their rows and the page cursor.
       The "list only" cases are the list route without its count, checked against the
       route's own output.
  raw  the statements the app sent to psycopg in one run of the case (recorded at the
       cursor: same SQL text, same values), on one held psycopg connection in autocommit,
       fetching all rows as tuples and nothing more: the floor the app could reach. psycopg
       prepares a statement server-side from its sixth run, as it does for the app.
  unprepared  the same, with preparing off: the plans PostgreSQL makes for these values
       rather than a generic plan (which can be much worse for search).

Then a breakdown of the first page layer by layer (bench.first_page_anatomy).

The cases are about the big seller of bench.seed_orders (25,000 of the orders). Everything
runs on loopback; a throwaway cluster is stopped and deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy

from api import presenters
from api.auth import Principal, Role
from api.list_params import ListParams, list_params, scoped
from api.routes import order_lists as routes
from bench import seed_orders
from bench.first_page_anatomy import anatomy, render
from bench.latency import Summary, compare
from bench.sql_capture import Statement, StatementLog, psycopg_url, replay
from db import order_lists
from db.engine import Database, create_database
from domain.order import PaymentMethod

SELLER = Principal(user_id=seed_orders.BIG_SELLER, role=Role.USER)
OPERATOR = Principal(user_id="ops-1", role=Role.OPERATOR)
LIMIT = 20
DEPTH = 10_000  # rows before the deep page: page 501 by offset, or the cursor after row 10,000
STATS_END = datetime(2026, 6, 1, tzinfo=UTC)  # the newest seeded order is just before it
TARGET_RATIO = 1.5  # app p50 / raw p50, first page and cursor pages (from the issue)
DEPTH_SLACK = 1.25  # "as fast as the first page": a deep cursor page's p50 within 25% of it

Call = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    key: str
    name: str
    app: Call


@dataclass(frozen=True)
class Result:
    case: Case
    statements: list[Statement]
    app: Summary
    raw: Summary
    unprepared: Summary

    @property
    def ratio(self) -> float:
        return self.app.p50 / self.raw.p50

    @property
    def ratio_unprepared(self) -> float:
        return self.app.p50 / self.unprepared.p50


async def params(*, page: int = 1, cursor: str | None = None, statuses: list[str] | None = None,
           method: PaymentMethod | None = None) -> ListParams:
    """A list request's parameters through the API's own parsing (the route's dependency)."""
    return await list_params(status=statuses, paymentMethod=method, createdFrom=None,
                             createdTo=None, sortBy="createdAt", sortOrder="desc", page=page,
                             limit=LIMIT, cursor=cursor)


def seller_page(db: Database, p: ListParams) -> Call:
    return lambda: routes.seller_orders(SELLER.user_id, p, SELLER, db)


def seller_list_only(db: Database, p: ListParams) -> Call:
    """The seller list route less its count (which it runs on every numbered page): the
    page alone."""
    p = scoped(p, seller_id=SELLER.user_id)

    async def run() -> dict[str, Any]:
        after = p.after()
        offset = 0 if after is not None else (p.page - 1) * p.limit
        page = await order_lists.list_orders(db, p.filter, sort=p.sort,
                                             descending=p.descending, limit=p.limit,
                                             offset=offset, after=after)
        return {"orders": [presenters.list_item(r, [], "seller") for r in page.rows],
                "nextCursor": p.next_cursor(page.next_key)}
    return run


async def setup(db: Database, raw: psycopg.AsyncConnection) -> tuple[list[Case], dict]:
    """The cases, from the seeded data; checks that the pages agree with one another."""
    info: dict[str, Any] = {}
    # A client walking the list 500 pages deep, as the dashboard would, to get the cursor.
    p = await params()
    started = asyncio.get_running_loop().time()
    for _ in range(DEPTH // LIMIT):
        body = await seller_page(db, p)()
        if body["pagination"]["nextCursor"] is None:
            raise SystemExit(f"{SELLER.user_id} has fewer than {DEPTH + LIMIT:,} orders: "
                             "raise --big-seller-orders")
        p = await params(cursor=body["pagination"]["nextCursor"])
    info["walk_ms_per_page"] = 1000 * (asyncio.get_running_loop().time() - started) / (
        DEPTH // LIMIT)
    deep_cursor = p.cursor
    row = await (await raw.execute(
        "SELECT created_at, id FROM orders WHERE seller_id = %s "
        "ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
        (SELLER.user_id, DEPTH - 1))).fetchone()
    # The cursor's fingerprint covers the route's seller scope, so it is read in that scope.
    assert scoped(p, seller_id=SELLER.user_id).after() == (row[0], row[1]), \
        "the walk did not end after row 10,000"
    by_cursor = await seller_page(db, p)()
    by_offset = await seller_page(db, await params(page=DEPTH // LIMIT + 1))()
    assert by_cursor["orders"] == by_offset["orders"], "cursor and offset pages differ"
    for q in (await params(), await params(page=DEPTH // LIMIT + 1)):
        whole, listed = await seller_page(db, q)(), await seller_list_only(db, q)()
        assert listed == {"orders": whole["orders"],
                          "nextCursor": whole["pagination"]["nextCursor"]}, \
            "the list-only path no longer matches the route: update seller_list_only"
    info["big_seller_orders"] = (await seller_page(db, await params())())["pagination"]["total"]

    number = (await (await raw.execute(
        "SELECT order_number FROM orders WHERE seller_id = %s "
        "ORDER BY created_at DESC, id DESC OFFSET 5000 LIMIT 1",
        (SELLER.user_id,))).fetchone())[0]
    word = seed_orders.BIG_PRODUCT.split()[0].lower()
    filtered = {"statuses": ["shipped", "delivered"], "method": PaymentMethod.ESCROW}
    start = STATS_END - timedelta(days=30)
    info.update(order_number=number, product_word=word, stats_window=[start.isoformat(),
                                                                     STATS_END.isoformat()])
    cases = [
        Case("first_page", "first page, list only", seller_list_only(db, await params())),
        Case("first_page_count", "first page + count (API page 1)",
             seller_page(db, await params())),
        Case("cursor_10k", "cursor page at depth 10,000 (API)",
             seller_page(db, await params(cursor=deep_cursor))),
        Case("offset_10k", "offset 10,000, list only",
             seller_list_only(db, await params(page=DEPTH // LIMIT + 1))),
        Case("offset_10k_count", "offset 10,000 + count (API page 501)",
             seller_page(db, await params(page=DEPTH // LIMIT + 1))),
        Case("filtered", "2 statuses + method, list only",
             seller_list_only(db, await params(**filtered))),
        Case("filtered_count", "2 statuses + method + count (API)",
             seller_page(db, await params(**filtered))),
        Case("search_number", "search order number (seller)",
             lambda: routes.search(SELLER, db, q=number, limit=LIMIT)),
        Case("search_word", f"search product word '{word}' (seller)",
             lambda: routes.search(SELLER, db, q=word, limit=LIMIT)),
        Case("stats_30d", "stats, 30 days (seller)",
             lambda: routes.stats(SELLER, db, start=start, end=STATS_END, sellerId=None)),
        Case("search_common", "search 'product', in 97% (operator)",
             lambda: routes.search(OPERATOR, db, q="product", limit=LIMIT)),
    ]
    return cases, info


async def measure(url: str, args: argparse.Namespace) -> tuple[list[Result], dict]:
    db = create_database(url)
    log = StatementLog()
    connect = psycopg.AsyncConnection.connect
    try:
        async with (await connect(psycopg_url(url), autocommit=True) as raw,
                    await connect(psycopg_url(url), autocommit=True,
                                  prepare_threshold=None) as unprepared):
            cases, info = await setup(db, raw)
            info["server"] = await _server_facts(raw)
            results = []
            for case in cases:
                if args.only and case.key not in args.only:
                    continue
                # Recorded from a second call: a first call may open a pool's first
                # connection, whose setup queries the raw sides would then replay each run.
                await case.app()
                statements = await log.record(case.app)
                app, bare, plain = await compare(
                    [case.app, lambda s=statements: replay(raw, s),
                     lambda s=statements: replay(unprepared, s)],
                    repeat=args.repeat, warmup=args.warmup, budget=args.budget,
                    block=args.block)
                results.append(Result(case, statements, app, bare, plain))
                print(f"  {case.name}: app {app.p50 * 1000:.2f} ms, raw {bare.p50 * 1000:.2f} "
                      f"ms, unprepared {plain.p50 * 1000:.2f} ms (p50, n={app.n})",
                      file=sys.stderr, flush=True)
            if args.anatomy and (not args.only or "first_page" in args.only):
                first = next(r for r in results if r.case.key == "first_page")
                info["anatomy"] = await anatomy(url, db, SELLER.user_id, first.statements[0],
                                                repeat=args.repeat, warmup=args.warmup,
                                                block=args.block)
            if args.explain:
                await explain(raw, results)
    finally:
        await db.dispose()
    return results, info


async def _server_facts(raw: psycopg.AsyncConnection) -> dict[str, str]:
    facts = {}
    for setting in ("server_version", "shared_buffers", "work_mem", "effective_cache_size",
                    "random_page_cost", "jit"):
        facts[setting] = (await (await raw.execute(f"SHOW {setting}")).fetchone())[0]
    orders = (await (await raw.execute("SELECT count(*) FROM orders")).fetchone())[0]
    facts["orders"] = f"{orders:,}"
    size = "SELECT pg_size_pretty(pg_total_relation_size('orders'))"
    facts["orders_size"] = (await (await raw.execute(size)).fetchone())[0]
    return facts


async def explain(raw: psycopg.AsyncConnection, results: list[Result]) -> None:
    for result in results:
        print(f"\n### {result.case.name}")
        for sql, values in result.statements:
            plan = await (await raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql,
                                            values)).fetchall()
            print("\n".join(line for (line,) in plan) + "\n")


def machine() -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:  # Linux
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpu": model, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__, "psycopg": psycopg.__version__}


def report(results: list[Result], info: dict, seeded: str) -> str:
    ms = lambda v: f"{v * 1000:8.2f}"  # noqa: E731
    lines = [f"machine: {machine()}", f"server: {info['server']}", seeded,
             f"big seller: {info['big_seller_orders']:,} orders; the walk to depth "
             f"{DEPTH:,} took {info['walk_ms_per_page']:.2f} ms a page; search number "
             f"{info['order_number']}, stats window {info['stats_window']}", "",
             f"{'case (ms)':42} {'n':>4} {'app p50':>8} {'app p99':>8} {'app mean':>8} "
             f"{'raw p50':>8} {'raw p99':>8} {'raw mean':>8} {'app/raw':>7} "
             f"{'unprep50':>8} {'unprep99':>8} {'app/unp':>7}"]
    for r in results:
        lines.append(f"{r.case.name:42} {r.app.n:4d} {ms(r.app.p50)} {ms(r.app.p99)} "
                     f"{ms(r.app.mean)} {ms(r.raw.p50)} {ms(r.raw.p99)} {ms(r.raw.mean)} "
                     f"{r.ratio:6.2f}x {ms(r.unprepared.p50)} {ms(r.unprepared.p99)} "
                     f"{r.ratio_unprepared:6.2f}x")
    lines += ["", *targets({r.case.key: r for r in results})]
    if "anatomy" in info:
        lines += ["", *render(info["anatomy"])]
    return "\n".join(lines)


def targets(by_key: dict[str, Result]) -> list[str]:
    lines = []
    def verdict(ratio: float) -> str:
        return f"{ratio:.2f}x {'met' if ratio <= TARGET_RATIO else 'MISSED'}"

    for key in ("first_page", "first_page_count", "cursor_10k"):
        if key in by_key:
            r = by_key[key]
            lines.append(f"target app/raw <= {TARGET_RATIO}: {r.case.name}: {verdict(r.ratio)}"
                         f" (against unprepared: {verdict(r.ratio_unprepared)})")
    if "cursor_10k" in by_key and "first_page" in by_key:
        deep, first = by_key["cursor_10k"], by_key["first_page"]
        for side in ("app", "raw"):
            d, f = getattr(deep, side).p50, getattr(first, side).p50
            lines.append(f"target depth 10,000 as fast as page 1 ({side}, p50 <= "
                         f"{DEPTH_SLACK}x the list-only first page): {d * 1000:.2f} vs "
                         f"{f * 1000:.2f} ms = {d / f:.2f}x "
                         f"{'met' if d / f <= DEPTH_SLACK else 'MISSED'}")
    return lines


def as_json(results: list[Result], info: dict, seeded: str) -> dict:
    info = {**info, "anatomy": {k: vars(v) for k, v in info.get("anatomy", {}).items()}}
    return {"machine": machine(), "info": info, "seeded": seeded,
            "results": [{"case": r.case.key, "name": r.case.name,
                         "statements": [sql for sql, _ in r.statements],
                         "app": vars(r.app), "raw": vars(r.raw),
                         "unprepared": vars(r.unprepared), "ratio": r.ratio,
                         "ratio_unprepared": r.ratio_unprepared}
                        for r in results]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_bench",
                                     description=__doc__.split("\n\n")[0])
    seed_orders.add_bench_database_arguments(parser)
    parser.add_argument("--repeat", type=int, default=200, help="timed runs per side per case")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first")
    parser.add_argument("--block", type=int, default=10,
                        help="runs of one side in a row, the first untimed (1: single calls "
                             "taking turns, each waking an idle database backend)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds per case after which it stops early (slow cases)")
    parser.add_argument("--only", nargs="*", help="case keys to run (default all)")
    parser.add_argument("--no-anatomy", dest="anatomy", action="store_false",
                        help="skip the layer-by-layer breakdown of the first page")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN (ANALYZE, BUFFERS) of every statement at the end")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def run(url: str, args: argparse.Namespace, seeded: str) -> None:
    print(seeded, file=sys.stderr, flush=True)
    results, info = asyncio.run(measure(url, args))
    print(report(results, info, seeded))
    if args.json:
        args.json.write_text(json.dumps(as_json(results, info, seeded), indent=2, default=str))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with seed_orders.bench_database(args, "oms_dashboards") as (url, seeded):
        run(url, args, seeded)


if __name__ == "__main__":
    main()
