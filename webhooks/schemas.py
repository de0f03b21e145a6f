"""Bodies of the inbound webhooks (DESIGN §5) and the answer to them. Unknown extra fields are
ignored, so a provider can add fields without breaking delivery; unknown event types are
accepted and recorded."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from api.schemas import EscrowRef, TxHash, text
from domain.events import (
    ESCROW_TYPES,
    SHIPPING_STATUSES,
    EventSource,
    ExternalEvent,
)
from domain.ids import ORDER_ID_PATTERN, TRACKING_NUMBER_PATTERN
from webhooks.outcomes import InboxOutcome

EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")]
OrderRef = Annotated[str, StringConstraints(pattern=ORDER_ID_PATTERN)]
Kind = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]{1,40}$")]
Short = text(100, min_length=1)


class WebhookModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ShippingEventIn(WebhookModel):
    event_id: EventId
    order_id: OrderRef
    status: Kind
    occurred_at: AwareDatetime
    tracking_number: Annotated[str, StringConstraints(pattern=TRACKING_NUMBER_PATTERN)] | None = (
        None
    )
    carrier: Short | None = None
    location: text(255) | None = None  # type: ignore[valid-type]
    estimated_delivery: date | None = None

    @property
    def known(self) -> bool:
        return self.status in SHIPPING_STATUSES

    def to_event(self) -> ExternalEvent:
        return ExternalEvent(
            source=EventSource.SHIPPING, event_id=self.event_id, kind=self.status,
            occurred_at=self.occurred_at, tracking_number=self.tracking_number,
            carrier=self.carrier, location=self.location,
            estimated_delivery=self.estimated_delivery,
        )


class EscrowEventIn(WebhookModel):
    event_id: EventId
    type: Kind
    occurred_at: AwareDatetime
    order_id: OrderRef | None = None
    escrow_id: EscrowRef | None = None
    transaction_hash: TxHash | None = None
    dispute_id: Short | None = None
    outcome: Literal["release", "refund", "cancel"] | None = None

    @model_validator(mode="after")
    def _names_its_order(self) -> EscrowEventIn:
        if self.order_id is None and self.escrow_id is None:
            raise ValueError("an escrow event needs orderId or escrowId")
        if self.type == "DisputeResolved" and self.outcome is None:
            raise ValueError("DisputeResolved needs an outcome: release, refund or cancel")
        return self

    @property
    def known(self) -> bool:
        return self.type in ESCROW_TYPES

    def to_event(self) -> ExternalEvent:
        return ExternalEvent(
            source=EventSource.ESCROW, event_id=self.event_id, kind=self.type,
            occurred_at=self.occurred_at, transaction_hash=self.transaction_hash,
            dispute_id=self.dispute_id, outcome=self.outcome,
        )


class WebhookReceipt(BaseModel):
    """The answer to a signed, well-formed event: 200 whatever became of it, so the provider
    stops resending it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    received: Literal[True] = True
    status: InboxOutcome = Field(
        description="what became of the event; never `claimed`, which only the inbox records")
