"""The web front in a real browser: Debian's chromium driven by Playwright, against a real API
on a free port (uvicorn), the real worker, Temporal dev server and SQLite of the session.

One browser for the session and one API server per module; each person gets a browser
context of their own (their own cookies). Without chromium (or Playwright) the tests skip
here, and fail in CI. A failing test leaves a screenshot of each of its pages under the
pytest basetemp (the path is printed).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.auth import Role, mint_token
from api.main import create_app
from oms.processes import free_port
from tests.conftest import JWT_SECRET, bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.polling import eventually

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}


def require(what: str, present: bool) -> None:
    """Skip without `what`; in CI, which installs it (.ci/run), fail instead."""
    if present:
        return
    reason = f"browser tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.browser_test_failed = report.failed


@pytest.fixture(scope="session")
async def browser():
    require("chromium at /usr/bin/chromium", CHROMIUM.exists() or bool(shutil.which("chromium")))
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        require("playwright (the dev extras)", False)
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable)
        yield launched
        await launched.close()


@pytest.fixture(scope="module")
async def web_url(settings, stack_worker) -> AsyncIterator[str]:
    """The API with its pages on a free port (demo sign-in on, live updates polled often)."""
    quick = settings.model_copy(update={"live_poll_interval": timedelta(milliseconds=50),
                                        "web_demo_sign_in": True})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(quick), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, interval=0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@dataclass
class People:
    """Signed-in browser pages, one context (cookie jar) per person, shot if the test fails."""

    browser: object
    base: str
    pages: list = field(default_factory=list)

    async def page(self, sub: str, role: Role = Role.USER, *, viewport=DESKTOP,
                   javascript: bool = True):
        """A page signed in as `sub` through the sign-in form, with a token of theirs."""
        page = await self.anonymous(viewport=viewport, javascript=javascript)
        await page.goto(f"{self.base}/app/sign-in")
        await page.get_by_label("Your token").fill(mint_token(JWT_SECRET, sub, role))
        await page.get_by_role("button", name="Sign in", exact=True).click()
        await page.wait_for_url(lambda url: "/sign-in" not in url)
        return page

    async def anonymous(self, *, viewport=DESKTOP, javascript: bool = True):
        context = await self.browser.new_context(viewport=viewport,
                                                 java_script_enabled=javascript)
        # Tests wait on this for the order page's live connection (htmx's ws extension).
        await context.add_init_script(
            "document.addEventListener('htmx:wsOpen', () => { window.omsLiveOpen = true; })")
        page = await context.new_page()
        self.pages.append(page)
        return page


@pytest.fixture
async def people(browser, web_url, request, tmp_path_factory) -> AsyncIterator[People]:
    found = People(browser, web_url)
    yield found
    if getattr(request.node, "browser_test_failed", False):
        shots = tmp_path_factory.mktemp("screenshots")
        for n, page in enumerate(found.pages):
            path = shots / f"{request.node.name}-{n}.png"
            await page.screenshot(path=str(path), full_page=True)
            print(f"screenshot: {path}")
    for page in found.pages:
        await page.context.close()


@pytest.fixture
async def http(web_url) -> AsyncIterator[httpx.AsyncClient]:
    """The same server's JSON API, for setting orders up and checking what they became."""
    async with httpx.AsyncClient(base_url=web_url, timeout=30) as client:
        yield client


@dataclass
class Order:
    id: str
    number: str
    buyer: str
    seller: str


async def new_order(http, session_db, *, status: str = "ready_to_ship",
                    seller: str | None = None) -> Order:
    """A paid order of a fresh buyer from a fresh seller (or `seller`), moved on to `status`:
    crypto, or escrow for "escrow_locked" (and disputed by its buyer for "disputed")."""
    buyer, seller = unique("buyer"), seller or unique("seller")
    listing = await seed_listing(session_db, seller_id=seller, price="100")
    method = "escrow" if status in ("disputed", "escrow_locked") else "crypto"
    created = await http.post("/api/orders", headers=bearer(buyer), json=checkout_body(
        buyer_id=buyer, seller_id=seller, listing_id=listing, method=method, total="200"))
    assert created.status_code == 201, created.text
    order = created.json()["order"]
    if status == "disputed":
        opened = await http.post(f"/api/orders/{order['id']}/dispute", headers=bearer(buyer),
                                 json={"reason": "never arrived", "evidence": ["photo"]})
        assert opened.status_code == 200, opened.text
    steps = ("order_confirmed", "processing", "ready_to_ship")
    for step in steps[:steps.index(status) + 1] if status in steps else ():
        moved = await http.put(f"/api/orders/{order['id']}/status", json={"status": step},
                               headers=bearer(seller))
        assert moved.status_code == 200, moved.text
    return Order(order["id"], order["orderNumber"], buyer, seller)


async def order_state(http, order_id: str) -> dict:
    answer = await http.get(f"/api/orders/{order_id}", headers=bearer("ops", Role.OPERATOR))
    return answer.json()["order"]


async def parcels(http, order_id: str) -> list:
    answer = await http.get(f"/api/orders/{order_id}/shipments",
                            headers=bearer("ops", Role.OPERATOR))
    return answer.json()["shipments"]


async def open_disputes(page, base: str) -> list[str]:
    """The operator console's open disputes, every page of them: their order ids as shown.
    The page ends on the last one."""
    await page.goto(f"{base}/app/console")
    shown: list[str] = []
    while True:
        shown += await page.locator("#disputes li").evaluate_all(
            "els => els.map(e => e.dataset.orderId)")
        later = page.get_by_role("link", name="Newer disputes")
        if not await later.count():
            return shown
        await later.click()
