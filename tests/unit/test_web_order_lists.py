"""A list page's query, tabs and lines, from the list API's answer."""

from __future__ import annotations

from starlette.datastructures import QueryParams

from web.order_lists import ListQuery, OrderLine, tabs


def test_the_query_keeps_what_the_page_understands_and_drops_the_rest():
    query = ListQuery.of(QueryParams("group=bogus&status=shipped&q=%20mug%20&sortBy=totalAmount"
                                     "&paymentMethod=&cursor=abc"))
    assert query == ListQuery(q="mug", group=None, status="shipped", payment_method=None,
                              sort_by="totalAmount", sort_order="desc", cursor="abc")
    assert query.statuses() == "shipped"
    assert ListQuery.of(QueryParams("status=lost&q=" + "x" * 300)).status is None
    assert len(ListQuery.of(QueryParams("q=" + "x" * 300)).q) == 200


def test_a_tab_asks_the_api_for_its_groups_statuses():
    assert ListQuery(group="shipping").statuses() == "in_transit,out_for_delivery,shipped"
    assert ListQuery().statuses() is None


def test_tabs_count_each_group_from_the_counts_by_status_and_mark_the_current_one():
    query = ListQuery(group="fulfilment", sort_by="status")
    made = tabs("/app/sales", query, {"processing": 2, "ready_to_ship": 1, "shipped": 4,
                                       "completed": 3})
    by_label = {t.label: t for t in made}
    assert by_label["all"].count == 10
    assert by_label["fulfilment"].count == 3
    assert by_label["shipping"].count == 4
    assert [t.label for t in made if t.current] == ["fulfilment"]
    assert by_label["shipping"].url == "/app/sales?group=shipping&sortBy=status&sortOrder=desc"
    assert by_label["all"].url == "/app/sales?sortBy=status&sortOrder=desc"
    # One status asked for (the console's links): no tab is the current one.
    assert not any(t.current for t in tabs("/app/orders", ListQuery(status="shipped"), {}))


def order(**fields) -> dict:
    return {"id": "o-1", "orderNumber": "ORD-2026-0000001", "status": "shipped",
            "totalAmount": "25.00", "currency": "USD", "createdAt": "2026-05-31T10:00:00Z",
            "items": [{"quantity": 2, "productName": "Mug"},
                      {"quantity": 1, "productName": "Tea"}], **fields}


def test_a_line_names_the_other_party_as_the_readers_view_gives_them():
    seller = {"id": "s-1", "name": "Sam", "storeName": "Sam's Shop"}
    buyer = {"id": "b-1", "name": None}
    assert OrderLine.of(order(seller=seller)).who == "from Sam's Shop"
    assert OrderLine.of(order(buyer=buyer)).who == "for b-1"
    both = OrderLine.of(order(seller={"id": "s-1", "storeName": None, "name": None},
                              buyer={"id": "b-1", "name": "Ada"}))
    assert both.who == "from s-1, for Ada"
    line = OrderLine.of(order())
    assert (line.what, line.total, line.who) == ("2 × Mug, 1 × Tea", "25.00 USD", "")
