"""WebSocket /api/ws on a real uvicorn server: live updates, replay, auth and fan-out."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
import websockets
from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed

from api.auth import Role, mint_token
from api.main import create_app
from db import orders_repo
from db import tables as t
from db.engine import create_database
from domain.commands import StatusChangeRecord
from domain.order import ActorKind, OrderStatus
from oms.processes import free_port
from tests.api.test_webhooks import new_order
from tests.conftest import JWT_SECRET, bearer
from tests.factories import seed_listing, unique
from tests.integration.test_order_lists import make_order
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("stack_worker")


async def serve(settings):
    """A real uvicorn server for `settings` on a free port; returns (ws base url, stop)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, interval=0.02)

    async def stop():
        server.should_exit = True
        await task

    return f"ws://127.0.0.1:{port}/api/ws", stop


@pytest.fixture(scope="module")
async def ws_url(settings):
    quick = settings.model_copy(update={"live_poll_interval": timedelta(milliseconds=50)})
    url, stop = await serve(quick)
    yield url
    await stop()


def token(sub, role=Role.USER, ttl=timedelta(hours=1)):
    return mint_token(JWT_SECRET, sub, role, ttl=ttl)


async def outbox_end(db) -> int:
    """The last sequence in the outbox of live updates.

    A client that connects with ?since=<it> gets every later update, replayed or live, so a
    change made the moment it has connected is not lost to the server's subscribing it.
    """
    async with db.reader.connect() as conn:
        return (await conn.execute(select(func.coalesce(func.max(t.order_updates.c.seq), 0))
                                   )).scalar_one()


