"""Webhook events in: recorded once in the inbox, then signalled to the order's workflow.

The inbox row is written before the signal, so nothing accepted is lost: an event for an order
whose workflow does not exist yet waits as `pending` and the order claims it when it starts; a
delivery that failed (Temporal down) stays `received` and is retried when the provider resends.
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
    now = datetime.now(UTC)
    workflow_id = await _workflow_for(db, body)
    if not body.known:
        status = "unknown_type"
    elif workflow_id is None:
        status = "unknown_order"
    else:
        status = "received"
    async with db.writer.begin() as conn:
        row, inserted = await inbox_repo.record(
            conn, source=event.source.value, event_id=event.event_id, event_type=event.kind,
            order_id=getattr(body, "order_id", None), workflow_id=workflow_id,
            payload=EVENT_PAYLOAD.dump_python(event, mode="json"), status=status, now=now,
        )
    if row.status != "received":
        return row.status if inserted else "duplicate"
    # New, or a resend of an event whose delivery failed before: deliver the stored event.
    outcome = await _deliver(client, row.workflow_id, EVENT_PAYLOAD.validate_python(row.payload))
    async with db.writer.begin() as conn:
        await inbox_repo.mark(conn, row.id, outcome, only_from="received",
                              at=now if outcome == "accepted" else None)
    return outcome if inserted else "duplicate"


async def _workflow_for(db: Database, body: ShippingEventIn | EscrowEventIn) -> str | None:
    order_id = body.order_id
    if order_id is not None:
        async with db.engine.connect() as conn:
            found = await inbox_repo.workflow_of_order(conn, order_id)
        if found is not None:
            return found
    escrow_id = getattr(body, "escrow_id", None)
    # An escrow id names its order's workflow even before the order exists.
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
