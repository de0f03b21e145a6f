"""What external events (carrier scans, escrow contract events, card-processor events) do to
an order. Pure.

An event moves the order only along an allowed transition; anything else (a late scan, a
duplicate, an event for a step already passed) is recorded on the timeline and changes nothing,
so an order never moves backwards. Carrier exceptions and returns raise alerts instead.

A card-processor event is a prompt, not a verdict: the workflow asks the provider what the
payment now is (or which refunds it holds) and acts on that answer, so money is believed only
from the provider's API, whatever the event says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from domain.order import OrderStatus, PaymentMethod, can_transition

S = OrderStatus


class EventSource(StrEnum):
    SHIPPING = "shipping"
    ESCROW = "escrow"
    CARD = "card"  # the card processor (Stripe)

    @property
    def actor_id(self) -> str:
        """Who the status history names for a change this source reported."""
        return f"{self.value}-webhook"

    @property
    def timeline_source(self) -> str:
        """The timeline's `source` for an event of this source that changed nothing."""
        return _TIMELINE_SOURCES[self]

    @property
    def timeline_event_type(self) -> str:
        return f"{self.value}_event"


_TIMELINE_SOURCES = {EventSource.SHIPPING: "shipping_provider", EventSource.ESCROW: "escrow",
                     EventSource.CARD: "card_processor"}

SHIPPING_STATUSES: dict[str, OrderStatus | None] = {
    "picked_up": S.SHIPPED,
    "in_transit": S.IN_TRANSIT,
    "out_for_delivery": S.OUT_FOR_DELIVERY,
    "delivered": S.DELIVERED,
    "exception": None,  # alert, never a move
    "returned": None,
}
ESCROW_TYPES = frozenset(
    {"EscrowCreated", "EscrowReleased", "EscrowRefunded", "DisputeCreated", "DisputeResolved"}
)
# The Stripe events the service subscribes to (`make run` registers these), and what each asks.
CARD_PAYMENT_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed",
                                 "payment_intent.canceled"})
CARD_REFUND_EVENTS = frozenset({"charge.refunded"})
CARD_DISPUTE_EVENTS = frozenset({"charge.dispute.created", "charge.dispute.closed"})
CARD_EVENT_TYPES = CARD_PAYMENT_EVENTS | CARD_REFUND_EVENTS | CARD_DISPUTE_EVENTS
DISPUTE_OUTCOMES: dict[str, OrderStatus] = {
    "release": S.COMPLETED,
    "refund": S.REFUNDED,
    "cancel": S.CANCELLED,
}


@dataclass(frozen=True)
class ExternalEvent:
    """One accepted webhook event, as the order workflow receives it (signal payload)."""

    source: EventSource
    event_id: str
    kind: str  # shipping status or escrow event type
    occurred_at: datetime
    tracking_number: str | None = None
    carrier: str | None = None
    location: str | None = None
    estimated_delivery: date | None = None
    transaction_hash: str | None = None
    dispute_id: str | None = None
    outcome: str | None = None  # a dispute's resolution; for a chargeback, won or lost
    payment_reference: str | None = None  # the card payment (PaymentIntent) the event is about

    @property
    def dedupe_key(self) -> str:
        return f"{self.source.value}:{self.event_id}"

    def metadata(self) -> dict[str, str]:
        """What the timeline and the history keep of the event."""
        return {key: str(value) for key, value in (
            ("eventId", self.event_id), ("carrier", self.carrier),
            ("trackingNumber", self.tracking_number), ("location", self.location),
            ("transactionHash", self.transaction_hash), ("disputeId", self.dispute_id),
            ("outcome", self.outcome), ("paymentReference", self.payment_reference)) if value}


@dataclass(frozen=True)
class EventDecision:
    target: OrderStatus | None  # the status to move to, or None to only record the event
    alert: str | None = None  # an alert kind to raise
    settled_externally: bool = False  # the money already moved on-chain: no gateway call
    asks_provider: bool = False  # ask the payment provider what the payment now is
    reconciles_refunds: bool = False  # ask the provider which refunds it holds


