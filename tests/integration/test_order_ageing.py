"""The operator console's ageing: orders that are not final, by status and time in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from db import tables as t
from db.order_ageing import order_ageing
from domain.order import OrderStatus
from tests.factories import seed_listing, unique
from tests.integration.test_order_lists import make_order
from tests.integration.test_order_stats import walk

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
H = timedelta(hours=1)


async def test_orders_are_counted_by_status_and_age_and_final_ones_not_at_all(db):
    seller = unique("seller")
    listing = await seed_listing(db, seller_id=seller, inventory=100)
    before = {a.status: a for a in await order_ageing(db, now=NOW)}
    # Processing for 30 min, 5 h, 2 days and 9 days; and one completed long ago.
    for hours_ago in (0.5, 5, 48, 216):
        order_id, _ = await make_order(db, seller=seller, buyer=unique("b"), listing=listing,
                                       at=NOW - 300 * H)
        at = NOW - hours_ago * H
        await walk(db, order_id, seller, [(OrderStatus.ORDER_CONFIRMED, 0),
                                          (OrderStatus.PROCESSING, 0)])
        await _set_status_time(db, order_id, at)
    done, _ = await make_order(db, seller=seller, buyer=unique("b"), listing=listing,
                               at=NOW - 300 * H)
    await walk(db, done, seller, [(OrderStatus.CANCELLED, 0)])

    after = {a.status: a for a in await order_ageing(db, now=NOW)}

    processing = after["processing"]
    was = before.get("processing")
    assert processing.count - (was.count if was else 0) == 4
    assert {k: v - (was.by_age[k] if was else 0) for k, v in processing.by_age.items()} == {
        "underAnHour": 1, "underADay": 1, "underThreeDays": 1, "older": 1}
    assert processing.oldest_since <= NOW - 216 * H
    assert "cancelled" not in after and "completed" not in after
    order = [OrderStatus(s).value for s in after]
    assert order == sorted(order, key=[s.value for s in OrderStatus].index)  # machine order


async def _set_status_time(db, order_id: str, at: datetime) -> None:
    async with db.transaction() as conn:
        await conn.execute(update(t.orders).where(t.orders.c.id == order_id)
                           .values(status_updated_at=at))
