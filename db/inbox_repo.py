"""The webhook inbox: every accepted event once, with what became of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.ids import row_id
from db.upsert import insert_ignore

inbox = t.webhook_events


async def record(conn: AsyncConnection, *, source: str, event_id: str, event_type: str,
                 order_id: str | None, workflow_id: str | None, payload: dict[str, Any],
                 status: str, now: datetime) -> tuple[Row, bool]:
    """Insert the event unless (source, event_id) is there already.

    Returns the stored row and whether this call inserted it."""
    inserted = await insert_ignore(conn, inbox, {
        "id": row_id("webhook", source, event_id),
        "source": source, "event_id": event_id, "event_type": event_type[:50],
        "order_id": order_id, "workflow_id": workflow_id, "payload": payload,
        "status": status, "received_at": now,
    })
    row = (await conn.execute(
        select(inbox.c.id, inbox.c.status, inbox.c.workflow_id, inbox.c.payload)
        .where(inbox.c.source == source, inbox.c.event_id == event_id)
    )).one()
    return row, inserted == 1


async def mark(conn: AsyncConnection, row_id_: str, status: str, *, only_from: str,
               at: datetime | None = None) -> None:
    """Move an event on, unless something else (the order claiming it) already did."""
    values: dict[str, Any] = {"status": status}
    if at is not None:
        values["delivered_at"] = at
    await conn.execute(update(inbox).where(inbox.c.id == row_id_, inbox.c.status == only_from)
                       .values(**values))


async def workflow_of_order(conn: AsyncConnection, order_id: str) -> str | None:
    return (await conn.execute(select(t.orders.c.workflow_id)
                               .where(t.orders.c.id == order_id))).scalar_one_or_none()


async def events(conn: AsyncConnection, *, source: str | None = None) -> list[Row]:
    query = select(inbox).order_by(inbox.c.received_at)
    if source:
        query = query.where(inbox.c.source == source)
    return list((await conn.execute(query)).all())
