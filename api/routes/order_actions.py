"""Named order actions: cancel, dispute, resolve a dispute and refund in part. Each is sent to
the order's workflow, which also moves the money (refund, release) and the stock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from api import order_commands, permissions, presenters
from api.deps import CurrentUser, DbDep, OrderToChange, SettingsDep, TemporalDep
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from api.order_items import items_asked
from api.params import IdempotencyKey, RequiredIdempotencyKey
from api.permissions import Grant
from api.responses import RefundTaken, StatusChanged
from api.schemas import CancelIn, DisputeIn, RefundIn, ResolveDisputeIn
from api.strict_json import StrictJSONRoute
from domain.events import DISPUTE_OUTCOMES
from domain.money import MoneyError, check_scale
from domain.order import OrderStatus
from domain.refunds import RefundLine

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


@router.post("/{order_id}/refunds", operation_id="refundOrder", response_model=RefundTaken,
             status_code=201, responses=problem_responses(403, 404, 409, 413))
async def refund_order(order: OrderToChange, body: RefundIn, user: CurrentUser,
                       client: TemporalDep, db: DbDep, settings: SettingsDep,
                       idempotency_key: RequiredIdempotencyKey) -> dict[str, Any]:
    """Give part of the payment back: an amount, items (at their price, restocked if they
    never shipped) or both. The order's seller or an operator; several refunds per order,
    never more than was paid. Card and crypto refunds go to the provider at once, an escrow's
    are paid to the buyer when the escrow is settled. Refunding all that is left ends the
    order as `refunded` (or `cancelled` before it ships) where the status machine allows."""
    actor = permissions.seller_or_operator(user, seller_id=order.seller_id, doing="refund")
    lines, value = await _refunded_items(db, order.id, body)
    amount = body.amount if body.amount is not None else value
    if body.items is not None and amount > value:
        raise ApiError.invalid_field("amount", "more than the items' price",
                                     detail=f"the items cost {value} {order.currency}")
    try:
        check_scale(amount, order.currency)
    except MoneyError as err:
        raise ApiError.invalid_field("amount", str(err)) from None
    outcome = await order_commands.refund(client, db, settings, user, order, actor=actor,
                                          idempotency_key=idempotency_key, amount=amount,
                                          reason=body.reason, lines=lines)
    return presenters.refund_taken(outcome, order.id, order.currency)


async def _refunded_items(db, order_id: str, body: RefundIn) -> tuple[list[RefundLine], Any]:
    """The refund's lines by listing, and what they cost at the prices they were sold at."""
    if body.items is None:
        return [], None
    _, asked = await items_asked(db, order_id, body.items)
    lines = [RefundLine(item.listing_id, units) for item, units in asked]
    return lines, sum((item.unit_price * units for item, units in asked), Decimal(0))
