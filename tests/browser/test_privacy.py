"""The pages never show another person's order: a small matrix of who opens what."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from api.auth import Role
from tests.browser.conftest import new_order
from tests.factories import unique

pytestmark = pytest.mark.usefixtures("stack_worker")


async def order_numbers(page, base: str, path: str) -> list[str]:
    await page.goto(f"{base}{path}")
    return await page.locator(".order-number").all_inner_texts()


async def test_each_person_sees_their_own_orders_and_no_one_elses(people, http, session_db):
    order, other = await asyncio.gather(new_order(http, session_db, status="order_confirmed"),
                                        new_order(http, session_db, status="order_confirmed"))
    base = people.base
    buyer, seller, stranger, support = await asyncio.gather(
        people.page(order.buyer), people.page(order.seller), people.page(unique("stranger")),
        people.page(unique("support"), Role.SUPPORT))

    # Each lands at their home: a buyer's orders, a seller's queue, everything for support.
    assert [p.url.removeprefix(base) for p in (buyer, seller, stranger, support)] == [
        "/app/purchases", "/app/sales", "/app/purchases", "/app/orders"]

    # The lists: a buyer's purchases and a seller's sales hold their own orders only.
    assert await order_numbers(buyer, base, "/app/purchases") == [order.number]
    await expect(buyer.locator(".tabs [aria-current=page] .count")).to_have_text("1")
    assert await order_numbers(buyer, base, "/app/sales") == []
    assert await order_numbers(seller, base, "/app/sales") == [order.number]
    assert await order_numbers(seller, base, "/app/purchases") == []
    assert await order_numbers(stranger, base, "/app/purchases") == []
    everything = await order_numbers(support, base, "/app/orders")
    assert {order.number, other.number} <= set(everything)

    # Search finds only what the searcher may see.
    assert await order_numbers(stranger, base, f"/app/purchases?q={order.number}") == []
    assert await order_numbers(buyer, base, f"/app/purchases?q={other.number}") == []
    assert await order_numbers(buyer, base, f"/app/purchases?q={order.number}") == [
        order.number]

    # The order page: its parties and support read it; anyone else gets the API's 404.
    for page, status in ((buyer, 200), (seller, 200), (support, 200), (stranger, 404)):
        answer = await page.goto(f"{base}/app/orders/{order.id}")
        assert answer.status == status, (page, answer.status)
    await expect(stranger.locator("main")).to_contain_text("no such order")
    await expect(stranger.locator("main")).not_to_contain_text(order.number)
    answer = await buyer.goto(f"{base}/app/orders/{other.id}")
    assert answer.status == 404

    # Every order is for operators and support only: a person is refused (the API's 403).
    answer = await buyer.goto(f"{base}/app/orders")
    assert answer.status == 403
    assert await buyer.locator(".order-number").count() == 0

    # Support reads every order and may change none: no actions are offered.
    await support.goto(f"{base}/app/orders/{order.id}")
    assert await support.locator("#order form").count() == 0


async def test_signed_out_pages_ask_to_sign_in(people, http, session_db):
    order = await new_order(http, session_db, status="order_confirmed")
    page = await people.anonymous()
    for path in ("/app/", "/app/purchases", f"/app/orders/{order.id}"):
        await page.goto(f"{people.base}{path}")
        assert page.url.endswith("/app/sign-in"), path
    await expect(page.locator("main")).not_to_contain_text(order.number)
