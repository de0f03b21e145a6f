"""Where the app's time goes on a seller's first page (list only): the same page built up layer
by layer, from the bare statement to the route's path, all timed in turns.

What the app's connection does per request, as the server log shows it: `;` (the pool's
pre-ping), BEGIN, the SELECT, ROLLBACK (the pool's reset on return). psycopg drops its prepared
statements on every ROLLBACK, so the app's statements are parsed and planned on every request.
The last two layers are the proposed remedy: read-only connections in autocommit (which also
keeps psycopg's prepared statements, so from the sixth request on the SELECT is not planned).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api import presenters
from bench.latency import Call, Summary, compare
from bench.sql_capture import Statement, psycopg_url, replay
from db import order_lists
from db.engine import Database

LIMIT = 20


def _list(engine: AsyncEngine, f: order_lists.OrderFilter, *, present: bool) -> Call:
    async def run():
        async with engine.connect() as conn:
            page = await order_lists.list_orders(conn, f, sort="createdAt", descending=True,
                                                 limit=LIMIT)
        return [presenters.list_item(r, "seller") for r in page.rows] if present else page
    return run


@contextlib.asynccontextmanager
async def _layers(url: str, db: Database, seller_id: str,
                  statement: Statement) -> AsyncIterator[dict[str, Call]]:
    f = order_lists.OrderFilter(seller_id=seller_id)
    sql, values = statement
    bare = await psycopg.AsyncConnection.connect(psycopg_url(url), autocommit=True,
                                                 prepare_threshold=None)
    in_tx = await psycopg.AsyncConnection.connect(psycopg_url(url), prepare_threshold=None)
    # The same pool settings as db.engine.create_database, less the ping or plus autocommit.
    no_ping = create_async_engine(url, pool_size=10, max_overflow=10)
    autocommit = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                                     isolation_level="AUTOCOMMIT")
    autocommit_no_ping = create_async_engine(url, pool_size=10, max_overflow=10,
                                             isolation_level="AUTOCOMMIT")
    held = await db.engine.connect()
    # Its transaction stays open, so psycopg would start preparing; the layers up to the
    # app's path all run unprepared, as the app does, to differ by one thing at a time.
    (await held.get_raw_connection()).driver_connection.prepare_threshold = None

    async def transaction() -> None:
        await (await in_tx.execute(sql, values)).fetchall()
        await in_tx.rollback()

    async def on_held():
        return await order_lists.list_orders(held, f, sort="createdAt", descending=True,
                                             limit=LIMIT)
    try:
        yield {
            "psycopg, autocommit, unprepared": lambda: replay(bare, [statement]),
            "psycopg, BEGIN + ROLLBACK": transaction,
            "SQLAlchemy list_orders, one held connection": on_held,
            "+ pool checkout and return (no pre-ping)": _list(no_ping, f, present=False),
            "+ pre-ping (db.engine as configured)": _list(db.engine, f, present=False),
            "+ list_item on the rows (the app's path)": _list(db.engine, f, present=True),
            "proposed: autocommit engine, pre-ping": _list(autocommit, f, present=True),
            "proposed: autocommit engine, no pre-ping": _list(autocommit_no_ping, f,
                                                              present=True),
        }
    finally:
        await held.close()
        for engine in (no_ping, autocommit, autocommit_no_ping):
            await engine.dispose()
        await bare.close()
        await in_tx.close()


async def anatomy(url: str, db: Database, seller_id: str, statement: Statement, *,
                  repeat: int, warmup: int) -> dict[str, Summary]:
    async with _layers(url, db, seller_id, statement) as layers:
        summaries = await compare(list(layers.values()), repeat=repeat, warmup=warmup,
                                  budget=120)
    return dict(zip(layers, summaries, strict=True))


def render(layers: dict[str, Summary]) -> list[str]:
    lines = [f"{'first page, list only: layer':46} {'p50':>8} {'p99':>8} {'mean':>8}  (ms)"]
    for name, s in layers.items():
        lines.append(f"{name:46} {s.p50 * 1000:8.3f} {s.p99 * 1000:8.3f} {s.mean * 1000:8.3f}")
    return lines
