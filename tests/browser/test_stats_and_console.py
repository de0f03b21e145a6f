"""The seller statistics page and the operator console in a browser: the charts draw the stats
API's numbers, the console shows what the ageing and list APIs say, and only operators and
support may open it."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from api.auth import Role
from tests.browser.conftest import new_order, open_disputes
from tests.conftest import bearer
from tests.factories import unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")
OPS = bearer("ops", Role.OPERATOR)


async def marks(page, chart_id: str) -> dict[tuple[str, str], float]:
    """Each mark a chart drew: (series, day) -> its value."""
    found = await page.locator(f"#{chart_id} .mark").evaluate_all(
        "els => els.map(e => [e.dataset.series || '', e.dataset.label, e.dataset.value])")
    return {(series, day): float(value) for series, day, value in found}


def expected_marks(days: list[dict]) -> dict[str, dict[tuple[str, str], float]]:
    """What each chart should draw for the API's `ordersPerDay` (its rounding included)."""
    def rate(part: int, whole: int) -> float:
        return round(part / whole, 4)

    return {
        "orders-per-day": {("", d["day"]): d["created"] for d in days},
        "rates-per-day": {
            **{("completed", d["day"]): rate(d["completed"], d["created"])
               for d in days if d["created"]},
            **{("cancelled", d["day"]): rate(d["cancelled"], d["created"])
               for d in days if d["created"]}},
        "time-to-ship": {("hours to ship", d["day"]): round(d["timeToShipSeconds"] / 3600, 1)
                         for d in days if d["timeToShipSeconds"] is not None},
    }


async def test_a_sellers_charts_draw_the_stats_apis_numbers(people, http, session_db):
    seller = unique("seller")
    shipped, cancelled, waiting = await asyncio.gather(*(
        new_order(http, session_db, seller=seller) for _ in range(3)))
    answer = await http.post(f"/api/orders/{shipped.id}/shipments", headers=bearer(seller),
                             json={"trackingNumber": "1ZSTATS001", "carrier": "UPS"})
    assert answer.status_code in (200, 201), answer.text
    answer = await http.post(f"/api/orders/{cancelled.id}/cancel", headers=bearer(seller),
                             json={"reasonCode": "seller_out_of_stock"})
    assert answer.status_code == 200, answer.text
    page = await people.page(seller)

    async def page_matches_api() -> dict:
        await page.goto(f"{people.base}/app/stats?days=7")
        start, end = await page.locator("#period time").evaluate_all(
            "els => els.map(e => e.getAttribute('datetime'))")
        stats = (await http.get("/api/orders/stats", headers=bearer(seller),
                                params={"from": start, "to": end})).json()["stats"]
        assert stats["scope"] == {"sellerId": seller}
        for chart_id, expected in expected_marks(stats["ordersPerDay"]).items():
            assert await marks(page, chart_id) == expected, chart_id
        return stats

    # The shipment and the cancellation reach the read model just after their answers.
    stats = await eventually(page_matches_api)
    # Not a match of two empty charts: today has the three orders, one shipped, one cancelled.
    today = stats["ordersPerDay"][-1]
    assert (today["created"], today["cancelled"]) == (3, 1)
    assert today["timeToShipSeconds"] is not None
    assert len(stats["ordersPerDay"]) == 7
    await expect(page.locator("#figure-orders")).to_have_text("3")
    # The same numbers as a table, for those who cannot see the chart.
    await page.get_by_text("Orders per day: the numbers").click()
    row = page.locator("details.numbers").first.locator("tbody tr").last
    await expect(row.locator("th")).to_have_text(today["day"])
    await expect(row.locator("td")).to_have_text(["3", str(today["completed"]), "1"])


async def test_a_buyers_dispute_shows_in_the_console_oldest_first_with_its_workflow(
        people, http, session_db, settings):
    older, newer = [await new_order(http, session_db, status="disputed") for _ in range(2)]
    operator = await people.page(unique("ops"), Role.OPERATOR)
    shown = await open_disputes(operator, people.base)
    assert shown.index(older.id) < shown.index(newer.id)

    found = (await http.get("/api/orders/search", headers=OPS,
                            params={"q": newer.number})).json()["orders"]
    workflow_id = next(o["workflowId"] for o in found if o["id"] == newer.id)
    line = operator.locator(f"#disputes li[data-order-id='{newer.id}']")
    await expect(line.get_by_role("link", name="in Temporal")).to_have_attribute(
        "href", f"{settings.temporal_ui_base}/namespaces/{settings.temporal_namespace}"
                f"/workflows/{workflow_id}")
    times = await operator.locator("#disputes time").evaluate_all(
        "els => els.map(e => e.getAttribute('datetime'))")
    assert times == sorted(times)  # this page of them, oldest first
    await line.get_by_role("link", name=newer.number, exact=True).click()
    await expect(operator.locator("#order-status")).to_have_text("disputed")


async def test_the_ageing_table_counts_each_waiting_status(people, http, session_db):
    await new_order(http, session_db)  # so that "ready to ship" has a row
    operator = await people.page(unique("support"), Role.SUPPORT)

    async def table_matches_api() -> bool:
        await operator.goto(f"{people.base}/app/console")
        ageing = (await http.get("/api/orders/ageing", headers=OPS)).json()["statuses"]
        counts = {s["status"]: s["count"] for s in ageing}
        rows = await operator.locator("#ageing tbody tr").evaluate_all(
            "els => els.map(e => [e.dataset.status, e.cells[1].textContent.trim()])")
        assert {status: int(n) for status, n in rows} == counts
        assert counts["ready_to_ship"] >= 1
        return True

    await eventually(table_matches_api)
    await operator.locator("#ageing").get_by_role("link", name="ready to ship").click()
    await expect(operator.get_by_role("status")).to_contain_text("Only orders ready to ship")
    assert "sortBy=statusUpdatedAt&sortOrder=asc" in operator.url
    statuses = await operator.locator(".order-line .status").all_text_contents()
    assert statuses and set(statuses) == {"ready to ship"}


async def test_a_buyer_is_refused_the_console_and_not_offered_it(people, http, session_db):
    order = await new_order(http, session_db)
    buyer = await people.page(order.buyer)
    answer = await buyer.goto(f"{people.base}/app/console")
    assert answer.status == 403
    await expect(buyer.get_by_role("heading", level=1)).to_have_text("Not allowed")
    nav = buyer.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Console")).to_have_count(0)
    await expect(nav.get_by_role("link", name="My statistics")).to_have_count(1)
