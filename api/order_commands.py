"""Order commands: the API's only path to change an order is through its workflow."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api import idempotency, permissions
from api.auth import Principal
from api.deps import OrderParties
from api.errors import ApiError, field_error
from api.temporal_health import command_timeout
from db.engine import Database
from domain.commands import (
    CreationRequest,
    OrderRequest,
    OrderSnapshot,
    OrderWorkflowInput,
    StatusChangeRequest,
)
from domain.errors import ErrorCode
from domain.order import ActorKind, OrderStatus
from domain.parcels import ParcelOutcome, ShipParcelRequest
from domain.refunds import RefundLine, RefundOutcome, RefundRequest
from oms.settings import Settings
from workflows.order_workflow import OrderWorkflow
from workflows.shared import order_id_for, workflow_id_for


def fingerprint(request: OrderRequest) -> str:
    """A digest of what was ordered; `200` and `200.00` are the same amount."""

    def normal(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        raise TypeError(type(value).__name__)

    fields = dataclasses.asdict(request)
    if not fields["items"]:
        # An order of one listing digests as it did before orders had several lines, so a
        # checkout retried across that change still finds its order.
        del fields["items"]
    text = json.dumps(fields, default=normal, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


async def create_order(client: Client, settings: Settings, request: OrderRequest) -> OrderSnapshot:
    """Start the order's workflow, or join the one this payment already started."""
    workflow_id = workflow_id_for(request.payment.method, request.payment.reference)
    start = WithStartWorkflowOperation(
        OrderWorkflow.run,
        OrderWorkflowInput(
            order_id=order_id_for(workflow_id),
            request=request,
            policy=settings.order_policy(),
            fingerprint=fingerprint(request),
        ),
        id=workflow_id,
        task_queue=settings.task_queue,
        # A running order answers the retry; a finished one is never started again. A run that
        # failed (its payment was refused before anything was written) may be: the reference
        # stays usable by whoever really paid with it.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        static_summary=(
            f"{request.payment.method.value} order: {_lines(request)} "
            f"for {request.total_amount} {request.currency}"
        ),
    )
    try:
        return await client.execute_update_with_start_workflow(
            OrderWorkflow.await_creation,
            CreationRequest(fingerprint=fingerprint(request)),
            start_workflow_operation=start,
            rpc_timeout=await command_timeout(client, settings),
        )
    except WorkflowUpdateFailedError as err:
        if _workflow_closed_first(err):
            # A retry that reached a rejected order as it closed: its outcome is the answer.
            return await _finished_order(client, workflow_id)
        raise _from_update_failure(err) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise _no_answer() from None
    except WorkflowAlreadyStartedError:
        return await _finished_order(client, workflow_id)


def _lines(request: OrderRequest) -> str:
    lines = request.lines
    shown = ", ".join(f"{line.quantity} x {line.listing_id}" for line in lines[:3])
    return shown + (f" and {len(lines) - 3} more" if len(lines) > 3 else "")


def _workflow_closed_first(err: WorkflowUpdateFailedError) -> bool:
    cause = err.cause
    return isinstance(cause, ApplicationError) and cause.type == "AcceptedUpdateCompletedWorkflow"


async def _finished_order(client: Client, workflow_id: str) -> OrderSnapshot:
    """A retried create for a payment whose workflow has already closed."""
    handle = client.get_workflow_handle_for(OrderWorkflow.run, workflow_id)
    outcome = await handle.result()
    if outcome.rejection_code:
        raise ApiError(_code(outcome.rejection_code), outcome.rejection_message or "rejected",
                       refund="initiated")
    snapshot = await handle.query(OrderWorkflow.snapshot)
    assert snapshot is not None
    return snapshot


def actor_for(principal: Principal, order: OrderParties, status: OrderStatus) -> ActorKind:
    return permissions.actor_for(principal, buyer_id=order.buyer_id, seller_id=order.seller_id,
                                 status=status)


