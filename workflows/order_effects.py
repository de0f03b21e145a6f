"""The activities an order workflow runs, behind one small class so the workflow reads as
decisions. Runs inside the workflow sandbox: no I/O here, only activity calls."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

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
        OrderChange,
        OrderSnapshot,
        OrderWorkflowInput,
        Owed,
        OwedKind,
        PaymentCheck,
        PaymentCommand,
        RefundRecord,
        RefundsCheck,
        RefundsCheckCommand,
        ShipmentRecord,
        StatusChangeRecord,
        TimelineRecord,
        VerifyPaymentCommand,
    )
    from domain.events import ExternalEvent
    from domain.order import initial_status
    from domain.parcels import Parcel
    from domain.refunds import Refund
    from domain.statuses import describe

# Read-model writes are short; retry them patiently (they must land) but not in a hot loop.
_PROJECTION = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=30)),
}
# Money owed is retried without limit until the gateway takes it. The activities heartbeat
# while they work, so an attempt whose worker died is retried elsewhere within seconds.
_PAYMENT = {
    "start_to_close_timeout": timedelta(seconds=60),
    "heartbeat_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}
_ALERT_IDS = uuid.UUID("c1f9a1a4-6d1e-4f51-9a43-5b0b7f3e2a77")


class OrderEffects:
    def __init__(self, input: OrderWorkflowInput, refunded_outside: Decimal = Decimal(0)
                 ) -> None:
        self._input = input
        # Refunded at the provider outside this service (a dashboard refund), and the order's
        # partial refunds: a refund owed later gives back only the rest, so no money is
        # returned twice.
        self.refunded_outside = refunded_outside
        self.refunds: list[Refund] = []

    @property
    def refunded_already(self) -> Decimal:
        """What the provider has given back or been asked to (an escrow's partial refunds are
        paid only at its settlement, so they are not)."""
        partial = sum((r.amount for r in self.refunds if not r.at_settlement), Decimal(0))
        return self.refunded_outside + partial

    async def _project(self, activity, command):
        """Run a ProjectionActivities method: a short, idempotent read-model write. Local
        activities run in the workflow task that decides them, saving a round trip through
        the server and a second workflow task per change (BENCHMARKS.md, run I)."""
        return await workflow.execute_local_activity_method(activity, command, **_PROJECTION)

    async def verify_payment(self) -> PaymentCheck:
        """Ask the payment's provider about the checkout's reference (it calls out, so it is
        an ordinary activity, retried while the provider is unreachable)."""
        req = self._input.request
        return await workflow.execute_activity_method(
            PaymentActivities.verify_payment,
            VerifyPaymentCommand(method=req.payment.method, reference=req.payment.reference,
                                 buyer_id=req.buyer_id, total_amount=req.total_amount,
                                 currency=req.currency, claimed_final=req.payment.final,
                                 seller_id=req.seller_id),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )

    async def create_order(self, now: datetime, *, paid: bool, check: PaymentCheck | None = None
                           ) -> tuple[OrderSnapshot, list[ExternalEvent]]:
        """Write the order, paid or still pending, with the fees its provider's `check`
        reported; returns its first snapshot and any events that arrived before it."""
        input, req = self._input, self._input.request
        status = initial_status(req.payment.method, paid)
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
                provider_fee=check.provider_fee if check else None,
                gas_fee=check.gas_fee if check else None,
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

    async def record_change(self, before: OrderSnapshot, after: OrderSnapshot,
                            change: OrderChange, *, parcels: list[Parcel] | None = None,
                            fulfilment: str | None = None) -> None:
        """Write one change to the read model; `change` holds only what is new about it, and
        `parcels` the parcels that moved with it."""
        await self._project(
            ProjectionActivities.record_status_change,
            StatusChangeRecord(
                order_id=after.order_id,
                order_number=after.order_number,
                sequence=after.sequence,
                previous_status=before.status,
                new_status=after.status,
                actor_kind=change.actor_kind,
                actor_id=change.actor_id,
                buyer_id=after.buyer_id,
                seller_id=after.seller_id,
                occurred_at=after.status_updated_at,
                description=describe(after.status, change.carrier),
                reason=change.reason,
                notes=change.notes,
                tracking_number=change.tracking_number,
                carrier=change.carrier,
                estimated_delivery=change.estimated_delivery,
                metadata=change.metadata,
                previous_since=before.status_updated_at,
                order_created_at=after.created_at,
                inbox_event=change.inbox_event,
                shipments=[ShipmentRecord(order_id=after.order_id, parcel=parcel,
                                          fulfilment=fulfilment) for parcel in parcels or ()],
            ),
        )

    async def record_timeline(self, order: OrderSnapshot, event: ExternalEvent,
                              description: str, *, applied: bool = False) -> None:
        await self._project(
            ProjectionActivities.record_timeline,
            TimelineRecord(
                order_id=order.order_id,
                event_key=event.dedupe_key,
                event_type=event.source.timeline_event_type,
                description=description,
                source=event.source.timeline_source,
                occurred_at=event.occurred_at,
                location=event.location,
                metadata={**event.metadata(), "kind": event.kind,
                          "applied": "true" if applied else "false"},
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

    async def settle(self, due: Owed, order: OrderSnapshot | None) -> None:
        order_id = order.order_id if order else None
        if due.kind is OwedKind.REFUND:
            await self.refund(due, order_id)
        elif due.kind is OwedKind.RELEASE:
            await workflow.execute_activity_method(
                PaymentActivities.release_escrow, self._payment("release", due, order_id),
                **_PAYMENT)
        else:
            req = self._input.request
            await self._project(
                ProjectionActivities.restore_inventory,
                InventoryRestoreCommand(order_id=self._input.order_id, listing_id=req.listing_id,
                                        quantity=req.quantity, at=workflow.now(),
                                        refund_id=due.operation_id, lines=list(due.lines)),
            )

    async def record_shipment(self, order: OrderSnapshot, parcel: Parcel,
                              fulfilment: str | None, *, timeline_entry: str | None = None,
                              actor: str = "seller") -> None:
        """A parcel as it now is into the read model, with the order's fulfilment."""
        await self._project(ProjectionActivities.record_shipment, ShipmentRecord(
            order_id=order.order_id, parcel=parcel, fulfilment=fulfilment,
            timeline_entry=timeline_entry, actor=actor))

    async def record_refund(self, order: OrderSnapshot, refund: Refund) -> None:
        """A partial refund into the read model, with its timeline entry and notifications."""
        key = None if refund.at_settlement else self._payment_key("refund", refund.refund_id)
        when = " (paid when the escrow is settled)" if refund.at_settlement else ""
        await self._project(ProjectionActivities.record_refund, RefundRecord(
            order_id=order.order_id, order_number=order.order_number, buyer_id=order.buyer_id,
            seller_id=order.seller_id, currency=order.currency, refund=refund, payment_key=key,
            description=f"Refund of {refund.amount} {order.currency}{when}: {refund.reason}"))

    async def send_email(self, cmd: EmailCommand) -> None:
        await workflow.execute_activity_method(
            EmailActivities.send_order_email, cmd,
            # An SMTP outage is retried until the server is back; the email is never dropped.
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )

    async def refund(self, due: Owed, order_id: str | None) -> None:
        cmd = self._payment("refund", due, order_id)
        already = self.refunded_already if due.operation_id is None else Decimal(0)
        left = self._input.request.total_amount - already
        if already and cmd.amount > left:
            if left <= 0:
                return  # the provider already gave it all back
            cmd = replace(cmd, amount=left)
        await workflow.execute_activity_method(PaymentActivities.refund_payment, cmd, **_PAYMENT)

    async def reconcile_refunds(self, order: OrderSnapshot) -> RefundsCheck:
        """Which refunds the provider made outside this service, recorded in the ledger."""
        req = self._input.request
        return await workflow.execute_activity_method(
            PaymentActivities.reconcile_refunds,
            RefundsCheckCommand(workflow_id=workflow.info().workflow_id, order_id=order.order_id,
                                method=req.payment.method, payment_reference=req.payment.reference,
                                currency=req.currency),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )

    def _payment(self, kind: str, due: Owed, order_id: str | None) -> PaymentCommand:
        req, workflow_id = self._input.request, workflow.info().workflow_id
        return PaymentCommand(
            idempotency_key=self._payment_key(kind, due.operation_id),
            workflow_id=workflow_id,
            order_id=order_id,
            method=req.payment.method,
            payment_reference=req.payment.reference,
            amount=due.amount if due.amount is not None else req.total_amount,
            currency=req.currency,
            reason=due.reason,
        )

    @staticmethod
    def _payment_key(kind: str, operation_id: str | None) -> str:
        # One refund and one release per payment, whichever path asks for it; each partial
        # refund is an operation of its own.
        workflow_id = workflow.info().workflow_id
        return f"{kind}:{workflow_id}" + (f":{operation_id}" if operation_id else "")
