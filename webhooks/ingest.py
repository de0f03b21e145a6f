"""Webhook events in (carriers, the escrow contract, Stripe): signalled to the order's workflow
and recorded once in the inbox.

An event is acknowledged only once Temporal has stored the signal, so it is never acknowledged
and lost; if Temporal is down the answer is 503 and the provider's resend delivers it. The
workflow applies each event id once and records the inbox row in the same transaction as the
change the event makes, so the API itself writes nothing for an accepted event; a resend that
arrives before that row is signalled again and changes nothing. An event for an order whose
workflow does not exist yet is kept here as `pending`, and the order claims it when it starts;
unknown orders and types are recorded here, so providers stop retrying.

The chain listener (chain_events/) takes its events through the same steps: `deliver` (the
checks and the signal, writing nothing), `record` in a transaction of the caller's (the
listener's also saves its cursor) and `after_recording`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.metrics import WEBHOOK_EVENTS
from db.engine import Database
from domain.events import EventSource, ExternalEvent, escrow_event_refusal
from domain.order import PaymentMethod
from webhooks import inbox
from webhooks.card_events import StripeEventIn
from webhooks.outcomes import InboxOutcome
from webhooks.schemas import EscrowEventIn, ShippingEventIn
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

log = logging.getLogger("oms.webhooks")
WebhookBody = ShippingEventIn | EscrowEventIn | StripeEventIn


@dataclass(frozen=True)
class Incoming:
    """An event as the inbox takes it, whoever reported it."""

    event: ExternalEvent
    known: bool  # a type the service understands
    order_id: str | None = None  # the order the event names by id
    named_workflow: str | None = None  # the workflow its payment names, before the order exists
    escrow_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    """What became of an event before the inbox recorded anything."""

    incoming: Incoming
    outcome: InboxOutcome
    workflow_id: str | None

    @property
    def needs_row(self) -> bool:
        # An accepted event's row is the workflow's to write; a duplicate has one already.
        return self.outcome not in (InboxOutcome.ACCEPTED, InboxOutcome.DUPLICATE)


async def ingest(db: Database, client: Client, body: WebhookBody) -> InboxOutcome:
    """Record and deliver one event; returns what became of it (the response's `status`)."""
    outcome = await receive(db, client, incoming_webhook(body))
    WEBHOOK_EVENTS.labels(body.to_event().source.value, outcome.value).inc()
    return outcome


def incoming_webhook(body: WebhookBody) -> Incoming:
    return Incoming(event=body.to_event(), known=body.known,
                    order_id=getattr(body, "order_id", None), named_workflow=_named_workflow(body),
                    escrow_id=getattr(body, "escrow_id", None))


async def receive(db: Database, client: Client, incoming: Incoming) -> InboxOutcome:
    delivery = await deliver(db, client, incoming)
    if not delivery.needs_row:
        return delivery.outcome
    async with db.transaction() as conn:
        inserted = await record(conn, delivery)
    return await after_recording(client, db, delivery, inserted=inserted)


async def deliver(db: Database, client: Client, incoming: Incoming, *,
                  seen: bool | None = None) -> Delivery:
    """The checks, and the signal if they pass; writes nothing. `seen`: the caller asked the
    inbox already (inbox.already_seen), which says all there is for an event naming no order."""
    event = incoming.event
    if seen is not None and incoming.order_id is None:
        found = inbox.Lookup(seen=seen, workflow_id=None)
    else:
        async with db.reader.connect() as conn:
            found = await inbox.look_up(conn, event, incoming.order_id)
    if found.seen:
        return Delivery(incoming, InboxOutcome.DUPLICATE, found.workflow_id)
    workflow_id = found.workflow_id or incoming.named_workflow
    refusal = None
    if event.source is EventSource.ESCROW and found.payment_method is not None:
        refusal = escrow_event_refusal(found.payment_method, found.escrow_id, incoming.escrow_id)
    if not incoming.known:
        outcome = InboxOutcome.UNKNOWN_TYPE
    elif workflow_id is None:
        outcome = InboxOutcome.UNKNOWN_ORDER
    elif refusal is not None:
        log.warning("escrow event %s refused: %s", event.event_id, refusal)
        outcome = InboxOutcome.REJECTED
    elif found.foreign_parcel:
        # The order ships in parcels and none has this tracking number (the workflow would
        # refuse it too, should a parcel's row lag behind).
        log.warning("carrier event %s refused: no parcel %s on its order", event.event_id,
                    event.tracking_number)
        outcome = InboxOutcome.REJECTED
    else:
        # Accepted: the workflow now holds the event durably and writes its inbox row with the
        # change it makes, in one transaction; nothing is written here on this, the common path.
        outcome = await _signal(client, workflow_id, event)
    return Delivery(incoming, outcome, workflow_id)


async def record(conn: AsyncConnection, delivery: Delivery) -> bool:
    """The inbox row of an event no workflow took; False if a concurrent resend wrote it."""
    return await inbox.record(conn, delivery.incoming.event, delivery.outcome,
                              order_id=delivery.incoming.order_id,
                              workflow_id=delivery.workflow_id)


async def after_recording(client: Client, db: Database, delivery: Delivery, *,
                          inserted: bool) -> InboxOutcome:
    """Once the row is committed: a pending event is offered again, since its order may have
    started, and claimed its early events, between the failed signal and the row."""
    if not inserted:
        return InboxOutcome.DUPLICATE  # a concurrent resend got here first
    event, workflow_id = delivery.incoming.event, delivery.workflow_id
    if delivery.outcome is InboxOutcome.PENDING and workflow_id is not None:
        if await _signal(client, workflow_id, event) is InboxOutcome.ACCEPTED:
            async with db.transaction() as conn:
                await inbox.mark(conn, event, InboxOutcome.ACCEPTED,
                                 only_from=InboxOutcome.PENDING)
            return InboxOutcome.ACCEPTED
    return delivery.outcome


def _named_workflow(body: WebhookBody) -> str | None:
    """An escrow id or a card payment names its order's workflow even before the order
    exists."""
    if isinstance(body, StripeEventIn):
        return body.workflow_id
    escrow_id = getattr(body, "escrow_id", None)
    return workflow_id_for(PaymentMethod.ESCROW, escrow_id) if escrow_id else None


async def _signal(client: Client, workflow_id: str, event: ExternalEvent) -> InboxOutcome:
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.signal(OrderWorkflow.external_event, event)
        return InboxOutcome.ACCEPTED
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    try:
        await handle.describe()
        return InboxOutcome.ORDER_CLOSED
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    return InboxOutcome.PENDING
