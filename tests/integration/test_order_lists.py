"""Lists, filters, sorts, both paginations and search, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from db import orders_repo, reference_repo
from db.engine import Database
from db.order_lists import OrderFilter, count_orders, list_orders, search_orders
from domain.commands import CreateOrderCommand, StatusChangeRecord
from domain.order import ActorKind, OrderStatus, PaymentMethod
from tests.factories import order_request, seed_listing, unique
from workflows.shared import order_id_for, workflow_id_for

T0 = datetime(2026, 3, 1, tzinfo=UTC)
METHODS = [PaymentMethod.CRYPTO, PaymentMethod.FIAT, PaymentMethod.ESCROW]


async def make_order(db, *, seller, buyer, listing, at, quantity=1, method=PaymentMethod.FIAT):
    request = order_request(buyer_id=buyer, seller_id=seller, listing_id=listing, method=method,
                            quantity=quantity, total=str(100 * quantity), currency="USDC")
    wf = workflow_id_for(method, request.payment.reference)
    cmd = CreateOrderCommand(order_id=order_id_for(wf), workflow_id=wf, request=request,
                             initial_status=OrderStatus.PAYMENT_CONFIRMED, created_at=at,
                             estimated_delivery=date(2026, 4, 1))
    async with db.transaction() as conn:
        created, _ = await orders_repo.create_order(conn, cmd)
    return cmd.order_id, created.order_number


async def move(db, order_id, sequence, previous, new, *, seller, buyer, tracking=None):
    async with db.transaction() as conn:
        await orders_repo.record_status_change(conn, StatusChangeRecord(
            order_id=order_id, order_number="x", sequence=sequence, previous_status=previous,
            new_status=new, actor_kind=ActorKind.SELLER, actor_id=seller, buyer_id=buyer,
            seller_id=seller, occurred_at=T0 + timedelta(days=1), description="x",
            tracking_number=tracking))


@pytest.fixture
async def shop(db: Database):
    """A seller with 25 orders from two buyers, one an hour, with varied quantities, methods
    and statuses; returns (seller, buyers, order ids newest first)."""
    seller, buyers = unique("seller"), [unique("alice"), unique("bob")]
    async with db.transaction() as conn:
        await reference_repo.upsert_user(conn, seller, name="Alice Store", email="a@x.co",
                                         store_name="Alice's Electronics")
        await reference_repo.upsert_user(conn, buyers[0], name="Alice Buyer", email="b@x.co",
                                         store_name=None)
        await reference_repo.upsert_user(conn, buyers[1], name="Bob Buyer", email="c@x.co",
                                         store_name=None)
    listing = await seed_listing(db, seller_id=seller, inventory=1000)
    ids = []
    for i in range(25):
        order_id, _ = await make_order(db, seller=seller, buyer=buyers[i % 2], listing=listing,
                                       at=T0 + timedelta(hours=i), quantity=1 + (i * 7) % 5,
                                       method=METHODS[i % 3])
        ids.append(order_id)
        if i % 4 == 0:
            await move(db, order_id, 1, OrderStatus.PAYMENT_CONFIRMED,
                       OrderStatus.ORDER_CONFIRMED, seller=seller, buyer=buyers[i % 2])
    return seller, buyers, list(reversed(ids))


async def _all_pages(db, f, *, sort="createdAt", descending=True, limit=7):
    seen, after = [], None
    while True:
        page = await list_orders(db, f, sort=sort, descending=descending, limit=limit,
                                 after=after)
        seen += [r.id for r in page.rows]
        if page.next_key is None:
            return seen
        after = page.next_key


async def test_cursor_pages_cover_every_order_once_in_order(db, shop):
    seller, _, newest_first = shop
    assert await _all_pages(db, OrderFilter(seller_id=seller)) == newest_first
    assert await _all_pages(db, OrderFilter(seller_id=seller), descending=False) == list(
        reversed(newest_first))


async def test_offset_pages_agree_with_cursor_pages(db, shop):
    seller, _, newest_first = shop
    pages = [await list_orders(db, OrderFilter(seller_id=seller), sort="createdAt",
                               descending=True, limit=10, offset=o) for o in (0, 10, 20)]
    total = await count_orders(db, OrderFilter(seller_id=seller))
    assert [r.id for p in pages for r in p.rows] == newest_first
    assert total == 25 and pages[-1].next_key is None


@pytest.mark.parametrize("sort", ["status", "totalAmount"])
async def test_other_sorts_page_completely_and_in_order(db, shop, sort):
    seller, _, newest_first = shop
    ids = await _all_pages(db, OrderFilter(seller_id=seller), sort=sort, limit=4)
    assert sorted(ids) == sorted(newest_first) and len(ids) == 25
    rows = (await list_orders(db, OrderFilter(seller_id=seller), sort=sort,
                              descending=False, limit=25)).rows
    keys = [(r.status, r.created_at) if sort == "status" else r.total_units for r in rows]
    assert keys == sorted(keys)
    if sort == "totalAmount":
        assert rows[0].total_amount <= rows[-1].total_amount


async def test_a_page_boundary_crossed_while_orders_arrive_skips_and_repeats_nothing(db, shop):
    seller, buyers, newest_first = shop
    f = OrderFilter(seller_id=seller)
    first = await list_orders(db, f, sort="createdAt", descending=True, limit=10)
    listing = await seed_listing(db, seller_id=seller, inventory=100)
    for i in range(5):  # new orders land while the buyer reads page one
        await make_order(db, seller=seller, buyer=buyers[0], listing=listing,
                         at=T0 + timedelta(days=10, minutes=i))
    rest, after = [], first.next_key
    while after is not None:
        page = await list_orders(db, f, sort="createdAt", descending=True, limit=10,
                                 after=after)
        rest += [r.id for r in page.rows]
        after = page.next_key
    assert [r.id for r in first.rows] + rest == newest_first


async def test_filters_combine(db, shop):
    seller, buyers, _ = shop
    async def ids(**kw):
        page = await list_orders(db, OrderFilter(seller_id=seller, **kw), sort="createdAt",
                                 descending=True, limit=100)
        return page.rows

    confirmed = await ids(statuses=("order_confirmed",))
    assert len(confirmed) == 7 and {r.status for r in confirmed} == {"order_confirmed"}
    both = await ids(statuses=("order_confirmed", "payment_confirmed"))
    assert len(both) == 25
    escrow = await ids(payment_method="escrow")
    assert len(escrow) == 8 and {r.payment_method for r in escrow} == {"escrow"}
    window = await ids(created_from=T0 + timedelta(hours=5), created_to=T0 + timedelta(hours=10))
    assert len(window) == 5
    mine = await list_orders(db, OrderFilter(buyer_id=buyers[1]), sort="createdAt",
                             descending=True, limit=100)
    assert len(mine.rows) == 12 and {r.buyer_id for r in mine.rows} == {buyers[1]}
    assert mine.rows[0].seller_store_name == "Alice's Electronics"
    assert mine.rows[0].buyer_name == "Bob Buyer"


async def test_search_finds_by_number_product_names_and_tracking_within_scope(db, shop):
    seller, buyers, newest_first = shop
    order_id = newest_first[3]
    await move(db, order_id, 2, OrderStatus.ORDER_CONFIRMED, OrderStatus.PROCESSING,
               seller=seller, buyer=buyers[0], tracking="1Z999TRACK42")
    async with db.reader.connect() as conn:
        number = (await conn.execute(
            text("SELECT order_number FROM orders WHERE id = :i"),
            {"i": order_id})).scalar_one()

    async def find(q, **scope):
        rows = await search_orders(db, OrderFilter(**scope), q, limit=50)
        return {r.id for r in rows}

    assert await find(number) == {order_id}
    assert await find("1z999track") == {order_id}  # prefix, any case
    assert len(await find("wireless headph", seller_id=seller)) == 25
    assert len(await find("bob", party_id=buyers[1])) == 12
    assert await find("bob", party_id=buyers[0]) == set()  # not Alice's to see
    assert await find("alice electr", party_id=unique("stranger")) == set()
    assert await find("zzz' OR 'a'='a") == set()  # only words reach the query
    assert await find("   ") == set()


@pytest.mark.parametrize("cap", [3, 1000])
async def test_search_pages_are_newest_first_whichever_step_answers(db, shop, monkeypatch,
                                                                  cap):
    from db import order_lists

    monkeypatch.setattr(order_lists, "SEARCH_CAP", cap)  # 3: more matches than the cap
    seller, _, newest_first = shop
    rows = await search_orders(db, OrderFilter(seller_id=seller), "wireless", limit=10)
    assert [r.id for r in rows] == newest_first[:10]
