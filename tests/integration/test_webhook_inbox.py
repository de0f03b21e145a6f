"""The webhook inbox repository on SQLite and PostgreSQL: each event once, claimed once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from db import tables as t
from domain.events import EventSource, ExternalEvent
from tests.factories import unique
from webhooks import inbox
from webhooks.outcomes import InboxOutcome, Rejection

Outcome = InboxOutcome


def _event(kind: str = "EscrowCreated") -> ExternalEvent:
    return ExternalEvent(source=EventSource.ESCROW, event_id=unique("evt"), kind=kind,
                         occurred_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
                         transaction_hash="0x" + "ab" * 32)


async def _status(db, event: ExternalEvent) -> str:
    async with db.reader.connect() as conn:
        return (await conn.execute(select(t.webhook_events.c.status).where(
            t.webhook_events.c.event_id == event.event_id))).scalar_one()


def test_every_inbox_state_fits_its_column_and_no_rejection_is_one():
    width = t.webhook_events.c.status.type.length
    assert all(len(outcome.value) <= width for outcome in InboxOutcome)
    assert not {r.value for r in Rejection} & {o.value for o in InboxOutcome}


async def test_an_event_is_recorded_once_and_then_seen(db):
    event = _event()
    async with db.transaction() as conn:
        assert await inbox.record(conn, event, Outcome.UNKNOWN_ORDER, order_id=None,
                                  workflow_id=None)
        assert not await inbox.record(conn, event, Outcome.UNKNOWN_ORDER, order_id=None,
                                      workflow_id=None)
    async with db.reader.connect() as conn:
        assert await inbox.look_up(conn, event, None) == inbox.Lookup(True, None)
        assert await inbox.look_up(conn, _event(), None) == inbox.Lookup(False, None)


async def test_early_events_are_claimed_in_order_and_handed_over_again_on_retry(db):
    workflow_id = unique("order-escrow")
    first, second = _event("EscrowCreated"), _event("DisputeCreated")
    async with db.transaction() as conn:
        for event in (first, second):
            await inbox.record(conn, event, Outcome.PENDING, order_id=None,
                               workflow_id=workflow_id)
    for _ in range(2):  # the second call is an activity retry after a lost result
        async with db.transaction() as conn:
            assert await inbox.claim_early(conn, workflow_id) == [first, second]
    assert await _status(db, first) == Outcome.CLAIMED


async def test_marking_moves_an_event_on_only_from_the_state_it_was_in(db):
    workflow_id = unique("order-escrow")
    claimed, pending = _event(), _event()
    async with db.transaction() as conn:
        await inbox.record(conn, claimed, Outcome.PENDING, order_id=None, workflow_id=workflow_id)
        await inbox.claim_early(conn, workflow_id)
        await inbox.record(conn, pending, Outcome.PENDING, order_id=None, workflow_id=None)
    async with db.transaction() as conn:
        for event in (claimed, pending):
            await inbox.mark(conn, event, Outcome.ACCEPTED, only_from=Outcome.PENDING)
    assert await _status(db, claimed) == Outcome.CLAIMED  # the order took it first
    assert await _status(db, pending) == Outcome.ACCEPTED
