"""Signed webhooks from the shipping provider and the escrow-contract listener."""

from __future__ import annotations

import json
import time
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api import webhook_signature
from api.deps import DbDep, SettingsDep, TemporalDep
from api.errors import ApiError
from api.metrics import WEBHOOK_EVENTS
from api.strict_json import loads_strict
from api.webhook_ingest import ingest
from api.webhook_schemas import EscrowEventIn, ShippingEventIn

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])
Model = TypeVar("Model", bound=BaseModel)


def _documented(model: type[BaseModel]) -> dict[str, Any]:
    # The body is read raw (the signature covers the exact bytes), so describe it by hand.
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": model.model_json_schema(by_alias=True)}}}}


@router.post("/shipping", openapi_extra=_documented(ShippingEventIn))
async def shipping_webhook(request: Request, db: DbDep, client: TemporalDep,
                           settings: SettingsDep) -> dict[str, Any]:
    """A carrier scan. Signed with OMS_SHIPPING_WEBHOOK_SECRET; a resend has no effect."""
    body = await _verified(request, settings.shipping_webhook_secret, ShippingEventIn)
    return {"received": True, "status": await ingest(db, client, body)}


@router.post("/escrow", openapi_extra=_documented(EscrowEventIn))
async def escrow_webhook(request: Request, db: DbDep, client: TemporalDep,
                         settings: SettingsDep) -> dict[str, Any]:
    """An escrow-contract event. Signed with OMS_ESCROW_WEBHOOK_SECRET; a resend has no effect."""
    body = await _verified(request, settings.escrow_webhook_secret, EscrowEventIn)
    return {"received": True, "status": await ingest(db, client, body)}


async def _verified(request: Request, secret: str, model: type[Model]) -> Model:
    source = request.url.path.rsplit("/", 1)[-1]
    raw = await request.body()
    try:
        webhook_signature.verify(secret, request.headers.get(webhook_signature.HEADER), raw,
                                 time.time())
    except ApiError:
        WEBHOOK_EVENTS.labels(source, "rejected_signature").inc()
        raise
    try:
        return model.model_validate(loads_strict(raw))
    except json.JSONDecodeError as err:
        WEBHOOK_EVENTS.labels(source, "rejected_malformed").inc()
        raise RequestValidationError([{"loc": ("body",), "msg": f"invalid JSON: {err.msg}",
                                       "type": "json_invalid"}]) from None
    except ValidationError as err:
        WEBHOOK_EVENTS.labels(source, "rejected_malformed").inc()
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        ) from None
