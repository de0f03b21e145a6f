"""Webhook events in: signalled to the order's workflow and recorded once in the inbox.

An event is acknowledged only once Temporal has stored the signal, so it is never acknowledged
and lost; if Temporal is down the answer is 503 and the provider's resend delivers it. The
workflow applies each event id once and records the inbox row in the same transaction as the
change the event makes, so the API itself writes nothing for an accepted event; a resend that
arrives before that row is signalled again and changes nothing. An event for an order whose
workflow does not exist yet is kept here as `pending`, and the order claims it when it starts;
unknown orders and types are recorded here, so providers stop retrying.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.metrics import WEBHOOK_EVENTS
from api.webhook_schemas import EscrowEventIn, ShippingEventIn
from db import inbox_repo
from db.engine import Database
from db.events_repo import EVENT_PAYLOAD
from domain.events import ExternalEvent
from domain.order import PaymentMethod
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for


async def ingest(db: Database, client: Client, body: ShippingEventIn | EscrowEventIn) -> str:
    """Record and deliver one event; returns what became of it (the response's `status`)."""
    outcome = await _ingest(db, client, body)
    WEBHOOK_EVENTS.labels(body.to_event().source.value, outcome).inc()
    return outcome


async def _ingest(db: Database, client: Client, body: ShippingEventIn | EscrowEventIn) -> str:
    event = body.to_event()
    source = event.source.value
    async with db.reader.connect() as conn:
        seen, workflow_id = await inbox_repo.look_up(conn, source, event.event_id,
                                                     body.order_id)
    if seen:
        return "duplicate"
    if workflow_id is None:
        workflow_id = _escrow_workflow(body)
    if not body.known:
        outcome = "unknown_type"
    elif workflow_id is None:
        outcome = "unknown_order"
    else:
        outcome = await _deliver(client, workflow_id, event)
        if outcome == "accepted":
            # The workflow now holds the event durably and writes its inbox row with the change
            # it makes, in one transaction; the API writes nothing on this, the common path.
            return outcome
    async with db.transaction() as conn:
        inserted = await inbox_repo.record(
            conn, source=source, event_id=event.event_id, event_type=event.kind,
            order_id=getattr(body, "order_id", None), workflow_id=workflow_id,
            payload=EVENT_PAYLOAD.dump_python(event, mode="json"), status=outcome,
            now=datetime.now(UTC),
        )
    if not inserted:
        return "duplicate"  # a concurrent resend got here first; the workflow applies it once
    if outcome == "pending" and workflow_id is not None:
        # The order may have started, and claimed its early events, between the failed signal
        # and this row: then it is there now to take the event directly.
        if await _deliver(client, workflow_id, event) == "accepted":
            async with db.transaction() as conn:
                await inbox_repo.mark(conn, source, event.event_id, "accepted",
                                      only_from="pending")
            return "accepted"
    return outcome


def _escrow_workflow(body: ShippingEventIn | EscrowEventIn) -> str | None:
    """An escrow id names its order's workflow even before the order exists."""
    escrow_id = getattr(body, "escrow_id", None)
    return workflow_id_for(PaymentMethod.ESCROW, escrow_id) if escrow_id else None


async def _deliver(client: Client, workflow_id: str, event: ExternalEvent) -> str:
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.signal(OrderWorkflow.external_event, event)
        return "accepted"
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    try:
        await handle.describe()
        return "order_closed"  # the order is final and its workflow has ended
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    return "pending"  # the order has not started yet; it claims the event when it does
