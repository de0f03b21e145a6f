"""What the listener tests share: a sink that records what it is handed, and the listener on
the test chain."""

from __future__ import annotations

import os
from typing import Any

from chain_events.decoding import ChainEvent, block_time
from chain_events.listener import ChainListener
from chain_events.sink import Orphaned
from db.engine import Database
from tests.chain import CHAIN_ID
from tests.payments_chain.escrows import WEEK
from tests.payments_chain.fixtures import CONFIRMATIONS, TOTAL_UNITS
from webhooks.ingest import Delivery
from webhooks.outcomes import InboxOutcome


class RecordingSink:
    """Takes every event as a workflow would (accepted) and writes nothing."""

    def __init__(self) -> None:
        self.delivered: list[ChainEvent] = []
        self.deliveries: list[Delivery] = []
        self.orphans: list[Orphaned] = []

    @property
    def keys(self) -> list[str]:
        return [event.key for event in self.delivered]

    async def prepare(self, events: list[ChainEvent]) -> None:
        pass

    async def deliver(self, event: ChainEvent, timestamp: int) -> Delivery:
        self.delivered.append(event)
        delivery = Delivery(event.incoming(block_time(timestamp)), InboxOutcome.ACCEPTED,
                            event.incoming(block_time(timestamp)).named_workflow)
        self.deliveries.append(delivery)
        return delivery

    async def record(self, conn, deliveries: list[Delivery]) -> list[bool]:
        return []

    async def recorded(self, deliveries: list[Delivery], inserted: list[bool]) -> None:
        pass

    async def orphaned(self, conn, events: list[Orphaned]) -> None:
        self.orphans.extend(events)


class RecordingNode:
    """The real node, with the block ranges of every eth_getLogs asked of it written down."""

    def __init__(self, w3: Any) -> None:
        self._w3 = w3
        self.ranges: list[tuple[int, int]] = []
        self.eth = self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._w3.eth, name)

    async def get_logs(self, query: dict[str, Any]) -> Any:
        self.ranges.append((query["fromBlock"], query["toBlock"]))
        return await self._w3.eth.get_logs(query)


def listener(db: Database, chain, sink, *, w3: Any = None, **options: Any) -> ChainListener:
    return ChainListener(db, w3 or chain.w3, sink, chain_id=CHAIN_ID,
                         contract=chain.escrow.address, confirmations=CONFIRMATIONS, **options)


async def approve(chain, escrows: int = 1) -> None:
    """Let the escrow take the buyer's tokens for `escrows` escrows (one transaction)."""
    await chain.send(chain.token.functions.approve(chain.escrow.address,
                                                   escrows * TOTAL_UNITS), chain.buyer)


async def create(chain) -> str:
    """An escrow funded in one transaction (one block), the buyer having approved it."""
    escrow_id = "0x" + os.urandom(32).hex()
    await chain.send(chain.escrow.functions.create(
        escrow_id, chain.seller.address, chain.token.address, TOTAL_UNITS,
        await chain.now() + WEEK), chain.buyer)
    return escrow_id


def key(escrow_id: str, kind: str = "EscrowCreated") -> str:
    return f"{escrow_id}:{kind}"
