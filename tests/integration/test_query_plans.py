"""On PostgreSQL with enough rows for the planner to choose, the dashboard queries use their
indexes: no sequential scan over orders. (Marked `postgres` through the postgres_base_url
fixture, so CI requires them to run.)"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest
from sqlalchemy.dialects import postgresql

from db.engine import create_database
from db.migrate import upgrade
from db.order_lists import OrderFilter, list_query, match_query
from tests import servers
from tests.bulk import insert_orders


@pytest.fixture(scope="module")
def big_url(postgres_base_url) -> str:
    url = servers.create_database(postgres_base_url, f"oms_plans_{uuid.uuid4().hex[:8]}")
    upgrade(url)  # synchronous: Alembic runs its own event loop
    return url


@pytest.fixture(scope="module")
async def big(big_url):
    db = create_database(big_url)
    async with db.transaction() as conn:
        await insert_orders(conn, first=1, count=30_000, sellers=50, buyers=3_000)
    async with db.transaction() as conn:
        await conn.exec_driver_sql("ANALYZE orders")
    yield db
    await db.dispose()


async def plan(db, query) -> str:
    compiled = query.compile(dialect=postgresql.dialect(paramstyle="pyformat"),
                             compile_kwargs={"render_postcompile": True})
    async with db.reader.connect() as conn:
        rows = await conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
        return "\n".join(r[0] for r in rows)


CURSOR = (datetime.fromisoformat("2026-05-20T00:00:00+00:00"), "zz")


@pytest.mark.parametrize(
    ("name", "query", "index"),
    [
        ("seller first page", lambda: list_query(
            OrderFilter(seller_id="bulk-seller-7"), sort="createdAt", descending=True,
            limit=20), "ix_orders_seller"),
        ("seller cursor page", lambda: list_query(
            OrderFilter(seller_id="bulk-seller-7"), sort="createdAt", descending=True,
            limit=20, after=CURSOR), "ix_orders_seller"),
        ("seller deep offset page", lambda: list_query(
            OrderFilter(seller_id="bulk-seller-7"), sort="createdAt", descending=True,
            limit=20, offset=400), "ix_orders_seller"),
        ("buyer filtered", lambda: list_query(
            OrderFilter(buyer_id="bulk-buyer-7", statuses=("completed", "shipped")),
            sort="createdAt", descending=True, limit=20), "ix_orders_buyer"),
        ("seller by total", lambda: list_query(
            OrderFilter(seller_id="bulk-seller-7"), sort="totalAmount", descending=True,
            limit=20), "ix_orders_seller"),
        ("operator by status", lambda: list_query(
            OrderFilter(statuses=("processing",)), sort="status", descending=False,
            limit=20), "ix_orders_"),  # status_created, or created filtered on one status
        ("search, first step", lambda: match_query(
            "postgresql", OrderFilter(), "1ZBULK2997", cap=1000), "ix_orders_search"),
        ("search, scoped", lambda: match_query(
            "postgresql", OrderFilter(party_id="bulk-buyer-7"), "1ZBULK2997", cap=1000),
         "ix_orders_"),
    ],
)
async def test_dashboard_queries_use_indexes(big, name, query, index):
    text = await plan(big, query())
    assert "Seq Scan on orders" not in text, f"{name}:\n{text}"
    assert re.search(rf"(Index (Only )?Scan (Backward )?using|Bitmap Index Scan on) {index}",
                     text), f"{name}:\n{text}"
