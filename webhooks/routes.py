"""Signed webhooks from the shipping provider and the escrow-contract listener."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.deps import DbDep, SettingsDep, TemporalDep
from api.errors import ApiError, problem_responses
from api.metrics import WEBHOOK_EVENTS
from api.strict_json import loads_strict
from webhooks import signature
from webhooks.ingest import ingest
from webhooks.outcomes import Rejection
from webhooks.schemas import EscrowEventIn, ShippingEventIn, WebhookReceipt

# A bad signature is 401, a bad body (one that cannot even be parsed included) 422, a sender
# over its rate limit 429, an unreachable Temporal 503 (the provider resends).
router = APIRouter(prefix="/api/webhooks", tags=["webhooks"],
                   responses=problem_responses(401, 413, 422, 429, 500, 503))
Model = TypeVar("Model", bound=BaseModel)


def documented(model: type[BaseModel]) -> dict[str, Any]:
    # The body is read raw (the signature covers the exact bytes), so describe it by hand.
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": model.model_json_schema(by_alias=True)}}}}


@router.post("/shipping", operation_id="receiveShippingWebhook", response_model=WebhookReceipt,
             openapi_extra=documented(ShippingEventIn))
async def shipping_webhook(request: Request, db: DbDep, client: TemporalDep,
                           settings: SettingsDep) -> WebhookReceipt:
    """A carrier scan. Signed with OMS_SHIPPING_WEBHOOK_SECRET; a resend has no effect."""
    body = await read_signed(request, ShippingEventIn, source="shipping",
                             verify=partial(signature.verify, settings.shipping_webhook_secret),
                             header=signature.HEADER)
    return WebhookReceipt(status=await ingest(db, client, body))


@router.post("/escrow", operation_id="receiveEscrowWebhook", response_model=WebhookReceipt,
             openapi_extra=documented(EscrowEventIn))
async def escrow_webhook(request: Request, db: DbDep, client: TemporalDep,
                         settings: SettingsDep) -> WebhookReceipt:
    """An escrow-contract event. Signed with OMS_ESCROW_WEBHOOK_SECRET; a resend has no effect."""
    body = await read_signed(request, EscrowEventIn, source="escrow",
                             verify=partial(signature.verify, settings.escrow_webhook_secret),
                             header=signature.HEADER)
    return WebhookReceipt(status=await ingest(db, client, body))


async def read_signed(request: Request, model: type[Model], *, source: str, header: str,
                      verify: Callable[[str | None, bytes, float], None]) -> Model:
    """The body, once `verify(header value, raw body, now)` has accepted its signature; a bad
    signature or body is counted under `source` and answered 401 or 422."""
    raw = await request.body()
    try:
        verify(request.headers.get(header), raw, time.time())
    except ApiError:
        WEBHOOK_EVENTS.labels(source, Rejection.SIGNATURE.value).inc()
        raise
    try:
        return model.model_validate(loads_strict(raw))
    except json.JSONDecodeError as err:
        WEBHOOK_EVENTS.labels(source, Rejection.MALFORMED.value).inc()
        raise RequestValidationError([{"loc": ("body",), "msg": f"invalid JSON: {err.msg}",
                                       "type": "json_invalid"}]) from None
    except ValidationError as err:
        WEBHOOK_EVENTS.labels(source, Rejection.MALFORMED.value).inc()
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        ) from None
