"""The API on a real uvicorn server for the fuzzers, and the bridge from their synchronous
Hypothesis runs to the session's event loop.

The session's worker, Temporal client and database live on the session loop. The fuzzers are
synchronous (Hypothesis drives them), so each test runs its Hypothesis run in a thread
(`asyncio.to_thread`) and the loop stays free to serve the requests and run the workflows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pytest
import uvicorn

from api.auth import Role
from api.main import create_app
from oms.processes import free_port
from oms.settings import Settings
from tests.conftest import bearer
from tests.factories import checkout_body, currency_for, seed_listing, unique
from tests.polling import eventually

T = TypeVar("T")


@dataclass(frozen=True)
class ServedApi:
    base_url: str
    loop: asyncio.AbstractEventLoop
    http: httpx.AsyncClient  # bound to `loop`: use it through `run`

    def run(self, work: Awaitable[T], timeout: float = 60.0) -> T:
        """From a fuzzer's thread: run `work` on the session loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)


@pytest.fixture(scope="module")
async def served_api(settings: Settings, stack_worker) -> AsyncIterator[ServedApi]:
    """`create_app(settings)` under uvicorn on a free port, with the session's Temporal server,
    worker and SQLite database behind it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, interval=0.02)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            yield ServedApi(base_url, asyncio.get_running_loop(), http)
    finally:
        server.should_exit = True
        await task


OPERATOR = bearer("fuzz-operator", Role.OPERATOR)


@dataclass(frozen=True)
class SeededOrder:
    order_id: str
    buyer_id: str
    seller_id: str
    listing_id: str
    method: str


async def place_order(http: httpx.AsyncClient, session_db, method: str) -> SeededOrder:
    """A real order through POST /api/orders (a card order is paid at localstripe)."""
    buyer, seller = unique("buyer"), unique("seller")
    listing = await seed_listing(session_db, seller_id=seller, currency=currency_for(method),
                                 inventory=1000)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method=method)
    created = await http.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    return SeededOrder(created.json()["order"]["id"], buyer, seller, listing, method)
