"""Parcels: a seller ships some or all of an order in a parcel, and anyone who may read the
order tracks each parcel (the specification's trackShipment). The order's status follows its
parcels in the workflow (domain/parcels.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api import order_commands, permissions, presenters
from api.deps import CurrentUser, DbDep, OrderToChange, SettingsDep, TemporalDep, VisibleOrder
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from api.order_items import items_asked
from api.params import IdempotencyKey
from api.responses import Shipments, ShipmentShipped, ShipmentView
from api.schemas import ShipmentIn
from api.strict_json import StrictJSONRoute
from db import queries
from domain import ids
from domain.errors import ErrorCode
from domain.parcels import ParcelLine, ShipParcelRequest

router = APIRouter(prefix="/api/orders", tags=["shipments"], route_class=StrictJSONRoute,
                   responses=PROBLEM_RESPONSES)
TrackingNumberPath = Annotated[str, Path(pattern=ids.TRACKING_NUMBER_PATTERN)]


@router.post("/{order_id}/shipments", operation_id="shipParcel", status_code=201,
             response_model=ShipmentShipped, responses=problem_responses(403, 404, 409, 413))
async def ship_parcel(order: OrderToChange, body: ShipmentIn, user: CurrentUser,
                      client: TemporalDep, db: DbDep, settings: SettingsDep,
                      idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """Ship items (all that is left without `items`) in a parcel of their own. The order is
    `shipped` once every item is in a parcel; until then it stays `ready_to_ship` with
    `fulfilment: partially_shipped`. The order's seller or an operator."""
    actor = permissions.seller_or_operator(user, seller_id=order.seller_id, doing="ship")
    items, asked = await items_asked(db, order.id, body.items)
    lines = [ParcelLine(item.listing_id, units) for item, units in asked]
    request = ShipParcelRequest(actor_kind=actor, actor_id=user.user_id,
                                tracking_number=body.tracking_number, carrier=body.carrier,
                                lines=lines, estimated_delivery=body.estimated_delivery,
                                notes=body.notes)
    outcome = await order_commands.ship_parcel(client, db, settings, user, order, request,
                                               idempotency_key=idempotency_key)
    async with db.reader.connect() as conn:
        row = next(r for r in await queries.shipments(conn, order.id)
                   if r.tracking_number == body.tracking_number)
        events = await queries.timeline(conn, order.id)
    return {"success": True, "orderStatus": outcome.status.value,
            "fulfilment": outcome.fulfilment.value if outcome.fulfilment else None,
            "shipment": presenters.shipment(row, items, events)}


@router.get("/{order_id}/shipments", operation_id="listShipments", response_model=Shipments,
            responses=problem_responses(403, 404))
async def list_shipments(order: VisibleOrder, db: DbDep) -> dict[str, Any]:
    """The order's parcels with their items and tracking events, in the order they left."""
    async with db.reader.connect() as conn:
        details = await queries.order_with_people(conn, order.id)
        rows = await queries.shipments(conn, order.id)
        items = await queries.order_items(conn, order.id)
        events = await queries.timeline(conn, order.id)
    assert details is not None
    return {"fulfilment": details.fulfilment,
            "shipments": [presenters.shipment(r, items, events) for r in rows]}


@router.get("/{order_id}/shipments/{tracking_number}", operation_id="trackShipment",
            response_model=ShipmentView, responses=problem_responses(403, 404))
async def track_shipment(order: VisibleOrder, tracking_number: TrackingNumberPath,
                         db: DbDep) -> dict[str, Any]:
    """One parcel: carrier, status, estimated delivery, its items and its events."""
    async with db.reader.connect() as conn:
        rows = await queries.shipments(conn, order.id)
        row = next((r for r in rows if r.tracking_number == tracking_number), None)
        if row is None:
            raise ApiError(ErrorCode.NOT_FOUND, "no parcel with this tracking number")
        items = await queries.order_items(conn, order.id)
        events = await queries.timeline(conn, order.id)
    return {"shipment": presenters.shipment(row, items, events)}
