"""Order routes: commands go through the order's workflow, reads come from the read model."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import order_commands, permissions, presenters
from api.deps import CurrentUser, DbDep, OrderToChange, SettingsDep, TemporalDep, VisibleOrder
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from api.params import IdempotencyKey
from api.permissions import Grant
from api.responses import History, OrderCreated, OrderView, StatusChanged, Timeline
from api.schemas import CreateOrderIn, StatusChangeIn
from api.strict_json import StrictJSONRoute
from db import queries
from domain.errors import ErrorCode

router = APIRouter(prefix="/api/orders", tags=["orders"], route_class=StrictJSONRoute,
                   responses=PROBLEM_RESPONSES)


@router.post("", status_code=201, operation_id="createOrder", response_model=OrderCreated,
             responses=problem_responses(403, 409, 413))
async def create_order(body: CreateOrderIn, user: CurrentUser, client: TemporalDep,
                       settings: SettingsDep) -> dict[str, Any]:
    """Create an order from a successful payment.

    Idempotent on the payment reference: a retry returns the same order. If the order cannot be
    made after payment (listing gone, stock short, amount wrong) the payment is refunded.
    """
    if not (permissions.is_self(user, body.checkout_data.buyer_id)
            or permissions.allows(user, Grant.PLACE_ORDERS)):
        raise ApiError(ErrorCode.FORBIDDEN, "an order can only be placed by its buyer")
    if not body.payment_result.success:
        raise ApiError(ErrorCode.PAYMENT_NOT_CONFIRMED, "payment not confirmed")
    snapshot = await order_commands.create_order(client, settings, body.to_domain())
    return {"success": True, "order": presenters.created_order(snapshot)}


@router.get("/{order_id}", operation_id="getOrder", response_model=OrderView,
            response_model_exclude_unset=True, responses=problem_responses(403, 404))
async def get_order(order: VisibleOrder, db: DbDep) -> dict[str, Any]:
    """An order with its buyer, seller, items, payment, shipping and timeline."""
    async with db.reader.connect() as conn:
        details = await queries.order_with_people(conn, order.id)
        items = await queries.order_items(conn, order.id)
        events = await queries.timeline(conn, order.id)
        operations = await queries.payment_operations(conn, order.workflow_id)
        refunds = await queries.order_refunds(conn, order.id)
    assert details is not None
    return {"order": presenters.order_details(details, items, events, operations, refunds)}


@router.put("/{order_id}/status", operation_id="changeOrderStatus", response_model=StatusChanged,
            responses=problem_responses(403, 404, 409, 413))
async def change_status(order: OrderToChange, body: StatusChangeIn, user: CurrentUser,
                        client: TemporalDep, db: DbDep, settings: SettingsDep,
                        idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Move an order to a new status, if the caller may and the status machine allows it."""
    snapshot = await order_commands.change_status(
        client, db, settings, user, order, idempotency_key=idempotency_key,
        status=body.status, tracking_number=body.tracking_number, carrier=body.carrier,
        estimated_delivery=body.estimated_delivery, notes=body.notes, reason=body.reason,
    )
    return presenters.status_change_reply(snapshot)


@router.get("/{order_id}/timeline", operation_id="getOrderTimeline", response_model=Timeline,
            response_model_exclude_unset=True, responses=problem_responses(403, 404))
async def get_timeline(order: VisibleOrder, db: DbDep) -> dict[str, Any]:
    """The order's timeline, oldest first."""
    async with db.reader.connect() as conn:
        events = await queries.timeline(conn, order.id)
    return {"timeline": [presenters.timeline_entry(e) for e in events]}


@router.get("/{order_id}/history", operation_id="getOrderHistory", response_model=History,
            responses=problem_responses(403, 404))
async def get_history(order: VisibleOrder, db: DbDep) -> dict[str, Any]:
    """Every status change with who made it and why."""
    async with db.reader.connect() as conn:
        rows = await queries.history(conn, order.id)
    return {"history": [presenters.history_entry(r) for r in rows]}
