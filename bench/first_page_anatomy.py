"""Where the app's time goes on a seller's first page (list only): the same page built up layer
by layer, from the bare statement to the route's path, all timed in turns.

The app compiles the page's statement once and runs it on psycopg's cursor (db.driver_reads),
on a connection from psycopg's pool (autocommit, no pre-ping). The middle layers show what
SQLAlchemy's async pool would add instead; the last two are how the same page ran before:
through SQLAlchemy's `execute`, then with the pool's pre-ping as well.
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


def _on_sqlalchemy_pool(engine: AsyncEngine, statement: Statement) -> Call:
    """The same SQL on the driver, on a connection from SQLAlchemy's pool instead."""
    sql, values = statement

    async def run():
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            return await (await driver.execute(sql, values)).fetchall()
    return run


def _app(db: Database, f: order_lists.OrderFilter, *, present: bool) -> Call:
    """The page as the route reads it: a connection from psycopg's pool."""
    async def run():
        page = await order_lists.list_orders(db, f, sort="createdAt", descending=True,
                                             limit=LIMIT)
        return [presenters.list_item(r, [], "seller") for r in page.rows] if present else page
    return run


def _sqlalchemy(engine: AsyncEngine, f: order_lists.OrderFilter) -> Call:
    """The page as it ran before: SQLAlchemy builds, caches and executes the statement."""
    async def run():
        async with engine.connect() as conn:
            rows = (await conn.execute(order_lists.list_query(
                f, sort="createdAt", descending=True, limit=LIMIT))).all()
        return [presenters.list_item(r, [], "seller") for r in rows]
    return run


@contextlib.asynccontextmanager
async def _layers(url: str, db: Database, seller_id: str,
                  statement: Statement) -> AsyncIterator[dict[str, Call]]:
    f = order_lists.OrderFilter(seller_id=seller_id)
    prepared = await psycopg.AsyncConnection.connect(psycopg_url(url), autocommit=True)
    bare = await psycopg.AsyncConnection.connect(psycopg_url(url), autocommit=True,
                                                 prepare_threshold=None)
    # The read pool's settings (db.engine.create_database) with the pre-ping it used to have.
    pinged = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                                 isolation_level="AUTOCOMMIT")
    try:
        yield {
            "psycopg, held connection, prepared (raw)": lambda: replay(prepared, [statement]),
            "psycopg, held connection, unprepared": lambda: replay(bare, [statement]),
            "SQLAlchemy pool checkout, then the driver": _on_sqlalchemy_pool(db.engine,
                                                                             statement),
            "list_orders: psycopg pool and the driver": _app(db, f, present=False),
            "+ list_item on the rows (the app's path)": _app(db, f, present=True),
            "before: SQLAlchemy execute, read pool": _sqlalchemy(db.engine, f),
            "before: SQLAlchemy execute, pre-ping": _sqlalchemy(pinged, f),
        }
    finally:
        await pinged.dispose()
        await bare.close()
        await prepared.close()


async def anatomy(url: str, db: Database, seller_id: str, statement: Statement, *,
                  repeat: int, warmup: int, block: int = 1) -> dict[str, Summary]:
    async with _layers(url, db, seller_id, statement) as layers:
        summaries = await compare(list(layers.values()), repeat=repeat, warmup=warmup,
                                  budget=120, block=block)
    return dict(zip(layers, summaries, strict=True))


def render(layers: dict[str, Summary]) -> list[str]:
    lines = [f"{'first page, list only: layer':46} {'p50':>8} {'p99':>8} {'mean':>8}  (ms)"]
    for name, s in layers.items():
        lines.append(f"{name:46} {s.p50 * 1000:8.3f} {s.p99 * 1000:8.3f} {s.mean * 1000:8.3f}")
    return lines
