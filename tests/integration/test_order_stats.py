"""Statistics against values worked out by hand on a small known data set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from db import orders_repo
from db.order_stats import order_stats
from domain.commands import StatusChangeRecord
from domain.order import ActorKind, OrderStatus, PaymentMethod
from tests.factories import seed_listing, unique
from tests.integration.test_order_lists import make_order

S = OrderStatus
T0 = datetime(2026, 5, 1, tzinfo=UTC)
H = timedelta(hours=1)


async def walk(db, order_id, seller, steps):
    """Apply (status, hours after T0) steps in order."""
    previous = S.PAYMENT_CONFIRMED
    for seq, (status, hours) in enumerate(steps, start=1):
        async with db.transaction() as conn:
            await orders_repo.record_status_change(conn, StatusChangeRecord(
                order_id=order_id, order_number="x", sequence=seq, previous_status=previous,
                new_status=status, actor_kind=ActorKind.SELLER, actor_id=seller, buyer_id="b",
                seller_id=seller, occurred_at=T0 + hours * H, description="x"))
        previous = status


async def test_statistics_match_the_hand_computed_figures(db):
    seller, other = unique("seller"), unique("other")
    listing = await seed_listing(db, seller_id=seller, inventory=100)
    other_listing = await seed_listing(db, seller_id=other, inventory=100)
    # Four orders for the seller, all created at T0 (quantities 1, 2, 3, 4: 100..400 USDC).
    ids = []
    for quantity, method in ((1, PaymentMethod.FIAT), (2, PaymentMethod.FIAT),
                             (3, PaymentMethod.ESCROW), (4, PaymentMethod.CRYPTO)):
        order_id, _ = await make_order(db, seller=seller, buyer=unique("b"), listing=listing,
                                       at=T0, quantity=quantity, method=method)
        ids.append(order_id)
    # Outside the window, and another seller's: neither may count.
    await make_order(db, seller=seller, buyer="b", listing=listing, at=T0 - 40 * 24 * H)
    await make_order(db, seller=other, buyer="b", listing=other_listing, at=T0)
    # 1: shipped after 10 h, delivered after 30 h, completed.  2: shipped after 20 h, delivered
    # after 50 h, completed.  3: cancelled while processing.  4: cancelled straight away.
    await walk(db, ids[0], seller, [(S.ORDER_CONFIRMED, 1), (S.PROCESSING, 2),
                                    (S.READY_TO_SHIP, 3), (S.SHIPPED, 10), (S.DELIVERED, 30),
                                    (S.COMPLETED, 40)])
    await walk(db, ids[1], seller, [(S.ORDER_CONFIRMED, 1), (S.PROCESSING, 2),
                                    (S.READY_TO_SHIP, 3), (S.SHIPPED, 20), (S.DELIVERED, 50),
                                    (S.COMPLETED, 60)])
    await walk(db, ids[2], seller, [(S.ORDER_CONFIRMED, 1), (S.PROCESSING, 2),
                                    (S.CANCELLED, 5)])
    await walk(db, ids[3], seller, [(S.CANCELLED, 1)])

    stats = await order_stats(db, seller_id=seller, start=T0 - H, end=T0 + 24 * H)
    platform = await order_stats(db, seller_id=None, start=T0 - H, end=T0 + 24 * H)

    assert stats.counts_by_status == {"completed": 2, "cancelled": 2, "payment_confirmed": 1}
    assert stats.created == 4 and stats.completed == 2
    assert stats.cancelled_from == {"processing": 1, "payment_confirmed": 1}
    assert stats.average_value == {"USDC": Decimal("250")}  # (100 + 200 + 300 + 400) / 4
    assert stats.fulfilment_seconds == {"toShipped": 15 * 3600.0, "toDelivered": 40 * 3600.0}
    assert stats.by_method == {
        "fiat": {"orders": 2, "completed": 2, "failed": 0},
        "escrow": {"orders": 1, "completed": 0, "failed": 1},
        "crypto": {"orders": 1, "completed": 0, "failed": 1},
    }
    assert platform.created == 5  # the other seller's order too
    assert platform.counts_by_status["payment_confirmed"] >= 2


async def test_orders_per_day_count_by_the_utc_day_each_order_was_created(db):
    seller = unique("seller")
    listing = await seed_listing(db, seller_id=seller, inventory=100)
    created = {}
    for name, at in (("early", T0), ("late", T0 + 23 * H + timedelta(minutes=59)),
                     ("next", T0 + 24 * H), ("later", T0 + 72 * H + 5 * H)):
        created[name], _ = await make_order(db, seller=seller, buyer=unique("b"),
                                            listing=listing, at=at)
    await walk(db, created["early"], seller, [(S.ORDER_CONFIRMED, 1), (S.PROCESSING, 2),
                                              (S.READY_TO_SHIP, 3), (S.SHIPPED, 6)])
    await walk(db, created["late"], seller, [(S.CANCELLED, 24)])

    stats = await order_stats(db, seller_id=seller, start=T0, end=T0 + 5 * 24 * H)

    assert [(d.day.isoformat(), d.created, d.completed, d.cancelled, d.to_shipped_seconds)
            for d in stats.by_day] == [
        ("2026-05-01", 2, 0, 1, 6 * 3600.0),  # early (shipped 6 h after T0) and late
        ("2026-05-02", 1, 0, 0, None),
        ("2026-05-04", 1, 0, 0, None),
    ]
