"""OrderWorkflow: one long-running workflow per order, the source of truth for its status."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities
    from activities.projection import ProjectionActivities
    from domain.commands import (
        CreateOrderCommand,
        CreationRequest,
        OrderOutcome,
        OrderSnapshot,
        OrderWorkflowInput,
        RefundCommand,
        StatusChangeRecord,
        StatusChangeRequest,
    )
    from domain.errors import CREATION_REJECTIONS, DomainError, ErrorCode
    from domain.order import (
        FINAL_STATUSES,
        OrderStatus,
        check_transition,
        describe,
        initial_status,
    )
    from workflows import shared

# Read-model writes are short; retry them patiently (they must land) but not in a hot loop.
_PROJECTION = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=30)),
}
# A refund is owed money: retried without limit until the gateway takes it.
_PAYMENT = {
    "start_to_close_timeout": timedelta(seconds=60),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=5)),
}
# Before payment settles there is nothing to give back on cancellation.
_UNPAID = frozenset({OrderStatus.PAYMENT_PENDING})


@workflow.defn
class OrderWorkflow:
    """One order, from payment to a final status.

    Updates:
      await_creation(CreationRequest) -> OrderSnapshot: sent with update-with-start; answers once
        the order is written, or fails with the rejection code (the payment is then refunded).
      change_status(StatusChangeRequest) -> OrderSnapshot: a status change; its validator
        enforces the transition table, the actor rules and required fields.
    Queries:
      snapshot() -> OrderSnapshot | None: the live state.
    """

    @workflow.init
    def __init__(self, input: OrderWorkflowInput) -> None:
        self._input = input
        self._order: OrderSnapshot | None = None
        self._rejection: tuple[str, str] | None = None  # (code, message)
        self._refund_reason: str | None = None  # set when a final status owes the buyer money
        # Update handlers await activities; the lock applies changes one at a time, in order.
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderOutcome:
        req = input.request
        now = workflow.now()
        status = initial_status(req.payment.method, req.payment.final)
        delivery = (
            input.policy.express_delivery
            if req.shipping_method == "express"
            else input.policy.standard_delivery
        )
        try:
            created = await workflow.execute_activity_method(
                ProjectionActivities.create_order,
                CreateOrderCommand(
                    order_id=input.order_id,
                    workflow_id=workflow.info().workflow_id,
                    request=req,
                    initial_status=status,
                    created_at=now,
                    estimated_delivery=(now + delivery).date(),
                ),
                **_PROJECTION,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type in CREATION_REJECTIONS:
                return await self._reject(cause)
            raise
        self._order = OrderSnapshot(
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
        self._publish(first=True)
        await workflow.wait_condition(
            lambda: self._status in FINAL_STATUSES and workflow.all_handlers_finished()
        )
        if self._refund_reason is not None:
            await self._refund(reason=self._refund_reason, order_id=input.order_id)
        return OrderOutcome(order_id=input.order_id, status=self._status)

    @property
    def _status(self) -> OrderStatus | None:
        return self._order.status if self._order else None

    # ---- creation ------------------------------------------------------------------------------

    @workflow.update
    async def await_creation(self, request: CreationRequest) -> OrderSnapshot:
        await workflow.wait_condition(
            lambda: self._order is not None or self._rejection is not None
        )
        if self._rejection is not None:
            code, message = self._rejection
            raise ApplicationError(message, {"refund": "initiated"}, type=code, non_retryable=True)
        assert self._order is not None
        return self._order

    @await_creation.validator
    def _validate_creation(self, request: CreationRequest) -> None:
        if request.fingerprint != self._input.fingerprint:
            raise ApplicationError(
                "this payment reference was already used for a different order",
                type=ErrorCode.IDEMPOTENCY_CONFLICT.value,
                non_retryable=True,
            )

    async def _reject(self, cause: ApplicationError) -> OrderOutcome:
        """The order cannot be made after the buyer paid: answer the caller, then refund."""
        self._rejection = (cause.type or ErrorCode.INTERNAL_ERROR.value, cause.message)
        workflow.upsert_search_attributes([shared.ORDER_STATUS.value_set("rejected")])
        workflow.set_current_details(f"rejected ({cause.type}); refunding the payment")
        await self._refund(reason=f"order rejected: {cause.type}", order_id=None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OrderOutcome(
            order_id=self._input.order_id,
            status=None,
            rejection_code=cause.type,
            rejection_message=cause.message,
        )

    # ---- status changes ------------------------------------------------------------------------

    @workflow.update
    async def change_status(self, request: StatusChangeRequest) -> OrderSnapshot:
        async with self._lock:
            # Checked again under the lock: an update validated alongside this one may have
            # moved the order since.
            self._check(request)
            order = self._order
            assert order is not None
            now = workflow.now()
            changed = replace(
                order,
                status=request.status,
                previous_status=order.status,
                status_updated_at=now,
                sequence=order.sequence + 1,
                tracking_number=request.tracking_number or order.tracking_number,
                carrier=request.carrier or order.carrier,
                estimated_delivery=request.estimated_delivery or order.estimated_delivery,
                delivered_at=now if request.status is OrderStatus.DELIVERED else order.delivered_at,
            )
            self._order = changed
            await workflow.execute_activity_method(
                ProjectionActivities.record_status_change,
                StatusChangeRecord(
                    order_id=changed.order_id,
                    order_number=changed.order_number,
                    sequence=changed.sequence,
                    previous_status=order.status,
                    new_status=changed.status,
                    actor_kind=request.actor_kind,
                    actor_id=request.actor_id,
                    buyer_id=changed.buyer_id,
                    seller_id=changed.seller_id,
                    occurred_at=now,
                    description=describe(changed.status, request.carrier),
                    reason=request.reason,
                    notes=request.notes,
                    tracking_number=request.tracking_number,
                    carrier=request.carrier,
                    estimated_delivery=request.estimated_delivery,
                ),
                **_PROJECTION,
            )
            self._publish()
            if changed.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED) and (
                order.status not in _UNPAID
            ):
                # Owed once the order is final; `run` pays it back, so the caller is answered
                # now even while the payment service is down.
                self._refund_reason = request.reason or changed.status.value
            return self._order

    @change_status.validator
    def _validate_change(self, request: StatusChangeRequest) -> None:
        self._check(request)

    def _check(self, request: StatusChangeRequest) -> None:
        order = self._order
        if order is None:
            raise ApplicationError(
                "the order is still being created", {"currentStatus": None},
                type=ErrorCode.INVALID_TRANSITION.value, non_retryable=True,
            )
        try:
            check_transition(
                request.actor_kind,
                order.status,
                request.status,
                tracking_number=request.tracking_number,
                delivered_at=order.delivered_at,
                now=workflow.now(),
                dispute_window=self._input.policy.dispute_window,
            )
        except DomainError as err:
            raise ApplicationError(
                err.message,
                {"currentStatus": order.status.value, "field": err.field},
                type=err.code.value,
                non_retryable=True,
            ) from None

    @workflow.query
    def snapshot(self) -> OrderSnapshot | None:
        return self._order

    # ---- helpers -------------------------------------------------------------------------------

    async def _refund(self, *, reason: str, order_id: str | None) -> None:
        req = self._input.request
        await workflow.execute_activity_method(
            PaymentActivities.refund_payment,
            RefundCommand(
                # One refund per payment, whatever path asks for it.
                idempotency_key=f"refund:{workflow.info().workflow_id}",
                workflow_id=workflow.info().workflow_id,
                order_id=order_id,
                method=req.payment.method,
                payment_reference=req.payment.reference,
                amount=req.total_amount,
                currency=req.currency,
                reason=reason,
            ),
            **_PAYMENT,
        )

    def _publish(self, *, first: bool = False) -> None:
        """Search attributes and the one-line summary operators see in the Temporal UI."""
        order = self._order
        assert order is not None
        updates = [shared.ORDER_STATUS.value_set(order.status.value)]
        if first:
            updates += [
                shared.ORDER_NUMBER.value_set(order.order_number),
                shared.BUYER_ID.value_set(order.buyer_id),
                shared.SELLER_ID.value_set(order.seller_id),
                shared.PAYMENT_METHOD.value_set(order.payment_method.value),
                # A Double is fine for filtering in the UI; money itself stays Decimal.
                shared.ORDER_TOTAL.value_set(float(order.total_amount)),
            ]
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(
            f"{order.order_number} · {order.status.value} · {order.total_amount} {order.currency}"
        )
