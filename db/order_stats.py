"""Order statistics for a seller or the platform, over a window of creation times.

Current counts per status come from `order_status_counts` (kept by the projection); the rest
are aggregates over the orders created in the window, answered from the created_at indexes.
Both statements are compiled once and run on the driver (db.driver_reads): dashboards poll
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Select, and_, bindparam, func, literal_column, select

from db import driver_reads
from db import tables as t
from db.engine import Database
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
    by_day: list[DayStats] = field(default_factory=list)  # days with orders, in order


@dataclass(frozen=True)
class DayStats:
    """The orders created on one UTC day, and what has become of them."""

    day: date
    created: int
    completed: int
    cancelled: int
    to_shipped_seconds: float | None  # mean, over those shipped


async def order_stats(db: Database, *, seller_id: str | None, start: datetime,
                      end: datetime) -> OrderStats:
    scope = seller_id if seller_id is not None else PLATFORM
    by_status = {r.status: r.count for r in await driver_reads.fetch_all(
        db, ("stats-counts",), _current_counts, {"scope": scope})}
    dialect = db.reader.dialect.name
    params = {"start": start, "end": end}
    if seller_id is not None:
        params["seller_id"] = seller_id
    # Planned for its window every time: a day and a year want different plans.
    groups = await driver_reads.fetch_all(
        db, ("stats-groups", dialect, seller_id is not None),
        lambda: _window_groups(dialect, by_seller=seller_id is not None), params,
        prepare=False)
    created = sum(g.n for g in groups)
    cancelled: dict[str, int] = {}
    units: dict[str, list[int]] = {}
    methods: dict[str, dict[str, int]] = {}
    for g in groups:
        if g.status == "cancelled":
            key = g.cancelled_from or "unknown"
            cancelled[key] = cancelled.get(key, 0) + g.n
        total = units.setdefault(g.currency, [0, 0])
        total[0] += int(g.units or 0)
        total[1] += g.n
        method = methods.setdefault(g.payment_method,
                                    {"orders": 0, "completed": 0, "failed": 0})
        method["orders"] += g.n
        if g.status == "completed":
            method["completed"] += g.n
        elif g.status in ("failed", "cancelled", "refunded"):
            method["failed"] += g.n
    days = await driver_reads.fetch_all(
        db, ("stats-days", dialect, seller_id is not None),
        lambda: _days(dialect, by_seller=seller_id is not None), params, prepare=False)
    return OrderStats(
        by_day=[DayStats(day=_as_date(d.day), created=d.n, completed=d.completed,
                         cancelled=d.cancelled, to_shipped_seconds=_mean(d.to_shipped or 0,
                                                                         d.shipped))
                for d in days],
        counts_by_status=by_status,
        created=created,
        completed=sum(g.n for g in groups if g.status == "completed"),
        cancelled_from=cancelled,
        average_value={cur: Decimal(u) / UNITS / n for cur, (u, n) in units.items()},
        fulfilment_seconds={
            "toShipped": _mean(sum(g.to_shipped or 0 for g in groups),
                               sum(g.shipped for g in groups)),
            "toDelivered": _mean(sum(g.to_delivered or 0 for g in groups),
                                 sum(g.delivered for g in groups)),
        },
        by_method=methods,
    )


def _current_counts() -> Select:
    counts = t.order_status_counts
    return select(counts.c.status, counts.c["count"]).where(
        counts.c.seller_id == bindparam("scope"), counts.c["count"] != literal_column("0"))


def _window_groups(dialect: str, *, by_seller: bool) -> Select:
    """One pass over the window's orders, grouped finely enough to fold every figure from it
    (one statement instead of four scans of the same rows)."""
    window = [o.c.created_at >= bindparam("start"), o.c.created_at < bindparam("end")]
    if by_seller:
        window.append(o.c.seller_id == bindparam("seller_id"))
    return (select(o.c.payment_method, o.c.currency, o.c.status, o.c.cancelled_from,
                   func.count().label("n"), func.sum(o.c.total_units).label("units"),
                   func.sum(_seconds(dialect, o.c.shipped_at)).label("to_shipped"),
                   func.count(o.c.shipped_at).label("shipped"),
                   func.sum(_seconds(dialect, o.c.actual_delivery_date)).label("to_delivered"),
                   func.count(o.c.actual_delivery_date).label("delivered"))
            .where(and_(*window))
            .group_by(o.c.payment_method, o.c.currency, o.c.status, o.c.cancelled_from))


def _days(dialect: str, *, by_seller: bool) -> Select:
    """The window's orders by the UTC day they were created."""
    window = [o.c.created_at >= bindparam("start"), o.c.created_at < bindparam("end")]
    if by_seller:
        window.append(o.c.seller_id == bindparam("seller_id"))
    # Literals, not parameters: the statement is compiled once and run with the window's only.
    day = (func.date(func.timezone(literal_column("'UTC'"), o.c.created_at))
           if dialect == "postgresql" else func.date(o.c.created_at))  # SQLite keeps UTC
    return (select(day.label("day"), func.count().label("n"),
                   func.count().filter(o.c.status == literal_column("'completed'"))
                   .label("completed"),
                   func.count().filter(o.c.status == literal_column("'cancelled'"))
                   .label("cancelled"),
                   func.sum(_seconds(dialect, o.c.shipped_at)).label("to_shipped"),
                   func.count(o.c.shipped_at).label("shipped"))
            .where(and_(*window)).group_by(day).order_by(day))


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _seconds(dialect: str, later):
    """Seconds from an order's creation to `later`, in the dialect's own arithmetic."""
    if dialect == "postgresql":
        return func.extract("epoch", later - o.c.created_at)
    return (func.julianday(later) - func.julianday(o.c.created_at)) * literal_column("86400.0")


def _mean(total, count: int) -> float | None:
    return None if count == 0 else round(float(total) / count, 1)
