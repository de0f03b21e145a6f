"""The idempotency_keys repository on SQLite and PostgreSQL: one claim per key, answers kept,
expired keys free again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from db import idempotency_keys as keys

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY_AGO = NOW - timedelta(hours=24)


async def test_a_key_is_claimed_once_and_keeps_its_answer(db):
    claims = await asyncio.gather(*(keys.claim(db, "order:1", "k", "user:a", "f1", NOW, DAY_AGO)
                                    for _ in range(3)))
    assert sorted(c is None for c in claims) == [False, False, True]
    await keys.record_answer(db, "order:1", "k", {"status": "cancelled"})
    again = await keys.claim(db, "order:1", "k", "user:b", "f2", NOW, DAY_AGO)
    assert (again.caller, again.fingerprint, again.answer) == ("user:a", "f1",
                                                                {"status": "cancelled"})
    # The same key on another scope is another key.
    assert await keys.claim(db, "order:2", "k", "user:b", "f2", NOW, DAY_AGO) is None


async def test_a_released_or_expired_key_is_free_and_old_keys_are_purged(db):
    assert await keys.claim(db, "order:1", "refused", "user:a", "f1", NOW, DAY_AGO) is None
    await keys.release(db, "order:1", "refused")
    assert await keys.claim(db, "order:1", "refused", "user:b", "f2", NOW, DAY_AGO) is None

    assert await keys.claim(db, "order:1", "old", "user:a", "f1", NOW, DAY_AGO) is None
    await keys.record_answer(db, "order:1", "old", {"ok": True})
    await keys.release(db, "order:1", "old")  # an answered key is never released
    tomorrow = NOW + timedelta(hours=25)
    assert await keys.claim(db, "order:1", "old", "user:a", "f1", NOW, DAY_AGO) is not None
    assert await keys.claim(db, "order:1", "old", "user:b", "f2", tomorrow,
                            tomorrow - timedelta(hours=24)) is None
    assert await keys.purge(db, tomorrow - timedelta(hours=24)) == 1  # "refused", from NOW
