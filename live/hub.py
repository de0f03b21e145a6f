"""Live order updates: each API process tails the outbox and fans updates out to its clients.

A client's queue is bounded; a client too slow to keep up is dropped (and may reconnect with
the last sequence it saw) so it never holds the others back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Row

from api.presenters import iso
from db.engine import Database
from live import outbox

log = logging.getLogger("oms.live")
BATCH = 500


def message(row: Row) -> dict[str, Any]:
    return {
        "type": "order_update",
        "sequence": row.seq,
        "orderId": row.order_id,
        "orderNumber": row.order_number,
        "status": row.status,
        "previousStatus": row.previous_status,
        "timeline": row.timeline_entry,
        "at": iso(row.created_at),
    }


@dataclass(eq=False)
class Subscriber:
    user_id: str
    all_orders: bool  # an operator watching every order
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(256))
    dropped: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, row: Row) -> bool:
        return self.all_orders or self.user_id in (row.buyer_id, row.seller_id)

    def offer(self, msg: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.dropped.set()  # too slow: its socket is closed, it catches up on reconnect


class LiveHub:
    def __init__(self, db: Database, database_url: str, *, poll_interval: float = 0.25,
                 queue_size: int = 256) -> None:
        self._db = db
        self._url = database_url
        self._poll = poll_interval
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.last_seq = 0

    async def start(self) -> None:
        try:
            async with self._db.reader.connect() as conn:
                self.last_seq = await outbox.last_seq(conn)
        except Exception as err:  # noqa: BLE001 - the API serves without live updates
            log.warning("live updates start from the beginning: %s", err)
        self._tasks.append(asyncio.create_task(self._tail(), name="live-tail"))
        if self._url.startswith("postgresql"):
            self._tasks.append(asyncio.create_task(self._listen(), name="live-listen"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def subscribe(self, user_id: str, *, all_orders: bool) -> Subscriber:
        sub = Subscriber(user_id, all_orders, asyncio.Queue(self._queue_size))
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def dispatch(self, rows: list[Row]) -> None:
        for row in rows:
            msg = message(row)
            for sub in list(self._subscribers):
                if sub.wants(row):
                    sub.offer(msg)

    async def _tail(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()
            try:
                while True:
                    async with self._db.reader.connect() as conn:
                        rows = await outbox.after(conn, self.last_seq, limit=BATCH)
                    if not rows:
                        break
                    self.dispatch(rows)
                    self.last_seq = rows[-1].seq
            except Exception as err:  # noqa: BLE001 - keep tailing through database hiccups
                log.warning("live updates: reading the outbox failed: %s", err)
                await asyncio.sleep(1)

    async def _listen(self) -> None:
        """PostgreSQL: wake the tail at once on NOTIFY instead of at the next poll."""
        url = self._url.replace("postgresql+psycopg://", "postgresql://")
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {outbox.CHANNEL}")
                    self._wake.set()  # catch up on anything missed while not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - polling covers the gap; retry shortly
                log.warning("live updates: LISTEN failed, polling meanwhile: %s", err)
                await asyncio.sleep(2)
