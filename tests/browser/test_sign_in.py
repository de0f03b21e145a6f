"""Signing in and out: the dev stack's demo buttons, a token, and what a session cookie is."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from api.auth import Role, mint_token
from oms.seed import DEMO_BUYER
from tests.conftest import JWT_SECRET

pytestmark = pytest.mark.usefixtures("stack_worker")


async def test_a_demo_user_signs_in_with_one_click_and_out_again(people):
    page = await people.anonymous()
    await page.goto(f"{people.base}/app/")
    assert page.url.endswith("/app/sign-in")
    await page.get_by_role("button", name=f"Buyer ({DEMO_BUYER})").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("My orders")
    await expect(page.locator("header")).to_contain_text(f"Signed in as {DEMO_BUYER}")

    cookie, = [c for c in await page.context.cookies() if c["name"] == "oms_session"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/app/")
    assert await page.evaluate("document.cookie") == ""  # no script can read the session

    await page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/app/sign-in")
    await page.goto(f"{people.base}/app/purchases")
    assert page.url.endswith("/app/sign-in")


async def test_a_token_that_does_not_verify_is_refused_and_kept_nowhere(people):
    page = await people.anonymous()
    await page.goto(f"{people.base}/app/sign-in")
    wrong = mint_token("another-secret-0123456789abcdef0123", "someone")
    await page.get_by_label("Your token").fill(wrong)
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Sign in", exact=True).click()
    assert (await answer.value).status == 401
    await expect(page.get_by_role("alert")).to_contain_text("not accepted")
    assert "oms_session" not in {c["name"] for c in await page.context.cookies()}


async def test_an_integrations_token_does_not_open_the_pages(people):
    page = await people.anonymous()
    await page.goto(f"{people.base}/app/sign-in")
    await page.get_by_label("Your token").fill(
        mint_token(JWT_SECRET, "carrier", Role.INTEGRATION))
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("integration")
    assert "oms_session" not in {c["name"] for c in await page.context.cookies()}


async def test_the_sign_in_form_cannot_be_posted_from_elsewhere(people):
    page = await people.anonymous()
    await page.goto(f"{people.base}/app/sign-in")
    answer = await page.context.request.post(
        f"{people.base}/app/sign-in", form={"demo": "buyer", "csrf": "f" * 64},
        max_redirects=0)
    assert answer.status == 403
    assert "oms_session" not in {c["name"] for c in await page.context.cookies()}