def decide(current: OrderStatus, event: ExternalEvent) -> EventDecision:
    if event.source is EventSource.SHIPPING:
        return _shipping(current, event)
    if event.source is EventSource.CARD:
        return _card(current, event)
    return _escrow(current, event)


def _shipping(current: OrderStatus, event: ExternalEvent) -> EventDecision:
    if event.kind in ("exception", "returned"):
        return EventDecision(target=None, alert=f"shipping_{event.kind}")
    target = SHIPPING_STATUSES.get(event.kind)
    return EventDecision(target=_forward(current, target))


def _escrow(current: OrderStatus, event: ExternalEvent) -> EventDecision:
    kind = event.kind
    if kind == "EscrowCreated":
        return EventDecision(target=_forward(current, S.ESCROW_LOCKED))
    if kind == "EscrowReleased":
        return EventDecision(target=_forward(current, S.COMPLETED), settled_externally=True)
    if kind == "EscrowRefunded":
        # Before the order is under way the contract's refund is a cancellation.
        target = _forward(current, S.REFUNDED) or _forward(current, S.CANCELLED)
        return EventDecision(target=target, settled_externally=True)
    if kind == "DisputeCreated":
        return EventDecision(target=_forward(current, S.DISPUTED))
    if kind == "DisputeResolved" and current is S.DISPUTED:
        outcome = DISPUTE_OUTCOMES.get(event.outcome or "")
        return EventDecision(target=outcome, settled_externally=outcome is not None)
    return EventDecision(target=None)


def _card(current: OrderStatus, event: ExternalEvent) -> EventDecision:
    if event.kind in CARD_PAYMENT_EVENTS:
        # Only a payment still pending can move; the provider's answer decides where to.
        return EventDecision(target=None, asks_provider=current is S.PAYMENT_PENDING)
    if event.kind in CARD_REFUND_EVENTS:
        return EventDecision(target=None, reconciles_refunds=True)
    if event.kind == "charge.dispute.created":
        # A chargeback: the buyer's bank disputes the payment. Operators and the seller must
        # answer it at the processor; the order is disputed where the status machine allows.
        return EventDecision(target=_forward(current, S.DISPUTED), alert="chargeback_opened")
    if event.kind == "charge.dispute.closed":
        return EventDecision(target=None, alert="chargeback_closed")
    return EventDecision(target=None)


def escrow_event_refusal(method: PaymentMethod, order_escrow_id: str | None,
                         event_escrow_id: str | None) -> str | None:
    """Why an escrow-contract event may not touch the order it names, or None if it may: the
    contract speaks only for escrow orders, and only for the escrow it holds for them."""
    if method is not PaymentMethod.ESCROW:
        return f"escrow events apply only to escrow orders; this one was paid by {method}"
    if event_escrow_id is not None and event_escrow_id != order_escrow_id:
        return "the event's escrowId belongs to another order"
    return None


def _forward(current: OrderStatus, target: OrderStatus | None) -> OrderStatus | None:
    return target if target is not None and can_transition(current, target) else None


def alert_text(event: ExternalEvent) -> str:
    """The start of an alert an event raised: who reported what."""
    if event.source is EventSource.CARD:
        outcome = f" ({event.outcome})" if event.outcome else ""
        return f"the card processor reported {event.kind}{outcome}"
    return f"{'carrier' if event.source is EventSource.SHIPPING else 'escrow'} reported " \
        f"{event.kind}"


def describe_event(event: ExternalEvent) -> str:
    """The timeline line for an event that did not change the status."""
    if event.source is EventSource.SHIPPING:
        where = f" at {event.location}" if event.location else ""
        return f"Carrier reported {event.kind.replace('_', ' ')}{where}"
    if event.source is EventSource.CARD:
        outcome = f" ({event.outcome})" if event.outcome else ""
        return f"Card processor reported {event.kind}{outcome}"
    return f"Escrow contract reported {event.kind}"
