"""Order routes: commands go through the order's workflow, reads come from the read model."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path
from sqlalchemy import Row

from api import order_commands, presenters
from api.auth import Principal
from api.deps import CurrentUser, DbDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.schemas import CreateOrderIn, StatusChangeIn
from api.strict_json import StrictJSONRoute
from db import queries
from db.engine import Database
from domain.commands import StatusChangeRequest
from domain.errors import ErrorCode

router = APIRouter(prefix="/api/orders", tags=["orders"], route_class=StrictJSONRoute)

OrderId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="order id (UUID)")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
           description="a retry with the same key gets the first answer, not a 409"),
]


@router.post("", status_code=201)
async def create_order(body: CreateOrderIn, user: CurrentUser, client: TemporalDep,
                       settings: SettingsDep) -> dict[str, Any]:
    """Create an order from a successful payment.

    Idempotent on the payment reference: a retry returns the same order. If the order cannot be
    made after payment (listing gone, stock short, amount wrong) the payment is refunded.
    """
    if not body.payment_result.success:
        raise ApiError(ErrorCode.PAYMENT_NOT_CONFIRMED, "payment not confirmed")
    if not user.is_staff and user.user_id != body.checkout_data.buyer_id:
        raise ApiError(ErrorCode.FORBIDDEN, "an order can only be placed by its buyer")
    snapshot = await order_commands.create_order(client, settings, body.to_domain())
    return {"success": True, "order": presenters.created_order(snapshot)}


@router.get("/{order_id}")
async def get_order(order_id: OrderId, user: CurrentUser, db: DbDep) -> dict[str, Any]:
    """An order with its buyer, seller, items, payment, shipping and timeline."""
    await visible_order(db, user, order_id)
    async with db.reader.connect() as conn:
        order = await queries.order_with_people(conn, order_id)
        items = await queries.order_items(conn, order_id)
        events = await queries.timeline(conn, order_id)
    assert order is not None
    return {"order": presenters.order_details(order, items, events)}


@router.put("/{order_id}/status")
async def change_status(order_id: OrderId, body: StatusChangeIn, user: CurrentUser,
                        db: DbDep, client: TemporalDep, settings: SettingsDep,
                        idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Move an order to a new status, if the caller may and the status machine allows it."""
    parties = await visible_order(db, user, order_id)
    snapshot = await order_commands.change_status(
        client,
        parties,
        StatusChangeRequest(
            status=body.status,
            actor_kind=order_commands.actor_for(user, parties),
            actor_id=user.user_id,
            tracking_number=body.tracking_number,
            carrier=body.carrier,
            estimated_delivery=body.estimated_delivery,
            notes=body.notes,
            reason=body.reason,
        ),
        idempotency_key,
        settings.temporal_rpc_timeout,
    )
    return {"success": True, "order": presenters.status_changed(snapshot)}


@router.get("/{order_id}/timeline")
async def get_timeline(order_id: OrderId, user: CurrentUser, db: DbDep) -> dict[str, Any]:
    """The order's timeline, oldest first."""
    await visible_order(db, user, order_id)
    async with db.reader.connect() as conn:
        events = await queries.timeline(conn, order_id)
    return {"timeline": [presenters.timeline_entry(e) for e in events]}


@router.get("/{order_id}/history")
async def get_history(order_id: OrderId, user: CurrentUser, db: DbDep) -> dict[str, Any]:
    """Every status change with who made it and why."""
    await visible_order(db, user, order_id)
    async with db.reader.connect() as conn:
        rows = await queries.history(conn, order_id)
    return {"history": [presenters.history_entry(r) for r in rows]}


async def visible_order(db: Database, user: Principal, order_id: str) -> Row:
    """The order if the caller may see it; otherwise 404, never revealing that it exists."""
    async with db.reader.connect() as conn:
        parties = await queries.order_parties(conn, order_id)
    if parties is None or not (
        user.is_staff or user.user_id in (parties.buyer_id, parties.seller_id)
    ):
        raise ApiError(ErrorCode.NOT_FOUND, "no such order")
    return parties