async def next_update(ws, order_id, timeout=10.0, status=None):
    """The next update of `order_id` (optionally: the next one to `status`)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = json.loads(await ws.recv())
            if msg["orderId"] == order_id and status in (None, msg["status"]):
                return msg


async def test_the_buyer_and_the_seller_see_each_change_live(api, session_db, ws_url):
    order_id, buyer, seller, _ = await new_order(api, session_db)
    since = await outbox_end(session_db)
    async with websockets.connect(f"{ws_url}?token={token(buyer)}&since={since}") as b_ws, \
            websockets.connect(f"{ws_url}?token={token(seller)}&since={since}") as s_ws, \
            websockets.connect(f"{ws_url}?token={token(unique('stranger'))}") as x_ws:
        await api.put(f"/api/orders/{order_id}/status", json={"status": "order_confirmed"},
                      headers=bearer(seller))
        for ws in (b_ws, s_ws):
            msg = await next_update(ws, order_id, status="order_confirmed")
            assert (msg["type"], msg["status"], msg["previousStatus"]) == (
                "order_update", "order_confirmed", "payment_confirmed")
            assert msg["timeline"]["description"] == "Order confirmed by seller"
            assert isinstance(msg["sequence"], int)
        with pytest.raises(TimeoutError):
            await next_update(x_ws, order_id, timeout=0.5)


async def test_a_reconnecting_client_gets_what_it_missed(api, session_db, ws_url):
    order_id, buyer, seller, _ = await new_order(api, session_db)
    since = await outbox_end(session_db)
    async with websockets.connect(f"{ws_url}?token={token(buyer)}&since={since}") as ws:
        await api.put(f"/api/orders/{order_id}/status", json={"status": "order_confirmed"},
                      headers=bearer(seller))
        seen = (await next_update(ws, order_id, status="order_confirmed"))["sequence"]
    for status in ("processing", "ready_to_ship"):  # while the buyer is offline
        await api.put(f"/api/orders/{order_id}/status", json={"status": status},
                      headers=bearer(seller))
    async with websockets.connect(f"{ws_url}?token={token(buyer)}&since={seen}") as ws:
        missed = [await next_update(ws, order_id), await next_update(ws, order_id)]
    assert [m["status"] for m in missed] == ["processing", "ready_to_ship"]
    assert missed[0]["sequence"] > seen


async def test_operators_may_watch_every_order_and_users_may_not(api, session_db, ws_url):
    order_id, _, seller, _ = await new_order(api, session_db)
    since = await outbox_end(session_db)
    async with websockets.connect(f"{ws_url}?all=true&since={since}",
                                  additional_headers={"Authorization":
                                                      f"Bearer {token('ops', Role.OPERATOR)}"}
                                  ) as ops_ws:
        await api.put(f"/api/orders/{order_id}/status", json={"status": "order_confirmed"},
                      headers=bearer(seller))
        assert await next_update(ops_ws, order_id, status="order_confirmed")
    async with websockets.connect(f"{ws_url}?all=true&token={token(seller)}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1008


@pytest.mark.parametrize("bad", ["", "token=garbage",
                                 f"token={token('u1', ttl=timedelta(seconds=-5))}",
                                 f"token={mint_token('other-secret-0123456789abcdef012345', 'u')}"])
async def test_bad_or_expired_tokens_close_with_policy_violation(ws_url, bad):
    async with websockets.connect(f"{ws_url}?{bad}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd.code == 1008


async def test_several_api_processes_on_postgresql_each_fan_out(postgres_url, settings):
    """Two API servers on one PostgreSQL database: a change committed by the projection
    reaches clients of both, woken by NOTIFY (polling is set far too slow to explain it)."""
    slow_poll = settings.model_copy(update={"database_url": postgres_url,
                                            "live_poll_interval": timedelta(seconds=10)})
    (url_a, stop_a), (url_b, stop_b) = await serve(slow_poll), await serve(slow_poll)
    db = create_database(postgres_url)
    try:
        seller = unique("seller")
        listing = await seed_listing(db, seller_id=seller)
        order_id, number = await make_order(db, seller=seller, buyer="pg-buyer",
                                            listing=listing, at=datetime.now(UTC))
        # ?since closes the gap between connecting and being subscribed. The replay it asks for
        # is read as the client connects, ahead of the change below (which first opens a
        # connection of its own), so the change comes the live way: by NOTIFY, or by the
        # hub's catch-up once its LISTEN is in place.
        since = await outbox_end(db)
        async with websockets.connect(f"{url_a}?token={token(seller)}&since={since}") as a, \
                websockets.connect(f"{url_b}?token={token('pg-buyer')}&since={since}") as b:
            async with db.transaction() as conn:
                await orders_repo.record_status_change(conn, StatusChangeRecord(
                    order_id=order_id, order_number=number, sequence=1,
                    previous_status=OrderStatus.PAYMENT_CONFIRMED,
                    new_status=OrderStatus.ORDER_CONFIRMED, actor_kind=ActorKind.SELLER,
                    actor_id=seller, buyer_id="pg-buyer", seller_id=seller,
                    occurred_at=datetime.now(UTC), description="Order confirmed by seller"))
            for ws in (a, b):
                assert await next_update(ws, order_id, timeout=3, status="order_confirmed")
    finally:
        await stop_a()
        await stop_b()
        await db.dispose()


def test_a_slow_client_is_dropped_without_holding_back_the_others():
    from live.hub import LiveHub, Subscriber

    hub = LiveHub(db=None, database_url="sqlite+aiosqlite://", queue_size=2)
    slow = hub.subscribe("u1", all_orders=False)
    fast = hub.subscribe("u1", all_orders=False)

    class Row:  # the columns of an order_updates row that the hub reads
        def __init__(self, seq):
            self.seq, self.order_id, self.order_number = seq, "o1", "ORD-1"
            self.buyer_id, self.seller_id = "u1", "s1"
            self.status, self.previous_status = "processing", "order_confirmed"
            self.timeline_entry, self.created_at = {}, datetime.now(UTC)

    hub.dispatch([Row(1), Row(2)])
    fast.queue.get_nowait(), fast.queue.get_nowait()  # the fast client keeps up
    hub.dispatch([Row(3)])
    assert slow.dropped.is_set() and not fast.dropped.is_set()
    assert fast.queue.get_nowait()["sequence"] == 3
    assert isinstance(slow, Subscriber)
