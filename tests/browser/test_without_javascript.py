"""Without JavaScript the pages still read and their forms still work: plain posts, a redirect
back to the order on success, the whole page with the API's reason (and status) on refusal."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import new_order, order_state

pytestmark = pytest.mark.usefixtures("stack_worker")


async def test_a_seller_works_an_order_with_javascript_off(people, http, session_db):
    order = await new_order(http, session_db, status="processing")
    seller = await people.page(order.seller, javascript=False)
    await seller.goto(f"{people.base}/app/orders/{order.id}")
    await seller.get_by_role("button", name="Mark ready to ship").click()
    await expect(seller.locator("#order-status")).to_have_text("ready to ship")
    assert seller.url.endswith(f"/app/orders/{order.id}")

    await seller.get_by_label("Tracking number").fill("no spaces allowed")
    async with seller.expect_response(lambda r: r.request.method == "POST") as answer:
        await seller.get_by_role("button", name="Ship this parcel").click()
    assert (await answer.value).status == 422
    await expect(seller.locator("#action-ship [role=alert]")).to_contain_text(
        "VALIDATION_ERROR")
    await expect(seller.locator("#order-status")).to_have_text("ready to ship")
    assert (await order_state(http, order.id))["status"] == "ready_to_ship"
