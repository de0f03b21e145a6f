"""Dashboards through the API: shapes, paging, validation and who may see what."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from api.auth import Role
from tests.api.test_webhooks import new_order
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique

pytestmark = pytest.mark.usefixtures("stack_worker")
OPS = bearer("ops1", Role.OPERATOR)


@pytest.fixture
async def market(api, session_db):
    """Two buyers and two sellers; buyer A has 3 orders with seller S1, buyer B 2 with S2."""
    a, b, s1, s2 = (unique(n) for n in ("buyerA", "buyerB", "sellerS1", "sellerS2"))
    for user, name, store in ((a, "Ann Able", None), (b, "Ben Baker", None),
                              (s1, "Sam Seller", "Sam's Sounds"), (s2, "Sue Seller", None)):
        body = {"name": name, "email": f"{user}@example.com"}
        if store:
            body["storeName"] = store
        await api.put(f"/api/users/{user}", json=body, headers=OPS)
    orders = {a: [], b: []}
    for buyer, seller, count in ((a, s1, 3), (b, s2, 2)):
        listing = await seed_listing(session_db, seller_id=seller, currency="USD")
        for _ in range(count):
            body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing,
                                 method="fiat", quantity=1, total=100)
            response = await api.post("/api/orders", json=body, headers=bearer(buyer))
            orders[buyer].append(response.json()["order"])
    return a, b, s1, s2, orders


async def test_a_buyer_list_shows_the_seller_and_pages(api, market):
    a, _, s1, _, orders = market
    first = await api.get(f"/api/orders/buyer/{a}?limit=2", headers=bearer(a))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["pagination"]["total"] == 3 and body["pagination"]["totalPages"] == 2
    item = body["orders"][0]
    assert item["seller"] == {"id": s1, "name": "Sam Seller", "storeName": "Sam's Sounds"}
    assert "buyer" not in item and item["totalAmount"] == "100.00"
    second = await api.get(f"/api/orders/buyer/{a}?limit=2&cursor="
                           f"{body['pagination']['nextCursor']}", headers=bearer(a))
    ids = [o["id"] for o in body["orders"] + second.json()["orders"]]
    assert sorted(ids) == sorted(o["id"] for o in orders[a])
    assert second.json()["pagination"]["nextCursor"] is None


async def test_a_seller_list_shows_the_buyer(api, market):
    a, _, s1, _, _ = market
    body = (await api.get(f"/api/orders/seller/{s1}?status=payment_confirmed,processing",
                          headers=bearer(s1))).json()
    assert len(body["orders"]) == 3
    assert body["orders"][0]["buyer"] == {"id": a, "name": "Ann Able"}


async def test_nobody_reads_another_partys_lists_search_stats_or_export(api, market):
    a, b, s1, s2, orders = market
    for path in (f"/api/orders/buyer/{b}", f"/api/orders/seller/{s2}",
                 f"/api/orders/seller/{s2}/export.csv", f"/api/orders/stats?sellerId={s2}",
                 "/api/orders"):
        response = await api.get(path, headers=bearer(a))
        assert (response.status_code, response.json()["code"]) == (403, "FORBIDDEN"), path
    # Search is scoped, not refused: B's order numbers are invisible to A and to S1.
    number = orders[b][0]["orderNumber"]
    for who in (a, s1):
        found = (await api.get(f"/api/orders/search?q={number}", headers=bearer(who))).json()
        assert found["orders"] == []
    found = (await api.get(f"/api/orders/search?q={number}", headers=bearer(b))).json()
    assert [o["orderNumber"] for o in found["orders"]] == [number]
    everything = (await api.get(f"/api/orders/search?q={number}", headers=OPS)).json()
    assert len(everything["orders"]) == 1


async def test_operators_list_everything_with_both_parties(api, market):
    _, b, _, s2, _ = market
    body = (await api.get("/api/orders?limit=100&paymentMethod=fiat", headers=OPS)).json()
    mine = [o for o in body["orders"] if o["buyerId"] == b]
    assert len(mine) == 2 and mine[0]["sellerId"] == s2 and mine[0]["seller"]["name"]


async def test_search_by_buyer_name_for_the_seller(api, market):
    a, _, s1, _, _ = market
    found = (await api.get("/api/orders/search?q=ann abl", headers=bearer(s1))).json()
    assert len(found["orders"]) == 3
    assert found["orders"][0]["buyer"]["id"] == a


@pytest.mark.parametrize(
    "query",
    ["limit=101", "limit=0", "page=0", "sortBy=price", "sortOrder=up", "status=lost",
     "createdFrom=yesterday", "createdFrom=2026-01-01T00:00:00", "cursor=not-a-cursor",
     "page=2&cursor=abc", "paymentMethod=cash"],
)
async def test_bad_list_parameters_are_422(api, market, query):
    a = market[0]
    response = await api.get(f"/api/orders/buyer/{a}?{query}", headers=bearer(a))
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR"), query


async def test_a_cursor_from_another_list_is_refused(api, market):
    a = market[0]
    body = (await api.get(f"/api/orders/buyer/{a}?limit=1", headers=bearer(a))).json()
    cursor = body["pagination"]["nextCursor"]
    other = await api.get(f"/api/orders/buyer/{a}?limit=1&sortBy=totalAmount&cursor={cursor}",
                          headers=bearer(a))
    assert other.status_code == 422


async def test_a_seller_exports_its_orders_as_csv(api, market):
    a, _, s1, _, orders = market
    response = await api.get(f"/api/orders/seller/{s1}/export.csv", headers=bearer(s1))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sorted(r["orderNumber"] for r in rows) == sorted(o["orderNumber"] for o in orders[a])
    assert {r["buyerName"] for r in rows} == {"Ann Able"}
    assert {r["totalAmount"] for r in rows} == {"100.00"}


async def test_operators_page_by_time_in_status_and_see_each_orders_workflow(api, market):
    a, _, s1, _, orders = market
    moved = orders[a][1]["id"]  # its status changes last: it is the youngest in its status
    answer = await api.put(f"/api/orders/{moved}/status", json={"status": "order_confirmed"},
                           headers=bearer(s1))
    assert answer.status_code == 200, answer.text
    query = f"/api/orders?sortBy=statusUpdatedAt&sortOrder=asc&limit=2&createdFrom={_since(orders)}"
    first = (await api.get(query, headers=OPS)).json()
    rest = (await api.get(f"{query}&cursor={first['pagination']['nextCursor']}",
                          headers=OPS)).json()
    rows = first["orders"] + rest["orders"]
    while rest["pagination"]["nextCursor"]:
        rest = (await api.get(f"{query}&cursor={rest['pagination']['nextCursor']}",
                              headers=OPS)).json()
        rows += rest["orders"]
    ours = [r for r in rows if r["id"] in {o["id"] for o in orders[a]}]
    assert ours[-1]["id"] == moved
    times = [r["statusUpdatedAt"] for r in rows]
    assert times == sorted(times)
    assert all(r["workflowId"].startswith("order-fiat-pi_") for r in ours)
    own = (await api.get(f"/api/orders/seller/{s1}", headers=bearer(s1))).json()["orders"]
    assert "workflowId" not in own[0] and own[0]["statusUpdatedAt"]


async def test_the_ageing_counts_what_is_not_final_by_status(api, market):
    answer = await api.get("/api/orders/ageing", headers=OPS)
    assert answer.status_code == 200, answer.text
    statuses = {s["status"]: s for s in answer.json()["statuses"]}
    confirmed = statuses["payment_confirmed"]
    assert confirmed["count"] >= 5 and confirmed["byAge"]["underAnHour"] >= 5
    assert sum(confirmed["byAge"].values()) == confirmed["count"]
    assert "completed" not in statuses
    assert (await api.get("/api/orders/ageing", headers=bearer(market[0]))).status_code == 403


def _since(orders) -> str:
    first = min(o["createdAt"] for buyer in orders.values() for o in buyer)
    return first.replace("+00:00", "Z").replace(":", "%3A")


async def test_stats_for_a_seller_and_the_platform(api, market):
    _, _, s1, s2, _ = market
    own = (await api.get("/api/orders/stats", headers=bearer(s1))).json()["stats"]
    assert own["scope"] == {"sellerId": s1}
    assert own["ordersCreated"] == 3 and own["countsByStatus"] == {"payment_confirmed": 3}
    assert own["averageOrderValue"] == {"USD": "100.00"}
    assert own["paymentMethods"]["fiat"]["orders"] == 3
    # Every UTC day of the last 30 days, today's last with the three orders made just now.
    days = own["ordersPerDay"]
    assert [date.fromisoformat(d["day"]) for d in days] == [
        date.fromisoformat(days[0]["day"]) + timedelta(days=n) for n in range(len(days))]
    assert len(days) in (30, 31) and days[-1]["day"] == datetime.now(UTC).date().isoformat()
    assert (days[-1]["created"], days[-1]["cancelled"]) == (3, 0)
    assert sum(d["created"] for d in days) == 3
    platform = (await api.get("/api/orders/stats", headers=OPS)).json()["stats"]
    assert platform["scope"] == {"platform": True} and platform["ordersCreated"] >= 5
    for_s2 = (await api.get(f"/api/orders/stats?sellerId={s2}", headers=OPS)).json()["stats"]
    assert for_s2["ordersCreated"] == 2
    bad = await api.get("/api/orders/stats?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
                        headers=OPS)
    assert bad.status_code == 422


async def test_the_order_id_route_still_answers(api, session_db):
    order_id, buyer, _, _ = await new_order(api, session_db)
    assert (await api.get(f"/api/orders/{order_id}", headers=bearer(buyer))).status_code == 200