async def change_status(client: Client, db: Database, settings: Settings, user: Principal,
                        order: OrderParties, *, idempotency_key: str | None, status: OrderStatus,
                        **details: Any) -> OrderSnapshot:
    """Send a status change made by `user` to the order's workflow: the one path of every
    route that changes a status. `details` are the other StatusChangeRequest fields.

    An idempotency key means this one change (api/idempotency.py): a retry answers the first
    outcome, the key with another change or from another caller is refused.
    """
    request = StatusChangeRequest(status=status, actor_kind=actor_for(user, order, status),
                                  actor_id=user.user_id, **details)
    keyed = idempotency.keyed(idempotency_key, f"order:{order.id}", user, "status", request)
    return await idempotency.once(
        db, keyed, OrderSnapshot,
        lambda: _send_change(client, settings, order, request, idempotency_key))


async def _send_change(client: Client, settings: Settings, order: OrderParties,
                       request: StatusChangeRequest, idempotency_key: str | None) -> OrderSnapshot:
    # A stable update id: Temporal attaches a retry that races the first try to it.
    update_id = f"status:{request.actor_id}:{idempotency_key}" if idempotency_key else None
    return await _update(client, settings, order, OrderWorkflow.change_status, request,
                         update_id)


async def refund(client: Client, db: Database, settings: Settings, user: Principal,
                 order: OrderParties, *, actor: ActorKind, idempotency_key: str,
                 amount: Decimal, reason: str, lines: list[RefundLine]) -> RefundOutcome:
    """Send a partial refund made by `user` (as `actor`: the order's seller or an operator) to
    the order's workflow. The refund's id comes from the caller and the key, so the workflow
    takes a retried request once even after the key is forgotten here."""
    caller = f"{user.role.value}:{user.user_id}"
    refund_id = "rf_" + hashlib.sha256(f"{caller}\n{idempotency_key}".encode()).hexdigest()[:24]
    request = RefundRequest(refund_id=refund_id, actor_kind=actor, actor_id=user.user_id,
                            amount=amount, reason=reason, lines=lines)
    keyed = idempotency.keyed(idempotency_key, f"order:{order.id}", user, "refund", request)
    return await idempotency.once(
        db, keyed, RefundOutcome,
        lambda: _update(client, settings, order, OrderWorkflow.refund, request,
                        f"refund:{refund_id}"))


async def ship_parcel(client: Client, db: Database, settings: Settings, user: Principal,
                      order: OrderParties, request: ShipParcelRequest, *,
                      idempotency_key: str | None) -> ParcelOutcome:
    """Send a parcel the seller (or an operator) ships to the order's workflow."""
    keyed = idempotency.keyed(idempotency_key, f"order:{order.id}", user, "shipment", request)
    update_id = f"parcel:{order.id}:{request.tracking_number}"
    return await idempotency.once(
        db, keyed, ParcelOutcome,
        lambda: _update(client, settings, order, OrderWorkflow.ship_parcel, request, update_id))


async def _update(client: Client, settings: Settings, order: OrderParties, update, request,
                  update_id: str | None):
    """Run one of the order workflow's updates, its failures as the API's errors."""
    handle = client.get_workflow_handle_for(OrderWorkflow.run, order.workflow_id)
    try:
        return await handle.execute_update(update, request, id=update_id,
                                           rpc_timeout=await command_timeout(client, settings))
    except WorkflowUpdateFailedError as err:
        raise _from_update_failure(err) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise _no_answer() from None
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            # The workflow has closed: the order is in a final status and moves no more.
            raise ApiError(ErrorCode.INVALID_TRANSITION,
                           f"the order is {order.status} and can no longer change",
                           currentStatus=order.status) from None
        raise


def _no_answer() -> ApiError:
    # No worker took the order in time (all down or overloaded). The workflow keeps the
    # request: the same call, retried, answers once a worker is back, and changes nothing twice.
    return ApiError(ErrorCode.TEMPORARILY_UNAVAILABLE,
                    "the order service did not answer in time; retry the same request")


def _code(value: str | None) -> ErrorCode:
    try:
        return ErrorCode(value)
    except ValueError:
        return ErrorCode.INTERNAL_ERROR


def _from_update_failure(err: WorkflowUpdateFailedError) -> ApiError:
    cause = err.cause
    if not isinstance(cause, ApplicationError):
        return ApiError(ErrorCode.INTERNAL_ERROR, "the order could not be updated")
    details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    errors = None
    if details.get("field"):
        errors = [field_error(details["field"], cause.message, "missing")]
    return ApiError(_code(cause.type), cause.message, errors=errors,
                    currentStatus=details.get("currentStatus"), refund=details.get("refund"))
