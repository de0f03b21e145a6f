"""Per-status order counts, per seller and platform-wide, kept as orders move."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.upsert import dialect_insert

PLATFORM = ""  # the seller_id of the platform-wide row


async def bump(conn: AsyncConnection, seller_id: str, changes: dict[str, int]) -> None:
    """Add each status's delta to its count, for the seller and for the platform, in one
    statement.

    Callers bump only when their write to the order row took effect, so a retried activity
    never counts twice."""
    counts = t.order_status_counts
    rows = [{"seller_id": scope, "status": status, "count": delta}
            for scope in (seller_id, PLATFORM) for status, delta in changes.items()]
    stmt = dialect_insert(conn, counts).values(rows)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=["seller_id", "status"],
        set_={"count": counts.c["count"] + stmt.excluded["count"]},
    ))
