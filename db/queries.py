"""Reads for the API's order, notification and alert routes, and one write:
`mark_notification_read`, a user marking their own notification read (the route runs it inside
`Database.transaction()`). The orders themselves are written only by the workflow's projection
(`db.orders_repo`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from db import tables as t

_buyer = aliased(t.users, name="buyer")
_seller = aliased(t.users, name="seller")


async def order_parties(conn: AsyncConnection, order_id: str) -> Row | None:
    """The fields that decide who may see or change an order, and how to reach its workflow."""
    return (
        await conn.execute(
            select(t.orders.c.id, t.orders.c.workflow_id, t.orders.c.buyer_id,
                   t.orders.c.seller_id, t.orders.c.status, t.orders.c.currency)
            .where(t.orders.c.id == order_id)
        )
    ).first()


async def order_with_people(conn: AsyncConnection, order_id: str) -> Row | None:
    query = (
        select(
            t.orders,
            _buyer.c.name.label("buyer_name"),
            _buyer.c.email.label("buyer_email"),
            _seller.c.name.label("seller_name"),
            _seller.c.store_name.label("seller_store_name"),
        )
        .outerjoin(_buyer, _buyer.c.id == t.orders.c.buyer_id)
        .outerjoin(_seller, _seller.c.id == t.orders.c.seller_id)
        .where(t.orders.c.id == order_id)
    )
    return (await conn.execute(query)).first()


async def order_items(conn: AsyncConnection, order_id: str) -> list[Row]:
    query = select(t.order_items).where(t.order_items.c.order_id == order_id).order_by(
        t.order_items.c.created_at, t.order_items.c.id
    )
    return list((await conn.execute(query)).all())


async def payment_operations(conn: AsyncConnection, workflow_id: str) -> list[Row]:
    """The refunds and releases the order's provider confirmed, oldest first."""
    ops = t.payment_operations
    query = (select(ops).where(ops.c.workflow_id == workflow_id)
             .order_by(ops.c.created_at, ops.c.id))
    return list((await conn.execute(query)).all())


async def order_refunds(conn: AsyncConnection, order_id: str) -> list[Row]:
    """The order's partial refunds, oldest first, each with the status of its provider
    refund (None while it is under way, and for an escrow's, paid at its settlement)."""
    refunds, ops = t.order_refunds, t.payment_operations
    query = (select(refunds, ops.c.status.label("provider_status"),
                    ops.c.external_id.label("provider_id"))
             .outerjoin(ops, ops.c.idempotency_key == refunds.c.payment_key)
             .where(refunds.c.order_id == order_id)
             .order_by(refunds.c.created_at, refunds.c.id))
    return list((await conn.execute(query)).all())


async def shipments(conn: AsyncConnection, order_id: str) -> list[Row]:
    """The order's parcels, in the order they left."""
    s = t.shipments
    query = select(s).where(s.c.order_id == order_id).order_by(s.c.shipped_at, s.c.id)
    return list((await conn.execute(query)).all())


async def timeline(conn: AsyncConnection, order_id: str) -> list[Row]:
    query = (
        select(t.order_tracking_events)
        .where(t.order_tracking_events.c.order_id == order_id)
        .order_by(t.order_tracking_events.c.occurred_at, t.order_tracking_events.c.sequence)
    )
    return list((await conn.execute(query)).all())


async def history(conn: AsyncConnection, order_id: str) -> list[Row]:
    query = (
        select(t.order_status_history)
        .where(t.order_status_history.c.order_id == order_id)
        .order_by(t.order_status_history.c.sequence)
    )
    return list((await conn.execute(query)).all())


async def notifications_page(
    conn: AsyncConnection, user_id: str, *, limit: int, offset: int, unread_only: bool = False
) -> list[Row]:
    query = (
        select(t.notifications)
        .where(t.notifications.c.user_id == user_id)
        .order_by(t.notifications.c.created_at.desc(), t.notifications.c.id)
        .limit(limit)
        .offset(offset)
    )
    if unread_only:
        query = query.where(t.notifications.c.read_at.is_(None))
    return list((await conn.execute(query)).all())


async def unread_notifications(conn: AsyncConnection, user_id: str) -> int:
    n = t.notifications
    return (await conn.execute(select(func.count()).select_from(n).where(
        n.c.user_id == user_id, n.c.read_at.is_(None)))).scalar_one()


async def alerts_page(conn: AsyncConnection, *, seller_id: str | None, kind: str | None,
                      limit: int, offset: int) -> list[Row]:
    """Newest first; only one seller's when `seller_id` is given."""
    query = select(t.alerts).order_by(t.alerts.c.raised_at.desc(), t.alerts.c.id)
    if seller_id is not None:
        query = query.where(t.alerts.c.seller_id == seller_id)
    if kind is not None:
        query = query.where(t.alerts.c.kind == kind)
    return list((await conn.execute(query.limit(limit).offset(offset))).all())


# The one write: a user's own read mark.

async def mark_notification_read(conn: AsyncConnection, user_id: str, notification_id: str,
                                 at: datetime) -> bool:
    """True if the notification is the user's (read now, or already)."""
    n = t.notifications
    mine = (await conn.execute(select(n.c.read_at).where(
        n.c.id == notification_id, n.c.user_id == user_id))).first()
    if mine is None:
        return False
    if mine.read_at is None:
        await conn.execute(update(n).where(n.c.id == notification_id).values(read_at=at))
    return True
