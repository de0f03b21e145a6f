"""The outbox of order updates for live clients (WebSocket), and reading it back.

Written in the transaction of the change it announces, so an update is published exactly when
its change commits. On PostgreSQL a NOTIFY, delivered at commit, wakes every API process;
on SQLite the API processes poll the table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.upsert import insert_ignore
from domain.commands import StatusChangeRecord

CHANNEL = "oms_order_updates"
u = t.order_updates


async def announce(conn: AsyncConnection, rec: StatusChangeRecord,
                   timeline_entry: dict[str, Any]) -> None:
    inserted = await insert_ignore(conn, u, {
        "event_key": f"{rec.order_id}:{rec.sequence}",
        "order_id": rec.order_id,
        "order_number": rec.order_number,
        "buyer_id": rec.buyer_id,
        "seller_id": rec.seller_id,
        "status": rec.new_status.value,
        "previous_status": rec.previous_status.value if rec.previous_status else None,
        "timeline_entry": timeline_entry,
        "created_at": rec.occurred_at,
    })
    if inserted and conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


async def after(conn: AsyncConnection, seq: int, *, user_id: str | None = None,
                limit: int = 500) -> list[Row]:
    """Updates after `seq`, oldest first; only one user's orders when `user_id` is given."""
    query = select(u).where(u.c.seq > seq).order_by(u.c.seq).limit(limit)
    if user_id is not None:
        query = query.where(or_(u.c.buyer_id == user_id, u.c.seller_id == user_id))
    return list((await conn.execute(query)).all())


async def last_seq(conn: AsyncConnection) -> int:
    return (await conn.execute(select(func.coalesce(func.max(u.c.seq), 0)))).scalar_one()
