"""The statements an async SQLAlchemy engine sends to its driver, and their replay on bare
psycopg: the same SQL text and bound values, without SQLAlchemy, the pool or a transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

Statement = tuple[str, Any]  # SQL in psycopg's %(name)s style, and its parameters


class StatementLog:
    """Records what reaches the DBAPI cursor while `record` runs: the final SQL, with IN lists
    expanded and values already converted by the column types. Pool pings, BEGIN and ROLLBACK
    do not pass through the cursor hook, so they are not in it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._seen: list[Statement] | None = None
        event.listen(engine.sync_engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn, _cursor, statement, parameters, _context, executemany) -> None:
        if self._seen is not None:
            if executemany:
                raise ValueError("executemany is not replayed")
            self._seen.append((statement, parameters))

    async def record(self, call: Callable[[], Awaitable[Any]]) -> list[Statement]:
        self._seen = []
        try:
            await call()
            return self._seen
        finally:
            self._seen = None


async def replay(conn: psycopg.AsyncConnection, statements: list[Statement]) -> None:
    """Run each statement and fetch all its rows as tuples (psycopg's own type loaders)."""
    for sql, params in statements:
        cursor = await conn.execute(sql, params)
        await cursor.fetchall()


def psycopg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
