"""`POST /api/webhooks/stripe`: Stripe's events, verified, deduplicated in the inbox and
signalled to the order their PaymentIntent paid for."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import DbDep, SettingsDep, TemporalDep
from api.errors import ApiError, problem_responses
from api.metrics import WEBHOOK_EVENTS
from api.strict_json import loads_strict
from domain.events import EventSource
from webhooks.card_events import HEADER, StripeEventIn, verify
from webhooks.ingest import ingest
from webhooks.outcomes import Rejection
from webhooks.schemas import WebhookReceipt

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"],
                   responses=problem_responses(401, 413, 422, 500, 503))


@router.post("/stripe", operation_id="receiveStripeWebhook", response_model=WebhookReceipt,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": StripeEventIn.model_json_schema()}}}})
async def stripe_webhook(request: Request, db: DbDep, client: TemporalDep,
                         settings: SettingsDep) -> WebhookReceipt:
    """A Stripe event. Signed with OMS_STRIPE_WEBHOOK_SECRET (`Stripe-Signature`); a resend has
    no effect. Payment events make a pending order ask Stripe again, `charge.refunded` records
    a refund made in the Stripe dashboard, `charge.dispute.*` alerts the seller and operators."""
    raw = await request.body()
    try:
        verify(settings.stripe_webhook_secret, request.headers.get(HEADER), raw, time.time())
    except ApiError:
        WEBHOOK_EVENTS.labels(EventSource.CARD.value, Rejection.SIGNATURE.value).inc()
        raise
    return WebhookReceipt(status=await ingest(db, client, _parsed(raw)))


def _parsed(raw: bytes) -> StripeEventIn:
    try:
        document: Any = loads_strict(raw)
        return StripeEventIn.model_validate(document)
    except json.JSONDecodeError as err:
        WEBHOOK_EVENTS.labels(EventSource.CARD.value, Rejection.MALFORMED.value).inc()
        raise RequestValidationError([{"loc": ("body",), "msg": f"invalid JSON: {err.msg}",
                                       "type": "json_invalid"}]) from None
    except ValidationError as err:
        WEBHOOK_EVENTS.labels(EventSource.CARD.value, Rejection.MALFORMED.value).inc()
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in err.errors(include_url=False)]
        ) from None
