"""Where the listener has got to on a chain: one `chain_listener_cursors` row per contract."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.upsert import insert_ignore

_cursors = t.chain_listener_cursors


@dataclass(frozen=True)
class SeenBlock:
    """A block the listener scanned, and the events it delivered from it."""

    number: int
    hash: str
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cursor:
    chain_id: int
    contract: str
    block_number: int  # the last block scanned
    block_hash: str | None = None  # None before the first block, or after a reorg too deep
    recent: tuple[SeenBlock, ...] = field(default=())  # oldest first
    stored: bool = False  # whether the row exists (the first save inserts it)

    def moved_to(self, number: int, block_hash: str | None,
                 recent: tuple[SeenBlock, ...]) -> Cursor:
        return replace(self, block_number=number, block_hash=block_hash, recent=recent)


class CursorMoved(Exception):
    """Another listener saved the cursor since this one read it."""


async def load(conn: AsyncConnection, chain_id: int, contract: str, *,
               start_block: int) -> Cursor:
    row = (await conn.execute(select(_cursors).where(
        _cursors.c.chain_id == chain_id, _cursors.c.contract_address == contract))).first()
    if row is None:
        return Cursor(chain_id, contract, block_number=start_block - 1)
    recent = tuple(SeenBlock(b["number"], b["hash"], tuple(b.get("events", ())))
                   for b in row.recent_blocks)
    return Cursor(chain_id, contract, row.block_number, row.block_hash, recent, stored=True)


async def save(conn: AsyncConnection, before: Cursor, after: Cursor) -> Cursor:
    """Move the row from `before` to `after`; CursorMoved if it is no longer at `before`, so
    two listeners on one contract cannot both move it (the loser's transaction rolls back)."""
    values = {"block_number": after.block_number, "block_hash": after.block_hash,
              "recent_blocks": [{"number": b.number, "hash": b.hash, "events": list(b.events)}
                                for b in after.recent],
              "updated_at": datetime.now(UTC)}
    if not before.stored:
        inserted = await insert_ignore(conn, _cursors, {
            "chain_id": after.chain_id, "contract_address": after.contract, **values})
        if inserted != 1:
            raise CursorMoved
        return replace(after, stored=True)
    moved = await conn.execute(update(_cursors).where(
        _cursors.c.chain_id == before.chain_id, _cursors.c.contract_address == before.contract,
        _cursors.c.block_number == before.block_number,
        _cursors.c.block_hash.is_(None) if before.block_hash is None
        else _cursors.c.block_hash == before.block_hash,
    ).values(**values).execution_options(preserve_rowcount=True))
    if moved.rowcount != 1:
        raise CursorMoved
    return replace(after, stored=True)
