"""The webhook inbox: every accepted event once, with what became of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.ids import row_id
from db.upsert import insert_ignore

inbox = t.webhook_events


async def record(conn: AsyncConnection, *, source: str, event_id: str, event_type: str,
                 order_id: str | None, workflow_id: str | None, payload: dict[str, Any],
                 status: str, now: datetime) -> bool:
    """Insert the event unless (source, event_id) is there already; True if this call did."""
    inserted = await insert_ignore(conn, inbox, {
        "id": row_id("webhook", source, event_id),
        "source": source, "event_id": event_id, "event_type": event_type[:50],
        "order_id": order_id, "workflow_id": workflow_id, "payload": payload,
        "status": status, "received_at": now,
        "delivered_at": now if status == "accepted" else None,
    })
    return inserted == 1


async def look_up(conn: AsyncConnection, source: str, event_id: str, order_id: str | None
                  ) -> tuple[bool, str | None]:
    """Whether the event is in the inbox already, and the workflow of the order it names: one
    statement, since every webhook asks both before anything else."""
    seen = exists().where(inbox.c.source == source, inbox.c.event_id == event_id)
    workflow = (select(t.orders.c.workflow_id).where(t.orders.c.id == order_id)
                .scalar_subquery())
    row = (await conn.execute(select(seen.label("seen"), workflow.label("workflow_id")))).one()
    return bool(row.seen), row.workflow_id


async def mark(conn: AsyncConnection, source: str, event_id: str, status: str, *,
               only_from: str) -> None:
    """Move an event on, unless something else (the order claiming it) already did."""
    await conn.execute(update(inbox).where(
        inbox.c.source == source, inbox.c.event_id == event_id, inbox.c.status == only_from,
    ).values(status=status, delivered_at=datetime.now(UTC)))
