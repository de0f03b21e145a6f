"""Engine creation. SQLite gets WAL, a busy timeout and IMMEDIATE write transactions so
concurrent activities queue for the write lock instead of failing with 'database is locked'."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

WRITE_OPTION = "oms_write"

# While PostgreSQL is down a request answers 503 within about this long instead of queueing
# for a connection (both pools' defaults are 30 s): the longest a request waits for a pooled
# connection. Opening a new one gives up after CONNECT_TIMEOUT (libpq's minimum is 2 s), which
# only a server that does not answer at all takes; a stopped one refuses at once.
POOL_TIMEOUT = 1.5
CONNECT_TIMEOUT = 2


@dataclass(frozen=True)
class Database:
    reader: AsyncEngine  # reads (on PostgreSQL a pool of their own, in autocommit)
    writer: AsyncEngine  # on SQLite the same pool, its transactions taking the write lock
    # SQLite has one writer at a time. Writers of this process queue here, in order, instead
    # of meeting in SQLite's busy handler, which backs off with sleeps of up to 100 ms and
    # turned contention into latency (see BENCHMARKS.md). None on PostgreSQL.
    write_lock: asyncio.Lock | None = None
    # PostgreSQL: connections for the hottest reads (db.driver_reads), straight from psycopg's
    # pool, which hands one out in a tenth of the time SQLAlchemy's async pool takes
    # (BENCHMARKS.md, "Performance machinery").
    driver_pool: AsyncConnectionPool | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed on success and rolled back on error."""
        if self.write_lock is None:
            async with self.writer.begin() as conn:
                yield conn
            return
        async with self.write_lock, self.writer.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        if self.driver_pool is not None:
            await self.driver_pool.close()
        await self.writer.dispose()
        if self.reader.sync_engine.pool is not self.writer.sync_engine.pool:
            await self.reader.dispose()


def create_database(url: str, *, echo: bool = False) -> Database:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return Database(reader=engine, writer=engine.execution_options(**{WRITE_OPTION: True}),
                        write_lock=asyncio.Lock())
    # Sessions in UTC, so timestamps read on the driver directly (db.driver_reads) come back
    # as UtcDateTime returns them.
    utc = {"options": "-c TimeZone=UTC", "connect_timeout": CONNECT_TIMEOUT}
    writer = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10,
                                 pool_pre_ping=True, pool_timeout=POOL_TIMEOUT, connect_args=utc)
    # Reads have a pool of their own, in autocommit: under READ COMMITTED each statement has
    # its own snapshot anyway, and without BEGIN/ROLLBACK a dashboard read is one round trip
    # and keeps psycopg's prepared statements. No pre-ping either (another round trip, a
    # large share of a first page): a read on a connection the server closed is run again on a
    # new one (db.driver_reads), or fails once with 503; the pool replaces old connections.
    # Last in, first out: when few reads run at once they reuse the connection whose server
    # process has just run, instead of waking idle ones in turn (BENCHMARKS.md).
    reader = create_async_engine(url, echo=echo, pool_size=5, max_overflow=10,
                                 isolation_level="AUTOCOMMIT", pool_recycle=1800,
                                 pool_use_lifo=True, pool_timeout=POOL_TIMEOUT,
                                 connect_args=utc)
    # Opened on first use (it needs the event loop); the same session settings as the reader.
    driver_pool = AsyncConnectionPool(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
        min_size=1, max_size=10, open=False, name="oms-reads", timeout=POOL_TIMEOUT,
        # Reconnects after an outage at most this far apart (the pool's default backs off to
        # minutes), so reads come back within seconds of the database.
        reconnect_timeout=POOL_TIMEOUT * 4,
        kwargs={"autocommit": True, **utc})
    return Database(reader=reader, writer=writer, driver_pool=driver_pool)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (SQLAlchemy's
        # documented recipe for aiosqlite), so the begin hook below can choose the mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
