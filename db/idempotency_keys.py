"""The one repository of idempotency_keys: claim a key, record its answer, forget it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from db import tables as t
from db.engine import Database
from db.upsert import insert_ignore


@dataclass(frozen=True)
class KeyRecord:
    caller: str
    fingerprint: str
    answer: Any  # None until answered
    created_at: datetime


async def claim(db: Database, scope: str, key: str, caller: str, fingerprint: str,
                now: datetime, expired_before: datetime) -> KeyRecord | None:
    """Take the key for this request. None when it was free (or its last use has expired);
    otherwise the record of whoever took it first."""
    async with db.transaction() as conn:
        where = (t.idempotency_keys.c.scope == scope) & (t.idempotency_keys.c.key == key)
        await conn.execute(delete(t.idempotency_keys).where(
            where & (t.idempotency_keys.c.created_at < expired_before)))
        taken = await insert_ignore(conn, t.idempotency_keys, {
            "scope": scope, "key": key, "caller": caller, "fingerprint": fingerprint,
            "answer": None, "created_at": now})
        if taken:
            return None
        row = (await conn.execute(select(t.idempotency_keys).where(where))).one()
    return KeyRecord(row.caller, row.fingerprint, row.answer, row.created_at)


async def record_answer(db: Database, scope: str, key: str, answer: Any) -> None:
    async with db.transaction() as conn:
        await conn.execute(update(t.idempotency_keys).where(
            (t.idempotency_keys.c.scope == scope) & (t.idempotency_keys.c.key == key)
        ).values(answer=answer))


async def release(db: Database, scope: str, key: str) -> None:
    """Free a key whose request changed nothing, so it can be used again."""
    async with db.transaction() as conn:
        await conn.execute(delete(t.idempotency_keys).where(
            (t.idempotency_keys.c.scope == scope) & (t.idempotency_keys.c.key == key)
            & t.idempotency_keys.c.answer.is_(None)))


async def purge(db: Database, expired_before: datetime) -> int:
    async with db.transaction() as conn:
        result = await conn.execute(delete(t.idempotency_keys).where(
            t.idempotency_keys.c.created_at < expired_before))
    return result.rowcount
