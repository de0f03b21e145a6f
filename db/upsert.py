"""Dialect-aware INSERT ... ON CONFLICT helpers (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def dialect_insert(conn: AsyncConnection, table: Table):
    """INSERT for the connection's dialect, with ON CONFLICT support."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def insert_ignore(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]] | Mapping[str, Any]
) -> int:
    """Insert rows whose key is not there yet; a row already there is left as it is.

    Returns how many rows were inserted."""
    if not rows:
        return 0
    # preserve_rowcount: without it an INSERT on psycopg reports -1 under SQLAlchemy 2.1, and
    # the webhook inbox took every event it recorded on PostgreSQL for a duplicate.
    result = await conn.execute(dialect_insert(conn, table).values(rows).on_conflict_do_nothing()
                                .execution_options(preserve_rowcount=True))
    return result.rowcount


async def upsert(
    conn: AsyncConnection, table: Table, row: Mapping[str, Any], key: Sequence[str],
    keep: Sequence[str] = (),
) -> None:
    """Insert `row`, or update every column but `key` and `keep` where the key exists."""
    stmt = dialect_insert(conn, table).values(row)
    updates = {c: stmt.excluded[c] for c in row if c not in key and c not in keep}
    await conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=updates))
