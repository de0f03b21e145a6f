"""The order page in a browser: a seller's parcel reaches the buyer's open page live, and a
buyer can neither see nor forge the seller's actions."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from api.auth import Role
from tests.browser.conftest import new_order, open_disputes, order_state, parcels
from tests.conftest import bearer
from tests.factories import unique
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")


async def open_live(page, base: str, order_id: str) -> None:
    """Open the order page and wait until its live connection is up."""
    async with page.expect_websocket(lambda ws: "/live" in ws.url) as connecting:
        await page.goto(f"{base}/app/orders/{order_id}")
    assert not (await connecting.value).is_closed()
    # The server accepts once it has read the order as this person and subscribed to it.
    await page.wait_for_function("() => window.omsLiveOpen === true")


async def test_a_parcel_the_seller_ships_shows_on_the_buyers_open_page_within_a_second(
        people, http, session_db):
    order = await new_order(http, session_db)
    buyer, seller = await asyncio.gather(people.page(order.buyer), people.page(order.seller))
    await open_live(buyer, people.base, order.id)
    await expect(buyer.locator("#order-status")).to_have_text("ready to ship")

    await seller.goto(f"{people.base}/app/orders/{order.id}")
    await seller.get_by_label("Tracking number").fill("1ZLIVE0001")
    await seller.get_by_label("Carrier").fill("UPS")
    await seller.get_by_role("button", name="Ship this parcel").click()
    # Done once the seller's page shows the parcel (its note may already be the live one).
    await expect(seller.locator("#order")).to_contain_text("UPS 1ZLIVE0001")

    await expect(buyer.locator("#order")).to_contain_text("UPS 1ZLIVE0001", timeout=1000)
    await expect(buyer.locator("#order-status")).to_have_text("shipped", timeout=1000)
    assert [p["trackingNumber"] for p in await parcels(http, order.id)] == ["1ZLIVE0001"]


async def test_a_refused_form_shows_the_apis_reason_beside_it(people, http, session_db):
    order = await new_order(http, session_db)
    seller = await people.page(order.seller)
    await seller.goto(f"{people.base}/app/orders/{order.id}")
    await seller.get_by_label("Amount (USDC)").fill("5000")
    await seller.locator("#refund-reason").fill("goodwill")
    await seller.get_by_role("button", name="Refund", exact=True).click()
    refusal = seller.locator("#action-refund [role=alert]")
    await expect(refusal).to_contain_text("REFUND_EXCEEDS_PAYMENT")
    assert (await order_state(http, order.id))["refunds"] == []


async def test_a_buyer_sees_no_ship_button_and_a_forged_post_changes_nothing(
        people, http, session_db):
    order = await new_order(http, session_db)
    buyer = await people.page(order.buyer)
    await buyer.goto(f"{people.base}/app/orders/{order.id}")
    await expect(buyer.locator("#order-status")).to_have_text("ready to ship")
    assert await buyer.get_by_role("button", name=re.compile("ship", re.I)).count() == 0
    assert await buyer.locator("form[action$='/ship']").count() == 0
    csrf = await buyer.locator("input[name=csrf]").first.input_value()

    ship = f"{people.base}/app/orders/{order.id}/ship"
    form = {"trackingNumber": "1ZFORGED01"}
    request = buyer.context.request  # the buyer's cookies, as a forging page would send them
    for forged, origin in (({}, None), ({"csrf": "0" * 64}, None),
                           ({"csrf": csrf}, "http://evil.example")):
        headers = {"Origin": origin} if origin else {}
        answer = await request.post(ship, form={**form, **forged}, headers=headers,
                                    max_redirects=0)
        assert answer.status == 403, (forged, origin, answer.status)
    # The right token, but the buyer may not ship: the API's own refusal, shown as the page.
    answer = await request.post(ship, form={**form, "csrf": csrf}, max_redirects=0)
    assert answer.status == 403
    assert "only the seller of this order or an operator may ship it" in await answer.text()

    state = await order_state(http, order.id)
    assert (state["status"], state["shipping"]["trackingNumber"]) == ("ready_to_ship", None)
    assert await parcels(http, order.id) == []


async def test_a_buyer_disputes_with_evidence_and_an_operator_resolves_with_a_split(
        people, http, session_db):
    order = await new_order(http, session_db, status="escrow_locked")
    buyer, operator = await asyncio.gather(people.page(order.buyer),
                                           people.page(unique("ops"), Role.OPERATOR))
    await buyer.goto(f"{people.base}/app/orders/{order.id}")
    await buyer.get_by_label("What went wrong").fill("The box was empty")
    await buyer.get_by_label("Evidence").fill("photo of the empty box\nthe courier's note")
    await buyer.get_by_role("button", name="Open the dispute").click()
    await expect(buyer.locator("#order-status")).to_have_text("disputed")
    history = (await http.get(f"/api/orders/{order.id}/history",
                              headers=bearer("ops", Role.OPERATOR))).json()["history"]
    assert history[-1]["newStatus"] == "disputed"

    # The operator starts from the console's open disputes.
    assert order.id in await open_disputes(operator, people.base)
    await operator.locator(f"#disputes li[data-order-id='{order.id}']").get_by_role(
        "link", name=order.number, exact=True).click()
    resolve = operator.get_by_role("form", name="Resolve the dispute")
    await resolve.get_by_label("Outcome").select_option("refund")
    await resolve.get_by_label("Split").fill("50")
    await resolve.get_by_label("Note").fill("half back: the buyer kept the box")
    await resolve.get_by_role("button", name="Resolve").click()
    await expect(operator.locator("#order-status")).to_have_text("refunded")
    assert (await order_state(http, order.id))["status"] == "refunded"

    async def split_paid():
        # The split: 50 back to the buyer, the rest released to the seller (each recorded as
        # the provider confirms it, the release just after the refund).
        operations = (await order_state(http, order.id))["payment"]["operations"]
        assert sorted((op["kind"], op["amount"]) for op in operations) == [
            ("refund", "50.000000"), ("release", "150.000000")]
        return True

    await eventually(split_paid)
    await expect(operator.locator("#action-resolve")).to_have_count(0)
