"""The listener end to end: escrow events on a real anvil, through the real inbox, to real
order workflows (Temporal dev server, the real worker) and the read model the API shows.

The orders here never ask the chain again on their own (the recheck is an hour away), so a
status that moves moved by the listener's signal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, select

from api.auth import Role
from chain_events.sink import InboxSink
from db import tables as t
from tests.conftest import bearer
from tests.factories import checkout_body, seed_listing, unique
from tests.payments_chain.escrows import fund
from tests.payments_chain.fixtures import CONFIRMATIONS, chain_service
from tests.payments_chain.listening import key, listener
from tests.polling import eventually

TOTAL_UNITS = 200_000_000  # checkout_body: 2 x 100 USDC
OPS = bearer("ops1", Role.OPERATOR)


@pytest.fixture
async def stack(chain, client, settings, sqlite_url) -> AsyncIterator[httpx.AsyncClient]:
    """The API and a worker of their own on the test chain, and the listener (`stack.listen`)
    delivering to them through the inbox."""
    async with chain_service(chain, client, settings, sqlite_url, queue="listen",
                             payment_recheck_interval=timedelta(hours=1)) as http:
        http.listener = listener(http.db, chain, InboxSink(http.db, client))  # type: ignore
        yield http


async def _shop(api, chain):
    buyer, seller = unique("buyer"), unique("seller")
    for user_id, account in ((buyer, chain.buyer), (seller, chain.seller)):
        body = {"name": user_id, "email": f"{user_id}@example.com",
                "walletAddress": account.address}
        assert (await api.put(f"/api/users/{user_id}", json=body, headers=OPS)).status_code \
            == 200
    return buyer, seller, await seed_listing(api.db, seller_id=seller, currency="USDC")


async def _order(api, chain, escrow_id: str) -> tuple[str, str]:
    buyer, seller, listing = await _shop(api, chain)
    body = checkout_body(buyer_id=buyer, seller_id=seller, listing_id=listing, method="escrow")
    body["paymentResult"]["escrowId"] = escrow_id
    created = await api.post("/api/orders", json=body, headers=bearer(buyer))
    assert created.status_code == 201, created.text
    return created.json()["order"]["id"], buyer


async def _becomes(api, order_id: str, who: str, status: str) -> None:
    async def there():
        answer = await api.get(f"/api/orders/{order_id}", headers=bearer(who))
        assert answer.json()["order"]["status"] == status
        return True

    await eventually(there, timeout=20)


async def _inbox(api, escrow_id: str, kind: str = "EscrowCreated") -> str | None:
    async with api.db.reader.connect() as conn:
        return (await conn.execute(select(t.webhook_events.c.status).where(
            t.webhook_events.c.event_id == key(escrow_id, kind)))).scalar()


async def test_an_escrow_funded_on_chain_pays_its_order_and_a_dispute_on_chain_opens_one(
        chain, stack):
    api = stack
    escrow_id = await fund(chain, units=TOTAL_UNITS)
    order_id, buyer = await _order(api, chain, escrow_id)
    await _becomes(api, order_id, buyer, "payment_pending")  # one confirmation of three
    assert await api.listener.poll() == 0
    await chain.mine(CONFIRMATIONS - 1)
    assert await api.listener.poll() == 1
    await _becomes(api, order_id, buyer, "escrow_locked")
    await chain.send(chain.escrow.functions.dispute(escrow_id), chain.buyer)
    await chain.mine(CONFIRMATIONS - 1)
    assert await api.listener.poll() == 1
    await _becomes(api, order_id, buyer, "disputed")
    history = (await api.get(f"/api/orders/{order_id}/history", headers=bearer(buyer))).json()
    moves = [(h["newStatus"], h["metadata"].get("eventId")) for h in history["history"]]
    assert moves[-2:] == [("escrow_locked", key(escrow_id)),
                          ("disputed", key(escrow_id, "DisputeCreated"))]
    assert await _inbox(api, escrow_id, "DisputeCreated") == "accepted"

    # A listener with no cursor delivers both again: the inbox and the workflow take each once.
    async with api.db.transaction() as conn:
        await conn.execute(delete(t.chain_listener_cursors))
    assert await api.listener.poll() == 2
    again = (await api.get(f"/api/orders/{order_id}/history", headers=bearer(buyer))).json()
    assert again["history"] == history["history"]


async def test_an_event_before_its_order_is_kept_and_applied_when_the_order_starts(
        chain, stack):
    api = stack
    escrow_id = await fund(chain, units=TOTAL_UNITS)
    await chain.mine(CONFIRMATIONS - 1)
    assert await api.listener.poll() == 1
    assert await _inbox(api, escrow_id) == "pending"
    order_id, buyer = await _order(api, chain, escrow_id)
    await _becomes(api, order_id, buyer, "escrow_locked")  # verified at once: confirmed

    async def claimed():
        assert await _inbox(api, escrow_id) != "pending"
        timeline = (await api.get(f"/api/orders/{order_id}/timeline",
                                  headers=bearer(buyer))).json()
        entries = [e for e in timeline["timeline"]
                   if e.get("metadata", {}).get("eventId") == key(escrow_id)]
        assert entries, timeline
        return entries

    (entry,) = await eventually(claimed, timeout=20)
    assert entry["description"] == "Escrow contract reported EscrowCreated"


async def test_a_reorg_that_undoes_a_signalled_funding_raises_an_alert_on_its_order(
        chain, stack):
    api = stack
    before = await chain.snapshot()
    escrow_id = await fund(chain, units=TOTAL_UNITS)
    order_id, buyer = await _order(api, chain, escrow_id)
    await chain.mine(CONFIRMATIONS - 1)
    assert await api.listener.poll() == 1
    await _becomes(api, order_id, buyer, "escrow_locked")
    await chain.revert(before)  # the funding's blocks replaced: deeper than the confirmations
    await chain.mine(CONFIRMATIONS + 2)
    assert await api.listener.poll() == 0
    alerts = (await api.get("/api/alerts", params={"kind": "chain_reorg"}, headers=OPS)).json()
    (alert,) = [a for a in alerts["alerts"] if a["orderId"] == order_id]
    assert escrow_id in alert["message"] and "EscrowCreated" in alert["message"]
    assert await api.listener.poll() == 0  # said once
    again = (await api.get("/api/alerts", params={"kind": "chain_reorg"}, headers=OPS)).json()
    assert len(again["alerts"]) == len(alerts["alerts"])
