"""Scans the escrow contract's logs block range by block range, only up to the newest block
with OMS_CHAIN_CONFIRMATIONS confirmations (the count payment verification uses), and hands
each event once to its sink.

Reorgs: nodes do not mark orphaned logs `removed` reliably, so the cursor keeps the hashes of
the last blocks it scanned. Every poll first asks whether the newest of them is still on the
chain (a block's hash commits to all its ancestors, so one question answers for all); if not,
it walks back to the newest block still there and scans again from it. Only confirmed blocks
are ever scanned, so a log in a block that was orphaned before its confirmations was never
delivered, and its replacement is delivered like any other event. A reorg of a scanned block
is deeper than the confirmations: its events were signalled and cannot be taken back, so it is
logged at ERROR and each such event raises an operator alert on its order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web3 import AsyncWeb3
from web3.exceptions import BlockNotFound

from chain_events.cursor import Cursor, CursorMoved, SeenBlock, load, save
from chain_events.decoding import ChainEvent, EscrowLogs
from chain_events.sink import EventSink, Orphaned
from db.engine import Database
from webhooks.ingest import Delivery

log = logging.getLogger("oms.chain")

# Blocks per eth_getLogs query: public providers refuse wide ranges (2,000 to 10,000 blocks).
MAX_BLOCKS_PER_QUERY = 1000
# Hashes kept of the latest scanned blocks (at least the confirmations): a reorg deeper than
# this is still found, but the events it orphaned cannot be named.
RECENT_BLOCKS = 64
# Escrows delivered at once; one escrow's events always in their order on the chain.
CONCURRENT_ESCROWS = 32


@dataclass(frozen=True)
class _Block:
    hash: str
    timestamp: int


class ChainMoved(Exception):
    """The chain changed between two questions of one scan; the next poll scans again."""


class ChainListener:
    def __init__(self, db: Database, w3: AsyncWeb3, sink: EventSink, *, chain_id: int,
                 contract: str, confirmations: int, start_block: int = 0,
                 blocks_per_query: int = MAX_BLOCKS_PER_QUERY,
                 recent_blocks: int = RECENT_BLOCKS) -> None:
        self._db, self._w3, self._sink = db, w3, sink
        self._chain_id, self._contract = chain_id, contract
        self._confirmations = confirmations
        self._start_block = start_block
        self._per_query = blocks_per_query
        self._keep = max(recent_blocks, confirmations)
        self._logs = EscrowLogs()

    async def poll(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """Deliver the events of every block confirmed since the last poll (until `stopping`
        says so between ranges); how many were delivered."""
        async with self._db.reader.connect() as conn:
            cursor = await load(conn, self._chain_id, self._contract,
                                start_block=self._start_block)
        delivered = 0
        try:
            cursor = await self._rewind_if_reorged(cursor)
            confirmed = await self._w3.eth.block_number - self._confirmations + 1
            while cursor.block_number < confirmed and not stopping():
                to = min(confirmed, cursor.block_number + self._per_query)
                cursor, count = await self._scan(cursor, to, confirmed)
                delivered += count
        except ChainMoved as err:
            log.warning("the chain changed during a scan (%s); scanning again", err)
        except CursorMoved:
            log.warning("another listener moved the cursor of %s; only one should run",
                        self._contract)
        return delivered

    async def _rewind_if_reorged(self, cursor: Cursor) -> Cursor:
        recent = cursor.recent
        kept = len(recent)
        while kept and await self._hash_of(recent[kept - 1].number) != recent[kept - 1].hash:
            kept -= 1
        if kept == len(recent):
            return cursor
        lost = recent[kept:]
        if kept:
            rewound = cursor.moved_to(recent[kept - 1].number, recent[kept - 1].hash,
                                      recent[:kept])
        else:
            rewound = cursor.moved_to(lost[0].number - 1, None, ())
            log.error("chain reorg deeper than the %d blocks kept: events before block %d "
                      "it removed cannot be named", self._keep, lost[0].number)
        orphaned = [Orphaned(*key.split(":", 1), block.number, block.hash)
                    for block in lost for key in block.events]
        log.error("chain reorg deeper than OMS_CHAIN_CONFIRMATIONS=%d: scanned blocks %d-%d "
                  "are no longer on the chain; scanning again from block %d",
                  self._confirmations, lost[0].number, lost[-1].number,
                  rewound.block_number + 1)
        for event in orphaned:
            log.error("%s of escrow %s was signalled from block %d (%s), which the reorg "
                      "removed: the signal stands, check the escrow on chain", event.kind,
                      event.escrow_id, event.block_number, event.block_hash)
        async with self._db.transaction() as conn:
            await self._sink.orphaned(conn, orphaned)
            return await save(conn, cursor, rewound)

    async def _scan(self, cursor: Cursor, to: int, confirmed: int) -> tuple[Cursor, int]:
        first = cursor.block_number + 1
        raw = await self._w3.eth.get_logs({"address": self._contract, "fromBlock": first,
                                           "toBlock": to, "topics": [self._logs.topics]})
        events = sorted((e for e in map(self._logs.decode, raw) if e is not None),
                        key=lambda e: (e.block_number, e.log_index))
        # The blocks whose hashes are kept (the newest below the confirmed head, and always the
        # last one scanned), and those with events, whose times the events carry.
        kept_from = max(first, confirmed - self._keep + 1)
        numbers = sorted({*range(kept_from, to + 1), to, *(e.block_number for e in events)})
        blocks = dict(zip(numbers, await asyncio.gather(*map(self._block, numbers)),
                          strict=True))
        for event in events:
            if blocks[event.block_number].hash != event.block_hash:
                raise ChainMoved(f"block {event.block_number} is not the block of its logs")
        await self._sink.prepare(events)
        deliveries = await self._deliver(events, blocks)
        in_block = {n: tuple(e.key for e in events if e.block_number == n) for n in numbers}
        recent = cursor.recent + tuple(SeenBlock(n, blocks[n].hash, in_block[n])
                                       for n in numbers if n >= kept_from)
        after = cursor.moved_to(to, blocks[to].hash, recent[-self._keep:])
        async with self._db.transaction() as conn:
            inserted = await self._sink.record(conn, deliveries)
            saved = await save(conn, cursor, after)
        await self._sink.recorded(deliveries, inserted)
        if events:
            outcomes = Counter(d.outcome.value for d in deliveries)
            log.info("blocks %d-%d: %d escrow events delivered (%s)", first, to, len(events),
                     ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())))
        return saved, len(events)

    async def _deliver(self, events: list[ChainEvent],
                       blocks: dict[int, _Block]) -> list[Delivery]:
        """Every event to the sink: escrows side by side, each escrow's events in their order
        (a dispute must not reach an order before its funding)."""
        by_escrow: dict[str, list[int]] = {}
        for index, event in enumerate(events):
            by_escrow.setdefault(event.escrow_id, []).append(index)
        done: list[Delivery | None] = [None] * len(events)
        gate = asyncio.Semaphore(CONCURRENT_ESCROWS)

        async def one_escrow(indexes: list[int]) -> None:
            async with gate:
                for i in indexes:
                    event = events[i]
                    done[i] = await self._sink.deliver(event,
                                                       blocks[event.block_number].timestamp)
                    log.debug("%s of escrow %s (block %d): %s", event.kind, event.escrow_id,
                              event.block_number, done[i].outcome)

        try:
            async with asyncio.TaskGroup() as group:
                for indexes in by_escrow.values():
                    group.create_task(one_escrow(indexes))
        except BaseExceptionGroup as failed:
            # The first failure, as one delivery would have raised it (Temporal or the
            # database unreachable); nothing is saved, and the next poll delivers again.
            raise failed.exceptions[0] from None
        return [d for d in done if d is not None]

    async def _block(self, number: int) -> _Block:
        try:
            block: Any = await self._w3.eth.get_block(number)
        except BlockNotFound:
            raise ChainMoved(f"block {number} is gone") from None
        return _Block("0x" + bytes(block["hash"]).hex(), block["timestamp"])

    async def _hash_of(self, number: int) -> str | None:
        try:
            return (await self._block(number)).hash
        except ChainMoved:
            return None
