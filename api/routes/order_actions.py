"""Named order actions: cancel, dispute and resolve a dispute. Each is a status change sent to
the order's workflow, which also moves the money (refund, release) and the stock."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import order_commands, permissions, presenters
from api.deps import CurrentUser, DbDep, OrderToChange, SettingsDep, TemporalDep
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from api.params import IdempotencyKey
from api.permissions import Grant
from api.responses import StatusChanged
from api.schemas import CancelIn, DisputeIn, ResolveDisputeIn
from api.strict_json import StrictJSONRoute
from domain.events import DISPUTE_OUTCOMES
from domain.money import MoneyError, check_scale
from domain.order import OrderStatus

router = APIRouter(prefix="/api/orders", tags=["orders"], route_class=StrictJSONRoute,
                   responses={**PROBLEM_RESPONSES, **problem_responses(403, 404, 409, 413)})


@router.post("/{order_id}/cancel", operation_id="cancelOrder", response_model=StatusChanged)
async def cancel_order(order: OrderToChange, body: CancelIn, user: CurrentUser,
                       client: TemporalDep, db: DbDep, settings: SettingsDep,
                       idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Cancel with a reason code. A paid order is refunded and its stock restored."""
    snapshot = await order_commands.change_status(
        client, db, settings, user, order, idempotency_key=idempotency_key,
        status=OrderStatus.CANCELLED, reason=body.reason_code, notes=body.note)
    return presenters.status_change_reply(snapshot)


@router.post("/{order_id}/dispute", operation_id="openDispute", response_model=StatusChanged)
async def open_dispute(order: OrderToChange, body: DisputeIn, user: CurrentUser,
                       client: TemporalDep, db: DbDep, settings: SettingsDep,
                       idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """The buyer disputes an escrow order, or a delivered one within the dispute window."""
    snapshot = await order_commands.change_status(
        client, db, settings, user, order, idempotency_key=idempotency_key,
        status=OrderStatus.DISPUTED, reason="dispute_opened", notes=body.reason,
        evidence=body.evidence)
    return presenters.status_change_reply(snapshot)


@router.post("/{order_id}/dispute/resolve", operation_id="resolveDispute",
             response_model=StatusChanged)
async def resolve_dispute(order: OrderToChange, body: ResolveDisputeIn, user: CurrentUser,
                          client: TemporalDep, db: DbDep, settings: SettingsDep,
                          idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """An operator settles a dispute: release to the seller, refund the buyer (in part or in
    full) or cancel. A note is required."""
    permissions.require(user, Grant.MANAGE_ORDERS)
    if body.amount is not None:
        try:
            check_scale(body.amount, order.currency)
        except MoneyError as err:
            raise ApiError.invalid_field("amount", str(err)) from None
    snapshot = await order_commands.change_status(
        client, db, settings, user, order, idempotency_key=idempotency_key,
        status=DISPUTE_OUTCOMES[body.outcome], reason=f"dispute_{body.outcome}",
        notes=body.note, refund_amount=body.amount)
    return presenters.status_change_reply(snapshot)
