"""Keeping an order findable: the text search looks in, and SQLite's FTS5 copy of it.

PostgreSQL indexes `orders.search_text` itself (a GIN expression index); SQLite searches the
FTS5 table `orders_fts`, which the projection keeps in step here.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


def compose(*parts: str | None) -> str:
    """Order number, product, buyer, seller, store and tracking number, as one document.

    Punctuation becomes spaces, so both engines see the same words: PostgreSQL's parser would
    otherwise read "ORD-2026-000004" as "ord" and the negative numbers "-2026", "-000004".
    """
    joined = " ".join(p for p in parts if p)
    return re.sub(r"[\W_]+", " ", joined).strip()[:4000]


async def index_order(conn: AsyncConnection, order_id: str, document: str, *,
                      new: bool = False) -> None:
    """`new`: the order row was inserted in this same transaction, so it has no entry yet."""
    if conn.dialect.name != "sqlite":
        return
    if not new:  # replace the entry: correct after a change, and idempotent under retry
        await conn.execute(text("DELETE FROM orders_fts WHERE order_id = :id"),
                           {"id": order_id})
    await conn.execute(text("INSERT INTO orders_fts (order_id, body) VALUES (:id, :body)"),
                       {"id": order_id, "body": document})
