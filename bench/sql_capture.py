"""The statements the app sends to psycopg, and their replay on bare psycopg: the same SQL
text and bound values, without SQLAlchemy, the pool or a transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

Statement = tuple[str, Any]  # SQL in psycopg's %(name)s style, and its parameters


class StatementLog:
    """Records what reaches psycopg's cursors while `record` runs: the final SQL, with IN lists
    expanded and values already converted, whether it came through SQLAlchemy or straight
    from db.driver_reads. BEGIN and ROLLBACK do not go through a cursor, so they are not in
    it; neither are pool pings (empty statements)."""

    async def record(self, call: Callable[[], Awaitable[Any]]) -> list[Statement]:
        seen: list[Statement] = []
        execute = psycopg.AsyncCursor.execute

        async def recording(cursor, query, params=None, **kwargs):
            if str(query).strip(" ;"):
                seen.append((query, params))
            return await execute(cursor, query, params, **kwargs)

        psycopg.AsyncCursor.execute = recording  # type: ignore[method-assign]
        try:
            await call()
            return seen
        finally:
            psycopg.AsyncCursor.execute = execute  # type: ignore[method-assign]


async def replay(conn: psycopg.AsyncConnection, statements: list[Statement]) -> None:
    """Run each statement and fetch all its rows as tuples (psycopg's own type loaders)."""
    for sql, params in statements:
        cursor = await conn.execute(sql, params)
        await cursor.fetchall()


def psycopg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
