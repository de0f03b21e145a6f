"""The webhook inbox: every accepted event once, with what became of it.

Every read and write of `webhook_events` is here: the API records what it could not hand to a
workflow, the worker records the events its workflow applied (in the transaction of the change),
and a starting order claims the events that arrived before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy import and_, exists, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.ids import row_id
from db.upsert import insert_ignore
from domain.events import EventSource, ExternalEvent
from domain.order import PaymentMethod
from webhooks.outcomes import InboxOutcome

_inbox = t.webhook_events
_payload = TypeAdapter(ExternalEvent)


async def record(conn: AsyncConnection, event: ExternalEvent, outcome: InboxOutcome, *,
                 order_id: str | None, workflow_id: str | None) -> bool:
    """Insert the event unless (source, event_id) is there already; True if this call did."""
    source = event.source.value
    now = datetime.now(UTC)
    inserted = await insert_ignore(conn, _inbox, {
        "id": row_id("webhook", source, event.event_id),
        "source": source, "event_id": event.event_id, "event_type": event.kind[:50],
        "order_id": order_id, "workflow_id": workflow_id,
        "payload": _payload.dump_python(event, mode="json"),
        "status": outcome.value, "received_at": now,
        "delivered_at": now if outcome is InboxOutcome.ACCEPTED else None,
    })
    return inserted == 1


@dataclass(frozen=True)
class Lookup:
    seen: bool  # the inbox holds the event already
    workflow_id: str | None  # of the order the event names, if it exists
    payment_method: PaymentMethod | None = None
    escrow_id: str | None = None
    # A carrier's event for an order shipped in parcels that has none with its tracking number.
    foreign_parcel: bool = False


async def look_up(conn: AsyncConnection, event: ExternalEvent, order_id: str | None) -> Lookup:
    """Whether the event is in the inbox already, and the order it names: one statement, since
    every webhook asks both before anything else."""
    seen = exists().where(_inbox.c.source == event.source.value,
                          _inbox.c.event_id == event.event_id)
    o = t.orders

    def of_order(column):
        return select(column).where(o.c.id == order_id).scalar_subquery().label(column.name)

    foreign_parcel = _foreign_parcel(order_id, event.tracking_number).label("foreign_parcel")
    row = (await conn.execute(select(seen.label("seen"), of_order(o.c.workflow_id),
                                     of_order(o.c.payment_method),
                                     of_order(o.c.escrow_id), foreign_parcel))).one()
    method = PaymentMethod(row.payment_method) if row.payment_method else None
    foreign = bool(row.foreign_parcel) and event.source is EventSource.SHIPPING
    return Lookup(bool(row.seen), row.workflow_id, method, row.escrow_id, foreign)


async def already_seen(conn: AsyncConnection, source: EventSource,
                       event_ids: list[str]) -> set[str]:
    """Which of these events the inbox holds already: one statement for a batch of events that
    name no order by id (the chain listener's), for which that is all `look_up` could say."""
    if not event_ids:
        return set()
    rows = await conn.execute(select(_inbox.c.event_id).where(
        _inbox.c.source == source.value, _inbox.c.event_id.in_(event_ids)))
    return set(rows.scalars())


def _foreign_parcel(order_id: str | None, tracking_number: str | None):
    """Whether an order shipped in parcels has none the event names: none with its tracking
    number, or, for an event without one, more than one it could be about."""
    s = t.shipments
    if tracking_number is None:
        return select(func.count()).where(s.c.order_id == order_id).scalar_subquery() > 1
    parcels = exists().where(s.c.order_id == order_id)
    its_parcel = exists().where(s.c.order_id == order_id, s.c.tracking_number == tracking_number)
    return and_(parcels, not_(its_parcel))


async def mark(conn: AsyncConnection, event: ExternalEvent, outcome: InboxOutcome, *,
               only_from: InboxOutcome) -> None:
    """Move an event on, unless something else (the order claiming it) already did."""
    await conn.execute(update(_inbox).where(
        _inbox.c.source == event.source.value, _inbox.c.event_id == event.event_id,
        _inbox.c.status == only_from.value,
    ).values(status=outcome.value, delivered_at=datetime.now(UTC)))


async def claim_early(conn: AsyncConnection, workflow_id: str) -> list[ExternalEvent]:
    """Webhook events kept for an order that did not exist yet, now handed to it.

    Already-claimed events are returned again: if the activity that claimed them committed but
    its result was lost, the retry must still deliver them (the workflow ignores repeats).
    """
    rows = (
        await conn.execute(
            select(_inbox.c.id, _inbox.c.payload)
            .where(_inbox.c.workflow_id == workflow_id,
                   _inbox.c.status.in_((InboxOutcome.PENDING.value, InboxOutcome.CLAIMED.value)))
            .order_by(_inbox.c.received_at, _inbox.c.id)
        )
    ).all()
    if rows:
        await conn.execute(
            update(_inbox)
            .where(_inbox.c.id.in_([r.id for r in rows]),
                   _inbox.c.status == InboxOutcome.PENDING.value)
            .values(status=InboxOutcome.CLAIMED.value)
        )
    return [_payload.validate_python(r.payload) for r in rows]
