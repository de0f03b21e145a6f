"""Read-model writes on SQLite and on a throwaway PostgreSQL cluster: idempotent under retry."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from db import orders_repo, reference_repo
from db import tables as t
from db.engine import Database
from db.migrate import include_name
from domain.commands import CreateOrderCommand, StatusChangeRecord
from domain.errors import DomainError, ErrorCode
from domain.order import ActorKind, OrderStatus, PaymentMethod
from tests.factories import order_request, seed_listing, unique
from workflows.shared import order_id_for, workflow_id_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _command(request, *, at=NOW) -> CreateOrderCommand:
    wf = workflow_id_for(request.payment.method, request.payment.reference)
    return CreateOrderCommand(order_id=order_id_for(wf), workflow_id=wf, request=request,
                              initial_status=OrderStatus.PAYMENT_CONFIRMED, created_at=at,
                              estimated_delivery=date(2026, 3, 8))


async def _create(db: Database, cmd: CreateOrderCommand):
    async with db.transaction() as conn:
        created, _ = await orders_repo.create_order(conn, cmd)
        return created


async def _count(db: Database, table, **where) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with db.reader.connect() as conn:
        return (await conn.execute(query)).scalar_one()


async def _new(db: Database, **kw):
    seller = unique("seller")
    listing_kw = kw.pop("listing", {})
    listing = await seed_listing(db, seller_id=seller, **listing_kw)
    kw.setdefault("currency", listing_kw.get("currency", "USDC"))  # no provider sees these
    request = order_request(buyer_id=unique("buyer"), seller_id=seller, listing_id=listing,
                            method=kw.pop("method", PaymentMethod.FIAT), **kw)
    return request, _command(request)


async def test_migrations_build_exactly_the_tables_the_code_uses(database_url):
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(
            MigrationContext.configure(sync, opts={"include_name": include_name}), t.metadata))
    await engine.dispose()
    assert diff == []


async def test_creating_an_order_writes_everything_once_even_when_retried(db):
    request, cmd = await _new(db)
    first = await _create(db, cmd)
    again = await _create(db, cmd)  # the activity ran twice: a worker died after commit
    assert first == again
    assert re.fullmatch(r"ORD-2026-\d{6}", first.order_number)
    for table in (t.orders, t.order_items, t.order_status_history, t.order_tracking_events):
        key = "id" if table is t.orders else "order_id"
        assert await _count(db, table, **{key: cmd.order_id}) == 1, table.name
    assert await _count(db, t.notifications, order_id=cmd.order_id) == 2
    async with db.reader.connect() as conn:
        listing = await reference_repo.get_listing(conn, request.listing_id)
        item = (await conn.execute(select(t.order_items).where(
            t.order_items.c.order_id == cmd.order_id))).one()
        order = (await conn.execute(select(t.orders).where(t.orders.c.id == cmd.order_id))).one()
    assert listing.inventory == 10 - request.quantity
    assert item.product_snapshot["title"] == "Wireless Headphones"
    assert item.product_snapshot["unitPrice"] == "100.000000"
    assert order.payment_intent_id == request.payment.reference
    assert order.processing_fees == Decimal("6.10")
    assert order.created_at == NOW


async def test_money_survives_the_database_exactly(db):
    request, cmd = await _new(db, listing={"price": "0.12345678", "currency": "ETH"},
                              quantity=3, total="0.37037034", currency="ETH")
    await _create(db, cmd)
    async with db.reader.connect() as conn:
        order = (await conn.execute(select(t.orders).where(t.orders.c.id == cmd.order_id))).one()
    assert order.total_amount == Decimal("0.37037034")
    assert order.unit_price == Decimal("0.12345678")


@pytest.mark.parametrize(
    ("change", "code"),
    [({"quantity": 11, "total": "1100"}, ErrorCode.INSUFFICIENT_INVENTORY),
     ({"total": "200.01"}, ErrorCode.AMOUNT_MISMATCH)],
)
async def test_a_refused_order_leaves_no_row_and_no_stock_taken(db, change, code):
    request, cmd = await _new(db, **change)
    with pytest.raises(DomainError) as err:
        await _create(db, cmd)
    assert err.value.code is code
    assert await _count(db, t.orders, listing_id=request.listing_id) == 0
    async with db.reader.connect() as conn:
        assert (await reference_repo.get_listing(conn, request.listing_id)).inventory == 10


async def test_order_numbers_are_unique_under_concurrent_creation(db):
    seller = unique("seller")
    listing = await seed_listing(db, seller_id=seller, inventory=100)
    commands = [_command(order_request(buyer_id=unique("b"), seller_id=seller,
                                       listing_id=listing, method=PaymentMethod.CRYPTO,
                                       quantity=1, total="100")) for _ in range(8)]
    created = await asyncio.gather(*(_create(db, c) for c in commands))
    numbers = {c.order_number for c in created}
    assert len(numbers) == 8
    async with db.reader.connect() as conn:
        assert (await reference_repo.get_listing(conn, listing)).inventory == 92


def _record(cmd, seq, prev, new, at):
    req = cmd.request
    return StatusChangeRecord(order_id=cmd.order_id, order_number="ORD-2026-000001",
                              sequence=seq, previous_status=prev, new_status=new,
                              actor_kind=ActorKind.SELLER, actor_id=req.seller_id,
                              buyer_id=req.buyer_id, seller_id=req.seller_id, occurred_at=at,
                              description="x", tracking_number="1Z999" if seq == 2 else None)


async def test_a_status_change_applied_twice_is_applied_once(db):
    _, cmd = await _new(db)
    await _create(db, cmd)
    rec = _record(cmd, 1, OrderStatus.PAYMENT_CONFIRMED, OrderStatus.ORDER_CONFIRMED,
                  NOW + timedelta(minutes=5))
    for _ in range(2):
        async with db.transaction() as conn:
            await orders_repo.record_status_change(conn, rec)
    assert await _count(db, t.order_status_history, order_id=cmd.order_id) == 2
    assert await _count(db, t.order_tracking_events, order_id=cmd.order_id) == 2
    assert await _count(db, t.notifications, order_id=cmd.order_id) == 4


async def test_a_late_retry_of_an_older_change_does_not_move_the_order_back(db):
    _, cmd = await _new(db)
    await _create(db, cmd)
    older = _record(cmd, 1, OrderStatus.PAYMENT_CONFIRMED, OrderStatus.ORDER_CONFIRMED,
                    NOW + timedelta(minutes=1))
    newer = _record(cmd, 2, OrderStatus.ORDER_CONFIRMED, OrderStatus.PROCESSING,
                    NOW + timedelta(minutes=2))
    for rec in (older, newer, older):
        async with db.transaction() as conn:
            await orders_repo.record_status_change(conn, rec)
    async with db.reader.connect() as conn:
        order = (await conn.execute(select(t.orders).where(t.orders.c.id == cmd.order_id))).one()
    assert (order.status, order.last_sequence) == ("processing", 2)
    assert order.status_updated_at == NOW + timedelta(minutes=2)
