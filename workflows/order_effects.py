"""The activities an order workflow runs, behind one small class so the workflow reads as
decisions. Runs inside the workflow sandbox: no I/O here, only activity calls."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.email import EmailActivities
    from activities.payments import PaymentActivities
    from activities.projection import ProjectionActivities
    from domain.commands import (
        AlertCommand,
        CreateOrderCommand,
        EmailCommand,
        InventoryRestoreCommand,
        MoneyDue,
        OrderSnapshot,
        OrderWorkflowInput,
        PaymentCommand,
        StatusChangeRecord,
        TimelineRecord,
    )
    from domain.events import ExternalEvent
    from domain.order import ActorKind, describe, initial_status

# Read-model writes are short; retry them patiently (they must land) but not in a hot loop.
_PROJECTION = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=30)),
}
# Money owed is retried without limit until the gateway takes it.
_PAYMENT = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}
_ALERT_IDS = uuid.UUID("c1f9a1a4-6d1e-4f51-9a43-5b0b7f3e2a77")


class OrderEffects:
    def __init__(self, input: OrderWorkflowInput) -> None:
        self._input = input
        # Read-model writes run as local activities in the workflow task that decides them,
        # saving a round trip through the server and a second workflow task per change
        # (see BENCHMARKS.md). False for runs started before that; see OrderWorkflow.run.
        self.local_writes = False

    async def _project(self, activity, command):
        """Run a ProjectionActivities method: a short, idempotent read-model write."""
        if self.local_writes:
            return await workflow.execute_local_activity_method(activity, command, **_PROJECTION)
        return await workflow.execute_activity_method(activity, command, **_PROJECTION)

    async def create_order(self, now: datetime) -> tuple[OrderSnapshot, list[ExternalEvent]]:
        """Write the order; returns its first snapshot and any events that arrived before it."""
        input, req = self._input, self._input.request
        status = initial_status(req.payment.method, req.payment.final)
        delivery = (input.policy.express_delivery if req.shipping_method == "express"
                    else input.policy.standard_delivery)
        created = await self._project(
            ProjectionActivities.create_order,
            CreateOrderCommand(
                order_id=input.order_id,
                workflow_id=workflow.info().workflow_id,
                request=req,
                initial_status=status,
                created_at=now,
                estimated_delivery=(now + delivery).date(),
            ),
        )
        snapshot = OrderSnapshot(
            order_id=input.order_id,
            order_number=created.order_number,
            status=status,
            previous_status=None,
            status_updated_at=created.created_at,
            created_at=created.created_at,
            buyer_id=req.buyer_id,
            seller_id=req.seller_id,
            payment_method=req.payment.method,
            total_amount=req.total_amount,
            currency=req.currency,
            sequence=0,
            estimated_delivery=(now + delivery).date(),
        )
        return snapshot, list(created.early_events)

    async def record_change(self, before: OrderSnapshot, after: OrderSnapshot, actor: ActorKind,
                            actor_id: str, *, reason: str | None, notes: str | None,
                            metadata: dict[str, str],
                            inbox_event: ExternalEvent | None = None) -> None:
        await self._project(
            ProjectionActivities.record_status_change,
            StatusChangeRecord(
                order_id=after.order_id,
                order_number=after.order_number,
                sequence=after.sequence,
                previous_status=before.status,
                new_status=after.status,
                actor_kind=actor,
                actor_id=actor_id,
                buyer_id=after.buyer_id,
                seller_id=after.seller_id,
                occurred_at=after.status_updated_at,
                description=describe(after.status, after.carrier
                                     if after.carrier != before.carrier else None),
                reason=reason,
                notes=notes,
                tracking_number=after.tracking_number
                if after.tracking_number != before.tracking_number else None,
                carrier=after.carrier if after.carrier != before.carrier else None,
                estimated_delivery=after.estimated_delivery
                if after.estimated_delivery != before.estimated_delivery else None,
                metadata=metadata,
                previous_since=before.status_updated_at,
                order_created_at=after.created_at,
                inbox_event=inbox_event,
            ),
        )

    async def record_timeline(self, order: OrderSnapshot, event: ExternalEvent,
                              description: str, metadata: dict[str, str]) -> None:
        await self._project(
            ProjectionActivities.record_timeline,
            TimelineRecord(
                order_id=order.order_id,
                event_key=event.dedupe_key,
                event_type=f"{event.source.value}_event",
                description=description,
                source="shipping_provider" if event.source.value == "shipping" else "escrow",
                occurred_at=event.occurred_at,
                location=event.location,
                metadata={**metadata, "kind": event.kind, "applied": "false"},
                inbox_event=event,
            ),
        )

    async def raise_alert(self, order: OrderSnapshot, kind: str, message: str,
                          notify: list[str], *, occurrence: str) -> None:
        alert_id = uuid.uuid5(_ALERT_IDS, f"{order.order_id}:{kind}:{occurrence}")
        await self._project(
            ProjectionActivities.raise_alert,
            AlertCommand(
                alert_id=str(alert_id),
                order_id=order.order_id,
                order_number=order.order_number,
                seller_id=order.seller_id,
                kind=kind,
                status=order.status,
                message=message,
                raised_at=workflow.now(),
                notify=notify,
            ),
        )

    async def settle(self, due: MoneyDue, order: OrderSnapshot | None) -> None:
        order_id = order.order_id if order else None
        if due.kind == "refund":
            await self.refund(due, order_id)
        elif due.kind == "release":
            await workflow.execute_activity_method(
                PaymentActivities.release_escrow, self._payment("release", due, order_id),
                **_PAYMENT)
        elif due.kind == "restore_inventory":
            req = self._input.request
            await self._project(
                ProjectionActivities.restore_inventory,
                InventoryRestoreCommand(order_id=self._input.order_id, listing_id=req.listing_id,
                                        quantity=req.quantity, at=workflow.now()),
            )
        else:  # pragma: no cover - MoneyDue kinds come from domain.compensation
            raise ValueError(f"unknown compensation {due.kind}")

    async def send_email(self, cmd: EmailCommand) -> None:
        await workflow.execute_activity_method(
            EmailActivities.send_order_email, cmd,
            # An SMTP outage is retried until the server is back; the email is never dropped.
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )

    async def refund(self, due: MoneyDue, order_id: str | None) -> None:
        await workflow.execute_activity_method(
            PaymentActivities.refund_payment, self._payment("refund", due, order_id), **_PAYMENT)

    def _payment(self, kind: str, due: MoneyDue, order_id: str | None) -> PaymentCommand:
        req, workflow_id = self._input.request, workflow.info().workflow_id
        return PaymentCommand(
            # One refund and one release per payment, whichever path asks for it.
            idempotency_key=f"{kind}:{workflow_id}",
            workflow_id=workflow_id,
            order_id=order_id,
            method=req.payment.method,
            payment_reference=req.payment.reference,
            amount=due.amount if due.amount is not None else req.total_amount,
            currency=req.currency,
            reason=due.reason,
        )


