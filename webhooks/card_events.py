"""Stripe's events: their `Stripe-Signature`, checked with the SDK's own verification, and the
part of their body an order needs. `webhooks/card_route.py` receives them.

An event only prompts the order to ask Stripe again (domain/events.py): a forged or replayed
event that slipped through could at most make the order check its payment early.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import stripe
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.errors import ApiError
from domain.errors import ErrorCode
from domain.events import (
    CARD_DISPUTE_EVENTS,
    CARD_EVENT_TYPES,
    CARD_PAYMENT_EVENTS,
    EventSource,
    ExternalEvent,
)
from domain.order import PaymentMethod
from payments.stripe_provider import PAYMENT_INTENT_ID
from workflows.shared import workflow_id_for

HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300
# The events `make run` subscribes the dev stack to, and a Stripe endpoint should send.
SUBSCRIBED_EVENTS = sorted(CARD_EVENT_TYPES)

StripeId = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,8}_[A-Za-z0-9]{1,250}$")]


class StripeObject(BaseModel):
    """The part of an event's object the order needs; Stripe's other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: StripeId
    object: Annotated[str, StringConstraints(pattern=r"^[a-z_.]{1,40}$")]
    payment_intent: StripeId | None = None  # on charges and disputes
    status: Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")] | None = None


class StripeEventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    object: StripeObject


class StripeEventIn(BaseModel):
    """A Stripe event (https://docs.stripe.com/api/events/object), as far as it matters here."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, StringConstraints(pattern=r"^evt_[A-Za-z0-9]{1,250}$")]
    type: Annotated[str, StringConstraints(pattern=r"^[a-z_.]{1,80}$")]
    created: int = Field(ge=0, le=10**11)
    data: StripeEventData

    @property
    def order_id(self) -> None:
        return None  # Stripe names the payment, not the order

    @property
    def payment_intent_id(self) -> str | None:
        obj = self.data.object
        reference = obj.id if self.type in CARD_PAYMENT_EVENTS else obj.payment_intent
        return reference if reference and PAYMENT_INTENT_ID.fullmatch(reference) else None

    @property
    def workflow_id(self) -> str | None:
        """A card order's workflow is named by its PaymentIntent, even before it exists."""
        reference = self.payment_intent_id
        return workflow_id_for(PaymentMethod.FIAT, reference) if reference else None

    @property
    def known(self) -> bool:
        return self.type in CARD_EVENT_TYPES and self.payment_intent_id is not None

    def to_event(self) -> ExternalEvent:
        dispute = self.type in CARD_DISPUTE_EVENTS
        return ExternalEvent(
            source=EventSource.CARD, event_id=self.id, kind=self.type[:50],
            occurred_at=datetime.fromtimestamp(self.created, UTC),
            payment_reference=self.payment_intent_id,
            dispute_id=self.data.object.id if dispute else None,
            # A closed chargeback's status: won, lost (or warning_closed).
            outcome=self.data.object.status if self.type == "charge.dispute.closed" else None,
        )


def verify(secret: str, header: str | None, body: bytes, now: float,
           tolerance: int = TOLERANCE_SECONDS) -> None:
    """Stripe's own check (the SDK's), plus what it leaves out: a timestamp too far ahead."""
    if not header:
        raise ApiError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, f"the {HEADER} header is missing")
    try:
        stripe.WebhookSignature.verify_header(body.decode("utf-8"), header, secret, tolerance)
    except UnicodeDecodeError:
        raise ApiError(ErrorCode.WEBHOOK_SIGNATURE_INVALID,
                       "the body is not UTF-8, so no Stripe signature can match") from None
    except stripe.SignatureVerificationError as err:
        code = (ErrorCode.WEBHOOK_TIMESTAMP_OUT_OF_RANGE if "tolerance" in str(err)
                else ErrorCode.WEBHOOK_SIGNATURE_INVALID)
        raise ApiError(code, f"the Stripe signature is not valid: {err.user_message or err}"
                       ) from None
    # Read as the SDK read it, which has just accepted the first `t=` as a number.
    timestamp = int(next(item.split("=", 2)[1] for item in header.split(",")
                         if item.split("=", 2)[0] == "t"))
    if timestamp > now + tolerance:
        raise ApiError(ErrorCode.WEBHOOK_TIMESTAMP_OUT_OF_RANGE,
                       f"the signature timestamp is more than {tolerance} s ahead of now")
