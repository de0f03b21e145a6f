"""How long the orders that are not final have been in their status: the operator console's
view of what may be stuck, by status and age, from the (status, status_updated_at) index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, func, literal_column, select

from db import driver_reads
from db import tables as t
from domain.order import FINAL_STATUSES, OrderStatus

o = t.orders
ACTIVE = tuple(s.value for s in OrderStatus if s not in FINAL_STATUSES)
# Ages an operator reads at a glance: this hour, today, these three days, longer.
AGE_BUCKETS = (("underAnHour", timedelta(hours=1)), ("underADay", timedelta(days=1)),
               ("underThreeDays", timedelta(days=3)))
OLDER = "older"


@dataclass(frozen=True)
class StatusAge:
    status: str
    count: int
    oldest_since: datetime
    by_age: dict[str, int]


async def order_ageing(db, *, now: datetime) -> list[StatusAge]:
    """Per status that is not final (in the status machine's order), its orders by age."""
    params = {f"since_{i}": now - age for i, (_, age) in enumerate(AGE_BUCKETS)}
    rows = {r.status: r for r in await driver_reads.fetch_all(db, ("ageing",), _query, params)}
    out = []
    for status in ACTIVE:
        row = rows.get(status)
        if row is None:
            continue
        younger = [getattr(row, f"within_{i}") for i in range(len(AGE_BUCKETS))]
        # Each bucket counts the orders younger than its bound and not younger than the last.
        by_age = {name: n - (younger[i - 1] if i else 0)
                  for i, ((name, _), n) in enumerate(zip(AGE_BUCKETS, younger, strict=True))}
        by_age[OLDER] = row.n - younger[-1]
        out.append(StatusAge(status=status, count=row.n, oldest_since=row.oldest, by_age=by_age))
    return out


def _query() -> Select:
    # Statuses are literals, so the statement is compiled once with the times as its only
    # parameters.
    within = [func.count().filter(o.c.status_updated_at > bindparam(f"since_{i}",
                                                                    type_=o.c.status_updated_at.type))
              .label(f"within_{i}") for i in range(len(AGE_BUCKETS))]
    return (select(o.c.status, func.count().label("n"),
                   func.min(o.c.status_updated_at).label("oldest"), *within)
            .where(o.c.status.in_([literal_column(f"'{s}'") for s in ACTIVE]))
            .group_by(o.c.status))
