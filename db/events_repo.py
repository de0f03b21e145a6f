"""Writes the order workflow makes besides status changes: timeline-only events, alerts and
inventory given back. (The webhook inbox has its own home: webhooks/inbox.py.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.ids import row_id
from db.upsert import dialect_insert, insert_ignore
from domain.commands import (
    AlertCommand,
    InventoryRestoreCommand,
    RefundRecord,
    ShipmentRecord,
    TimelineRecord,
)
from domain.money import to_wire


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
    """Give stock back to the listings: a partial refund's lines once per refund, or, for a
    cancelled order, once, every unit not given back already."""
    if cmd.refund_id is not None:
        return await _restock_refund(conn, cmd)
    marked = await conn.execute(
        update(t.orders)
        .where(t.orders.c.id == cmd.order_id, t.orders.c.inventory_restored_at.is_(None))
        .values(inventory_restored_at=cmd.at)
    )
    if marked.rowcount != 1:
        return False
    items = t.order_items
    lines = (await conn.execute(
        select(items.c.id, items.c.listing_id, items.c.quantity - items.c.restocked_quantity)
        .where(items.c.order_id == cmd.order_id).order_by(items.c.listing_id))).all()
    if not lines:  # every order has its lines; this is what the workflow named, regardless
        await _restock(conn, cmd.listing_id, cmd.quantity, cmd.at)
    for item_id, listing_id, left in lines:
        await _restock(conn, listing_id, left, cmd.at)
        await conn.execute(update(items).where(items.c.id == item_id)
                           .values(restocked_quantity=items.c.quantity))
    return True


async def _restock_refund(conn: AsyncConnection, cmd: InventoryRestoreCommand) -> bool:
    refunds, items = t.order_refunds, t.order_items
    marked = await conn.execute(
        update(refunds)
        .where(refunds.c.order_id == cmd.order_id, refunds.c.refund_id == cmd.refund_id,
               refunds.c.restocked_at.is_(None))
        .values(restocked_at=cmd.at))
    if marked.rowcount != 1:
        return False
    for line in sorted(cmd.lines, key=lambda x: x.listing_id):
        await _restock(conn, line.listing_id, line.quantity, cmd.at)
        await conn.execute(
            update(items)
            .where(items.c.order_id == cmd.order_id, items.c.listing_id == line.listing_id)
            .values(restocked_quantity=items.c.restocked_quantity + line.quantity))
    return True


async def _restock(conn: AsyncConnection, listing_id: str, quantity: int, at: datetime) -> None:
    if quantity > 0:
        await conn.execute(
            update(t.listings).where(t.listings.c.id == listing_id)
            .values(inventory=t.listings.c.inventory + quantity, updated_at=at))


async def record_refund(conn: AsyncConnection, rec: RefundRecord) -> None:
    """A partial refund's row, its timeline entry and a notification to each party, once."""
    refund = rec.refund
    await insert_ignore(conn, t.order_refunds, {
        "id": row_id(rec.order_id, "refund", refund.refund_id),
        "order_id": rec.order_id,
        "refund_id": refund.refund_id,
        "amount": refund.amount,
        "currency": rec.currency,
        "reason": refund.reason[:500],
        "lines": [{"listingId": x.listing_id, "quantity": x.quantity} for x in refund.lines],
        "actor_kind": refund.actor_kind.value,
        "requested_by": refund.actor_id,
        "payment_key": rec.payment_key,
        "created_at": refund.at,
    })
    amount = to_wire(refund.amount, rec.currency)
    await record_timeline(conn, TimelineRecord(
        order_id=rec.order_id, event_key=f"refund:{refund.refund_id}", event_type="refund",
        description=rec.description, source=refund.actor_kind.value, occurred_at=refund.at,
        metadata={"refundId": refund.refund_id, "amount": amount, "reason": refund.reason}))
    data = {"orderId": rec.order_id, "orderNumber": rec.order_number,
            "refundId": refund.refund_id, "amount": amount, "currency": rec.currency}
    await insert_ignore(conn, t.notifications, [
        {"id": row_id(rec.order_id, "refund-notice", refund.refund_id, user_id),
         "user_id": user_id, "order_id": rec.order_id, "type": "order_partially_refunded",
         "title": "Part of the order refunded",
         "message": f"Order {rec.order_number}: {rec.description}", "data": data,
         "created_at": refund.at}
        for user_id in (rec.buyer_id, rec.seller_id)])


async def record_shipment(conn: AsyncConnection, rec: ShipmentRecord) -> None:
    """Upsert the parcel, never to an older version, and the order's fulfilment with it."""
    parcel, s = rec.parcel, t.shipments
    values = {
        "carrier": parcel.carrier, "status": parcel.status.value,
        "lines": [{"listingId": x.listing_id, "quantity": x.quantity} for x in parcel.lines],
        "estimated_delivery": parcel.estimated_delivery, "shipped_at": parcel.shipped_at,
        "delivered_at": parcel.delivered_at, "version": parcel.version,
        "updated_at": datetime.now(parcel.shipped_at.tzinfo),
    }
    insert = dialect_insert(conn, s).values(
        id=row_id(rec.order_id, "shipment", parcel.tracking_number), order_id=rec.order_id,
        tracking_number=parcel.tracking_number, **values)
    await conn.execute(insert.on_conflict_do_update(
        index_elements=[s.c.order_id, s.c.tracking_number], set_=values,
        where=s.c.version < insert.excluded.version))
    await conn.execute(update(t.orders).where(t.orders.c.id == rec.order_id)
                       .values(fulfilment=rec.fulfilment))
    if rec.timeline_entry:
        await record_timeline(conn, TimelineRecord(
            order_id=rec.order_id, event_key=f"parcel:{parcel.tracking_number}:{parcel.version}",
            event_type="parcel", description=rec.timeline_entry, source=rec.actor,
            occurred_at=parcel.shipped_at, status=parcel.status,
            metadata={k: v for k, v in (("trackingNumber", parcel.tracking_number),
                                        ("carrier", parcel.carrier)) if v}))
