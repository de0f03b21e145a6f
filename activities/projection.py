"""Activities that write the order read model. The order workflow is their only caller."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities import metrics
from db import events_repo, orders_repo
from db.engine import Database
from domain.commands import (
    AlertCommand,
    CreatedOrder,
    CreateOrderCommand,
    InventoryRestoreCommand,
    RefundRecord,
    ShipmentRecord,
    StatusChangeRecord,
    TimelineRecord,
)
from domain.errors import DomainError
from domain.events import ExternalEvent
from webhooks import inbox
from webhooks.outcomes import InboxOutcome


class ProjectionActivities:
    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn
    async def create_order(self, cmd: CreateOrderCommand) -> CreatedOrder:
        """Write a new order and take its inventory in one transaction (idempotent)."""
        try:
            async with self._db.transaction() as conn:
                created, new = await orders_repo.create_order(conn, cmd)
        except DomainError as err:
            metrics.ORDERS_REJECTED.labels(err.code.value).inc()
            # A business refusal will not change on retry: fail at once with its stable code.
            # BENIGN: an expected outcome, logged at debug level rather than as a failure.
            raise ApplicationError(err.message, type=err.code.value, non_retryable=True,
                                   category=ApplicationErrorCategory.BENIGN) from err
        if new:
            metrics.ORDERS_CREATED.labels(cmd.request.payment.method.value).inc()
            activity.logger.info("order %s written as %s", cmd.order_id, created.order_number)
        return created

    @activity.defn
    async def record_status_change(self, rec: StatusChangeRecord) -> None:
        """Apply one status change to the read model (idempotent on order and sequence)."""
        async with self._db.transaction() as conn:
            method = await orders_repo.record_status_change(conn, rec)
            for shipment in rec.shipments:
                await events_repo.record_shipment(conn, shipment)
            await self._record_inbox(conn, rec.order_id, rec.inbox_event)
        if method is not None:  # counted once: a retry finds the change already applied
            metrics.status_changed(rec, method)

    @activity.defn
    async def record_timeline(self, rec: TimelineRecord) -> None:
        """Add a timeline entry that changes no status (idempotent on its event key)."""
        async with self._db.transaction() as conn:
            await events_repo.record_timeline(conn, rec)
            await self._record_inbox(conn, rec.order_id, rec.inbox_event)

    async def _record_inbox(self, conn, order_id: str, event: ExternalEvent | None) -> None:
        """The webhook inbox row of an event the workflow applied (the API only signalled it,
        so a webhook costs the API no write: see webhooks/ingest.py)."""
        if event is not None:
            await inbox.record(conn, event, InboxOutcome.ACCEPTED, order_id=order_id,
                               workflow_id=activity.info().workflow_id)

    @activity.defn
    async def raise_alert(self, cmd: AlertCommand) -> None:
        """Record an alert and notify the people who must act (idempotent on the alert id)."""
        async with self._db.transaction() as conn:
            await events_repo.raise_alert(conn, cmd)
        activity.logger.warning("alert %s on %s: %s", cmd.kind, cmd.order_number, cmd.message)

    @activity.defn
    async def restore_inventory(self, cmd: InventoryRestoreCommand) -> bool:
        """Give stock back once (a cancelled order's, or a partial refund's lines); False when
        it already was."""
        async with self._db.transaction() as conn:
            return await events_repo.restore_inventory(conn, cmd)

    @activity.defn
    async def record_shipment(self, rec: ShipmentRecord) -> None:
        """A parcel as it now is into the read model (idempotent; never goes back)."""
        async with self._db.transaction() as conn:
            await events_repo.record_shipment(conn, rec)

    @activity.defn
    async def record_refund(self, rec: RefundRecord) -> None:
        """A partial refund into the read model (idempotent on its refund id)."""
        async with self._db.transaction() as conn:
            await events_repo.record_refund(conn, rec)
