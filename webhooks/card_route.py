"""`POST /api/webhooks/stripe`: Stripe's events, verified, deduplicated in the inbox and
signalled to the order their PaymentIntent paid for."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request

from api.deps import DbDep, SettingsDep, TemporalDep
from domain.events import EventSource
from webhooks.card_events import HEADER, StripeEventIn, verify
from webhooks.ingest import ingest
from webhooks.routes import documented, read_signed
from webhooks.routes import router as signed_webhooks
from webhooks.schemas import WebhookReceipt

# The same prefix, tags and documented errors as the other signed webhooks.
router = APIRouter(prefix=signed_webhooks.prefix, tags=signed_webhooks.tags,
                   responses=signed_webhooks.responses)


@router.post("/stripe", operation_id="receiveStripeWebhook", response_model=WebhookReceipt,
             openapi_extra=documented(StripeEventIn))
async def stripe_webhook(request: Request, db: DbDep, client: TemporalDep,
                         settings: SettingsDep) -> WebhookReceipt:
    """A Stripe event. Signed with OMS_STRIPE_WEBHOOK_SECRET (`Stripe-Signature`); a resend has
    no effect. Payment events make a pending order ask Stripe again, `charge.refunded` records
    a refund made in the Stripe dashboard, `charge.dispute.*` alerts the seller and operators."""
    body = await read_signed(request, StripeEventIn, source=EventSource.CARD.value,
                             verify=partial(verify, settings.stripe_webhook_secret),
                             header=HEADER)
    return WebhookReceipt(status=await ingest(db, client, body))
