"""Engine creation. SQLite gets WAL, a busy timeout and IMMEDIATE write transactions so
concurrent activities queue for the write lock instead of failing with 'database is locked'."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

WRITE_OPTION = "oms_write"


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine  # reads
    writer: AsyncEngine  # same pool; on SQLite its transactions take the write lock up front

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_database(url: str, *, echo: bool = False) -> Database:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _tune_sqlite(engine)
    else:
        engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10,
                                     pool_pre_ping=True)
    return Database(engine=engine, writer=engine.execution_options(**{WRITE_OPTION: True}))


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
