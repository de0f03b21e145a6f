"""Order statistics for a seller or the platform, over a window of creation times.

Current counts per status come from `order_status_counts` (kept by the projection); the rest
are aggregates over the orders created in the window, answered from the created_at indexes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.status_counts import PLATFORM

o = t.orders
UNITS = Decimal(100_000_000)


@dataclass
class OrderStats:
    counts_by_status: dict[str, int]
    created: int
    completed: int
    cancelled_from: dict[str, int]
    average_value: dict[str, Decimal]  # per currency
    fulfilment_seconds: dict[str, float | None]  # created -> shipped, created -> delivered
    by_method: dict[str, dict[str, int]] = field(default_factory=dict)


async def order_stats(conn: AsyncConnection, *, seller_id: str | None, start: datetime,
                      end: datetime) -> OrderStats:
    counts = t.order_status_counts
    scope = seller_id if seller_id is not None else PLATFORM
    by_status = {r.status: r.count for r in await conn.execute(
        select(counts.c.status, counts.c["count"]).where(counts.c.seller_id == scope,
                                                         counts.c["count"] != 0))}
    window = [o.c.created_at >= start, o.c.created_at < end]
    if seller_id is not None:
        window.append(o.c.seller_id == seller_id)
    where = and_(*window)

    def n(condition) -> object:
        return func.sum(case((condition, 1), else_=0))

    totals = (await conn.execute(select(
        func.count(), n(o.c.status == "completed"),
        func.avg(_seconds(conn, o.c.shipped_at)), func.avg(_seconds(conn,
                                                                  o.c.actual_delivery_date)),
    ).where(where))).one()
    cancelled = {r.cancelled_from or "unknown": r.n for r in await conn.execute(
        select(o.c.cancelled_from, func.count().label("n"))
        .where(where, o.c.status == "cancelled").group_by(o.c.cancelled_from))}
    values = {r.currency: Decimal(r.units) / UNITS / r.n for r in await conn.execute(
        select(o.c.currency, func.sum(o.c.total_units).label("units"), func.count().label("n"))
        .where(where).group_by(o.c.currency))}
    methods = {r.payment_method: {"orders": r.n, "completed": r.done or 0, "failed": r.bad or 0}
               for r in await conn.execute(
        select(o.c.payment_method, func.count().label("n"),
               n(o.c.status == "completed").label("done"),
               n(o.c.status.in_(("failed", "cancelled", "refunded"))).label("bad"))
        .where(where).group_by(o.c.payment_method))}
    return OrderStats(
        counts_by_status=by_status,
        created=totals[0],
        completed=totals[1] or 0,
        cancelled_from=cancelled,
        average_value=values,
        fulfilment_seconds={"toShipped": _float(totals[2]), "toDelivered": _float(totals[3])},
        by_method=methods,
    )


def _seconds(conn: AsyncConnection, later):
    """Seconds from an order's creation to `later`, in the dialect's own arithmetic."""
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", later - o.c.created_at)
    return (func.julianday(later) - func.julianday(o.c.created_at)) * 86400.0


def _float(value) -> float | None:
    return None if value is None else round(float(value), 1)
