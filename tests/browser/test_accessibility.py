"""axe-core finds no WCAG 2.1 A or AA violation on any page, at desktop and phone widths, and
no page breaks its own Content-Security-Policy (no inline script or style)."""

from __future__ import annotations

import asyncio

import pytest

from api.auth import Role
from tests.browser.conftest import DESKTOP, PHONE, ROOT, new_order
from tests.chain import require_node_modules
from tests.factories import unique

pytestmark = pytest.mark.usefixtures("stack_worker")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def with_axe(page):
    """`page` with axe-core in each document it opens: an init script, which the pages' CSP
    does not apply to (a <script> of it would rightly be refused)."""
    if not AXE.exists():
        require_node_modules("axe-core")
    await page.context.add_init_script(path=str(AXE))
    return page


async def violations(page) -> list[str]:
    """What axe finds on the page as it is now."""
    found = await page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: "
                                "tags}}).then(r => r.violations.map(v => v.id + ': ' + "
                                "v.nodes.map(n => n.target.join(' ')).join(', ')))", TAGS)
    return found


async def test_every_page_passes_axe_at_desktop_and_phone_widths(people, http, session_db):
    order, disputed = await asyncio.gather(new_order(http, session_db),
                                           new_order(http, session_db, status="disputed"))
    base = people.base
    problems: dict[str, list[str]] = {}
    csp_errors: list[str] = []

    async def audit(page, name: str) -> None:
        """axe at both widths: the phone layout is the same page under its media queries."""
        for viewport, width in ((DESKTOP, "desktop"), (PHONE, "375 px")):
            await page.set_viewport_size(viewport)
            if found := await violations(page):
                problems[f"{name} at {width}"] = found
        await page.set_viewport_size(DESKTOP)

    async def check(page, path: str, name: str) -> None:
        await page.goto(f"{base}{path}")
        await audit(page, name)

    anonymous, seller, buyer, operator = await asyncio.gather(
        people.anonymous(), people.page(order.seller), people.page(order.buyer),
        people.page(unique("ops"), Role.OPERATOR))
    for page in (anonymous, seller, buyer, operator):
        await with_axe(page)
        page.on("console", lambda m: csp_errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text else None)
    await check(anonymous, "/app/sign-in", "sign-in")
    await check(seller, "/app/sales", "seller's sales")
    await check(seller, f"/app/orders/{order.id}", "order page, seller")
    await check(buyer, "/app/purchases", "buyer's orders")
    await check(buyer, f"/app/orders/{order.id}", "order page, buyer")
    await check(buyer, f"/app/orders/{order.id}".replace(order.id[:8], "00000000"),
                "not found")
    await check(operator, "/app/orders", "every order")
    await check(operator, f"/app/orders/{disputed.id}", "order page, operator")
    assert await operator.get_by_role("button", name="Resolve").count() == 1
    await check(operator, "/app/orders?q=nothing-matches-this", "search")
    await check(seller, "/app/stats", "seller's statistics")
    await seller.get_by_text("Orders per day: the numbers").click()  # a chart's table, open
    await audit(seller, "seller's statistics, a table open")
    await check(operator, "/app/stats?days=90", "the marketplace's statistics")
    await check(operator, "/app/console", "operator console")
    await check(operator, "/app/orders?status=disputed&sortBy=statusUpdatedAt&sortOrder=asc",
                "one status, oldest first")
    # A refused form, as htmx shows it beside the form.
    await seller.goto(f"{base}/app/orders/{order.id}")
    await seller.get_by_label("Tracking number").fill("no spaces allowed")
    await seller.get_by_role("button", name="Ship this parcel").click()
    await seller.locator("#action-ship [role=alert]").wait_for()
    await audit(seller, "refused form")
    assert problems == {}
    assert csp_errors == []


async def test_axe_does_find_violations(people):
    """The check above can fail: a page with an unlabelled field and no language fails it."""
    page = await people.anonymous()
    await page.set_content("<html><body><input type=text><img src=x></body></html>")
    await page.evaluate(AXE.read_text())
    found = await violations(page)
    assert {f.split(":")[0] for f in found} >= {"html-has-lang", "label", "image-alt"}
