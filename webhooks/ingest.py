"""Webhook events in (carriers, the escrow contract, Stripe): signalled to the order's workflow
and recorded once in the inbox.

An event is acknowledged only once Temporal has stored the signal, so it is never acknowledged
and lost; if Temporal is down the answer is 503 and the provider's resend delivers it. The
workflow applies each event id once and records the inbox row in the same transaction as the
change the event makes, so the API itself writes nothing for an accepted event; a resend that
arrives before that row is signalled again and changes nothing. An event for an order whose
workflow does not exist yet is kept here as `pending`, and the order claims it when it starts;
unknown orders and types are recorded here, so providers stop retrying.
"""

from __future__ import annotations

import logging

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


async def ingest(db: Database, client: Client, body: WebhookBody) -> InboxOutcome:
    """Record and deliver one event; returns what became of it (the response's `status`)."""
    outcome = await _ingest(db, client, body)
    WEBHOOK_EVENTS.labels(body.to_event().source.value, outcome.value).inc()
    return outcome


async def _ingest(db: Database, client: Client, body: WebhookBody) -> InboxOutcome:
    event = body.to_event()
    async with db.reader.connect() as conn:
        found = await inbox.look_up(conn, event, body.order_id)
    if found.seen:
        return InboxOutcome.DUPLICATE
    workflow_id = found.workflow_id or _named_workflow(body)
    refusal = None
    if event.source is EventSource.ESCROW and found.payment_method is not None:
        refusal = escrow_event_refusal(found.payment_method, found.escrow_id,
                                       getattr(body, "escrow_id", None))
    if not body.known:
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
        outcome = await _deliver(client, workflow_id, event)
        if outcome is InboxOutcome.ACCEPTED:
            # The workflow now holds the event durably and writes its inbox row with the change
            # it makes, in one transaction; the API writes nothing on this, the common path.
            return outcome
    async with db.transaction() as conn:
        inserted = await inbox.record(conn, event, outcome,
                                      order_id=getattr(body, "order_id", None),
                                      workflow_id=workflow_id)
    if not inserted:
        # A concurrent resend got here first; the workflow applies it once.
        return InboxOutcome.DUPLICATE
    if outcome is InboxOutcome.PENDING and workflow_id is not None:
        # The order may have started, and claimed its early events, between the failed signal
        # and this row: then it is there now to take the event directly.
        if await _deliver(client, workflow_id, event) is InboxOutcome.ACCEPTED:
            async with db.transaction() as conn:
                await inbox.mark(conn, event, InboxOutcome.ACCEPTED,
                                 only_from=InboxOutcome.PENDING)
            return InboxOutcome.ACCEPTED
    return outcome


def _named_workflow(body: WebhookBody) -> str | None:
    """An escrow id or a card payment names its order's workflow even before the order
    exists."""
    if isinstance(body, StripeEventIn):
        return body.workflow_id
    escrow_id = getattr(body, "escrow_id", None)
    return workflow_id_for(PaymentMethod.ESCROW, escrow_id) if escrow_id else None


async def _deliver(client: Client, workflow_id: str, event: ExternalEvent) -> InboxOutcome:
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
