"""Named order actions: cancel, dispute and resolve a dispute. Each is a status change sent to
the order's workflow, which also moves the money (refund, release) and the stock."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import order_commands, presenters
from api.deps import CurrentUser, DbDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.routes.orders import IdempotencyKey, OrderId, visible_order
from api.schemas import CancelIn, DisputeIn, ResolveDisputeIn
from api.strict_json import StrictJSONRoute
from domain.commands import StatusChangeRequest
from domain.errors import ErrorCode
from domain.events import DISPUTE_OUTCOMES
from domain.money import MoneyError, check_scale
from domain.order import OrderStatus

router = APIRouter(prefix="/api/orders", tags=["orders"], route_class=StrictJSONRoute)


@router.post("/{order_id}/cancel")
async def cancel_order(order_id: OrderId, body: CancelIn, user: CurrentUser, db: DbDep,
                       client: TemporalDep, settings: SettingsDep,
                       idempotency_key: IdempotencyKey = None
                       ) -> dict[str, Any]:
    """Cancel with a reason code. A paid order is refunded and its stock restored."""
    return await _change(db, client, settings, user, order_id, idempotency_key,
                         status=OrderStatus.CANCELLED, reason=body.reason_code, notes=body.note)


@router.post("/{order_id}/dispute")
async def open_dispute(order_id: OrderId, body: DisputeIn, user: CurrentUser, db: DbDep,
                       client: TemporalDep, settings: SettingsDep,
                       idempotency_key: IdempotencyKey = None
                       ) -> dict[str, Any]:
    """The buyer disputes an escrow order, or a delivered one within the dispute window."""
    return await _change(db, client, settings, user, order_id, idempotency_key,
                         status=OrderStatus.DISPUTED, reason="dispute_opened",
                         notes=body.reason, evidence=body.evidence)


@router.post("/{order_id}/dispute/resolve")
async def resolve_dispute(order_id: OrderId, body: ResolveDisputeIn, user: CurrentUser,
                          db: DbDep, client: TemporalDep, settings: SettingsDep,
                       idempotency_key: IdempotencyKey = None
                          ) -> dict[str, Any]:
    """An operator settles a dispute: release to the seller, refund the buyer (in part or in
    full) or cancel. A note is required."""
    parties = await visible_order(db, user, order_id)
    if body.amount is not None:
        try:
            check_scale(body.amount, parties.currency)
        except MoneyError as err:
            raise ApiError(ErrorCode.VALIDATION_ERROR, str(err),
                           errors=[{"field": "amount", "message": str(err),
                                    "type": "value_error"}]) from None
    return await _change(db, client, settings, user, order_id, idempotency_key, parties=parties,
                         status=DISPUTE_OUTCOMES[body.outcome], reason=f"dispute_{body.outcome}",
                         notes=body.note, refund_amount=body.amount)


async def _change(db, client, settings, user, order_id: str, idempotency_key: str | None, *,
                  parties=None, **request: Any) -> dict[str, Any]:
    """Send a status change made by `user` to the order's workflow and answer like PUT status."""
    parties = parties or await visible_order(db, user, order_id)
    change = StatusChangeRequest(actor_kind=order_commands.actor_for(user, parties),
                                 actor_id=user.user_id, **request)
    snapshot = await order_commands.change_status(client, parties, change, idempotency_key,
                                                  settings.temporal_rpc_timeout)
    return {"success": True, "order": presenters.status_changed(snapshot)}
