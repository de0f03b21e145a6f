"""Orders of several items in the read model, on SQLite and PostgreSQL: every line's stock is
taken or none is, each line keeps a snapshot of its listing, and stock comes back per line."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from db import events_repo, order_lists, orders_repo, reference_repo
from db import tables as t
from db.engine import Database
from domain.commands import CreateOrderCommand, InventoryRestoreCommand, OrderLine
from domain.errors import DomainError, ErrorCode
from domain.order import OrderStatus, PaymentMethod
from tests.factories import order_request, seed_listing, unique
from workflows.shared import order_id_for, workflow_id_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _cart(db: Database, *, stock: tuple[int, ...] = (10, 10, 10)):
    """A seller with three listings (100, 25.5 and 3 USDC) and the stock given."""
    seller = unique("seller")
    listings = [await seed_listing(db, seller_id=seller, price=price, inventory=inventory,
                                   title=title)
                for price, inventory, title in zip(
                    ("100", "25.5", "3"), stock,
                    ("Wireless Headphones", "Leather Case", "USB-C Cable"), strict=False)]
    return seller, listings


def _order(seller: str, lines: list[OrderLine], total: str) -> CreateOrderCommand:
    request = dataclasses.replace(
        order_request(buyer_id=unique("buyer"), seller_id=seller,
                      listing_id=lines[0].listing_id, method=PaymentMethod.CRYPTO,
                      quantity=lines[0].quantity, total=total),
        items=lines)
    wf = workflow_id_for(request.payment.method, request.payment.reference)
    return CreateOrderCommand(order_id=order_id_for(wf), workflow_id=wf, request=request,
                              initial_status=OrderStatus.PAYMENT_CONFIRMED, created_at=NOW,
                              estimated_delivery=date(2026, 3, 8))


async def _create(db: Database, cmd: CreateOrderCommand):
    async with db.transaction() as conn:
        return await orders_repo.create_order(conn, cmd)


async def _stock(db: Database, listings: list[str]) -> list[int]:
    async with db.reader.connect() as conn:
        return [(await reference_repo.get_listing(conn, x)).inventory for x in listings]


async def test_each_line_is_written_with_its_listing_as_sold(db):
    seller, (a, b, c) = await _cart(db)
    cmd = _order(seller, [OrderLine(a, 2), OrderLine(b, 1), OrderLine(c, 4)], "237.5")
    await _create(db, cmd)
    # The listing changes after the sale: the order keeps what was sold.
    async with db.transaction() as conn:
        await reference_repo.upsert_listing(conn, b, seller_id=seller, title="Case v2",
                                            description=None, unit_price=Decimal("30"),
                                            currency="USDC", inventory=9)

    async with db.reader.connect() as conn:
        items = (await conn.execute(select(t.order_items).where(
            t.order_items.c.order_id == cmd.order_id).order_by(
            t.order_items.c.created_at, t.order_items.c.id))).all()
        order = (await conn.execute(select(t.orders).where(
            t.orders.c.id == cmd.order_id))).one()
    assert [(i.listing_id, i.product_name, i.quantity, i.unit_price, i.total_price)
            for i in items] == [
        (a, "Wireless Headphones", 2, Decimal("100"), Decimal("200")),
        (b, "Leather Case", 1, Decimal("25.5"), Decimal("25.5")),
        (c, "USB-C Cable", 4, Decimal("3"), Decimal("12")),
    ]
    assert items[1].product_snapshot["unitPrice"] == "25.500000"
    assert len({i.id for i in items}) == 3
    assert (order.quantity, order.listing_id, order.total_amount) == (7, a, Decimal("237.5"))
    assert await _stock(db, [a, c]) == [8, 6]
    found = await order_lists.search_orders(db, order_lists.OrderFilter(), "cable", limit=10)
    assert cmd.order_id in {row.id for row in found}
    lines = await order_lists.lines_of(db, [cmd.order_id])
    assert [(x.product_name, x.quantity) for x in lines[cmd.order_id]] == [
        ("Wireless Headphones", 2), ("Leather Case", 1), ("USB-C Cable", 4)]


@pytest.mark.parametrize(("lines", "total", "code"), [
    # The last line is short: the first two keep their stock too.
    ([(0, 1), (1, 1), (2, 11)], "158.5", ErrorCode.INSUFFICIENT_INVENTORY),
    ([(0, 1), (1, 2)], "150", ErrorCode.AMOUNT_MISMATCH),  # 151 at the listings' prices
])
async def test_a_refused_line_takes_nothing_from_any_line(db, lines, total, code):
    seller, listings = await _cart(db)
    cmd = _order(seller, [OrderLine(listings[i], q) for i, q in lines], total)
    with pytest.raises(DomainError) as refused:
        await _create(db, cmd)
    assert refused.value.code is code
    assert await _stock(db, listings) == [10, 10, 10]
    async with db.reader.connect() as conn:
        written = (await conn.execute(select(func.count()).select_from(t.order_items).where(
            t.order_items.c.order_id == cmd.order_id))).scalar_one()
    assert written == 0


async def test_a_line_of_another_seller_is_unavailable(db):
    seller, (a, _, _) = await _cart(db)
    other = await seed_listing(db, seller_id=unique("seller"), price="3")
    cmd = _order(seller, [OrderLine(a, 1), OrderLine(other, 1)], "103")
    with pytest.raises(DomainError) as refused:
        await _create(db, cmd)
    assert refused.value.code is ErrorCode.LISTING_UNAVAILABLE
    assert await _stock(db, [a, other]) == [10, 10]


async def test_two_carts_racing_for_the_last_units_one_wins_the_other_takes_nothing(db):
    seller, (a, b, c) = await _cart(db, stock=(10, 3, 10))
    # Both want all 3 of b; each also wants a listing of its own, in opposite line orders.
    first = _order(seller, [OrderLine(a, 1), OrderLine(b, 3)], "176.5")
    second = _order(seller, [OrderLine(b, 3), OrderLine(c, 2)], "82.5")
    outcomes = await asyncio.gather(_create(db, first), _create(db, second),
                                    return_exceptions=True)
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], DomainError)
    assert lost[0].code is ErrorCode.INSUFFICIENT_INVENTORY
    winner_took_a = outcomes[0] is won[0]
    assert await _stock(db, [a, b, c]) == ([9, 0, 10] if winner_took_a else [10, 0, 8])


async def test_a_cancelled_orders_lines_get_their_stock_back_once(db):
    seller, (a, b, _) = await _cart(db)
    cmd = _order(seller, [OrderLine(a, 2), OrderLine(b, 3)], "276.5")
    await _create(db, cmd)
    assert await _stock(db, [a, b]) == [8, 7]
    restore = InventoryRestoreCommand(order_id=cmd.order_id, listing_id=a, quantity=2, at=NOW)
    for _ in range(2):  # a retried activity
        async with db.transaction() as conn:
            await events_repo.restore_inventory(conn, restore)
    assert await _stock(db, [a, b]) == [10, 10]
