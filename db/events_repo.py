"""Writes the order workflow makes besides status changes: timeline-only events, alerts and
inventory given back. (The webhook inbox has its own home: webhooks/inbox.py.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.ids import row_id
from db.upsert import insert_ignore
from domain.commands import AlertCommand, InventoryRestoreCommand, TimelineRecord


async def record_timeline(conn: AsyncConnection, rec: TimelineRecord) -> None:
    await insert_ignore(
        conn,
        t.order_tracking_events,
        {
            "id": row_id(rec.order_id, "timeline", rec.event_key),
            "order_id": rec.order_id,
            # Sequence -1 marks entries that did not change the status.
            "sequence": -1,
            "event_type": rec.event_type,
            "status": rec.status.value if rec.status else None,
            "description": rec.description[:500],
            "event_data": rec.metadata,
            "event_source": rec.source,
            "location": rec.location,
            "occurred_at": rec.occurred_at,
            "recorded_at": datetime.now(rec.occurred_at.tzinfo),
        },
    )


async def raise_alert(conn: AsyncConnection, cmd: AlertCommand) -> None:
    await insert_ignore(
        conn,
        t.alerts,
        {
            "id": cmd.alert_id,
            "order_id": cmd.order_id,
            "order_number": cmd.order_number,
            "seller_id": cmd.seller_id,
            "kind": cmd.kind,
            "order_status": cmd.status.value,
            "message": cmd.message[:500],
            "raised_at": cmd.raised_at,
        },
    )
    data = {"orderId": cmd.order_id, "orderNumber": cmd.order_number, "alert": cmd.kind}
    await insert_ignore(
        conn,
        t.notifications,
        [
            {
                "id": row_id(cmd.alert_id, "notification", user_id),
                "user_id": user_id,
                "order_id": cmd.order_id,
                "type": f"alert_{cmd.kind}",
                "title": "Order needs attention",
                "message": cmd.message,
                "data": data,
                "created_at": cmd.raised_at,
            }
            for user_id in cmd.notify
        ],
    )


async def restore_inventory(conn: AsyncConnection, cmd: InventoryRestoreCommand) -> bool:
    """Give a cancelled order's stock back to its listings, every line's, at most once per
    order."""
    marked = await conn.execute(
        update(t.orders)
        .where(t.orders.c.id == cmd.order_id, t.orders.c.inventory_restored_at.is_(None))
        .values(inventory_restored_at=cmd.at)
    )
    if marked.rowcount != 1:
        return False
    items = t.order_items
    lines = (await conn.execute(select(items.c.listing_id, items.c.quantity)
                                .where(items.c.order_id == cmd.order_id)
                                .order_by(items.c.listing_id))).all()
    # Every order has its lines in order_items; the command's own line is what the workflow
    # knew of when each order had one.
    for listing_id, quantity in lines or [(cmd.listing_id, cmd.quantity)]:
        await conn.execute(
            update(t.listings)
            .where(t.listings.c.id == listing_id)
            .values(inventory=t.listings.c.inventory + quantity, updated_at=cmd.at)
        )
    return True
