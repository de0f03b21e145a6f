"""Where the listener's events go: the inbox and the order workflows, through the webhook's
own steps (webhooks/ingest.py), so a chain event meets the same checks, the same inbox and the
same signal as a signed escrow webhook, and the workflow cannot tell them apart."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio.client import Client

from chain_events.decoding import ChainEvent, block_time
from db import events_repo
from db import tables as t
from db.engine import Database
from db.ids import row_id
from domain.commands import AlertCommand
from domain.events import EventSource
from domain.order import OrderStatus, PaymentMethod
from webhooks import inbox, ingest
from webhooks.ingest import Delivery
from workflows.shared import workflow_id_for

log = logging.getLogger("oms.chain")


@dataclass(frozen=True)
class Orphaned:
    """An event already delivered whose block a reorg took off the chain."""

    escrow_id: str
    kind: str
    block_number: int
    block_hash: str


class EventSink(Protocol):
    async def prepare(self, events: list[ChainEvent]) -> None:
        """Once per block range, before its deliveries."""

    async def deliver(self, event: ChainEvent, timestamp: int) -> Delivery:
        """Check and signal one event; writes nothing."""

    async def record(self, conn: AsyncConnection, deliveries: list[Delivery]) -> list[bool]:
        """The inbox rows of the deliveries that need one, in the cursor's transaction."""

    async def recorded(self, deliveries: list[Delivery], inserted: list[bool]) -> None:
        """After that transaction committed."""

    async def orphaned(self, conn: AsyncConnection, events: list[Orphaned]) -> None:
        """Tell operators of delivered events a reorg undid (nothing can take a signal back)."""


class InboxSink:
    def __init__(self, db: Database, client: Client) -> None:
        self._db = db
        self._client = client
        self._seen: set[str] = set()

    async def prepare(self, events: list[ChainEvent]) -> None:
        # One question of the inbox for the whole range rather than one per event.
        async with self._db.reader.connect() as conn:
            self._seen = await inbox.already_seen(conn, EventSource.ESCROW,
                                                  [e.key for e in events])

    async def deliver(self, event: ChainEvent, timestamp: int) -> Delivery:
        return await ingest.deliver(self._db, self._client, event.incoming(block_time(timestamp)),
                                    seen=event.key in self._seen)

    async def record(self, conn: AsyncConnection, deliveries: list[Delivery]) -> list[bool]:
        return [await ingest.record(conn, d) for d in deliveries if d.needs_row]

    async def recorded(self, deliveries: list[Delivery], inserted: list[bool]) -> None:
        for delivery, fresh in zip([d for d in deliveries if d.needs_row], inserted,
                                   strict=True):
            await ingest.after_recording(self._client, self._db, delivery, inserted=fresh)

    async def orphaned(self, conn: AsyncConnection, events: list[Orphaned]) -> None:
        o = t.orders
        for event in events:
            workflow_id = workflow_id_for(PaymentMethod.ESCROW, event.escrow_id)
            order = (await conn.execute(select(o.c.id, o.c.order_number, o.c.seller_id,
                                               o.c.status).where(o.c.workflow_id == workflow_id)
                                        )).first()
            if order is None:
                continue  # no order yet: the log line is all there is to say
            await events_repo.raise_alert(conn, AlertCommand(
                alert_id=row_id("chain_reorg", event.escrow_id, event.kind, event.block_hash),
                order_id=order.id, order_number=order.order_number, seller_id=order.seller_id,
                kind="chain_reorg", status=OrderStatus(order.status),
                message=f"{event.kind} of escrow {event.escrow_id} was delivered from block "
                        f"{event.block_number} ({event.block_hash}), which a chain reorg deeper "
                        "than OMS_CHAIN_CONFIRMATIONS removed; check the escrow on chain",
                raised_at=datetime.now(UTC)))
