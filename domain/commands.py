"""Dataclasses that cross the Temporal boundary: one in and one out per workflow, activity and
update, so fields can be added without breaking running workflows. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.events import ExternalEvent
from domain.order import ActorKind, OrderStatus, PaymentMethod
from domain.parcels import Parcel
from domain.payments import Verdict
from domain.refunds import Refund, RefundLine


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    street: str
    city: str
    zip_code: str
    country: str
    state: str | None = None


@dataclass(frozen=True)
class PaymentInfo:
    method: PaymentMethod
    reference: str  # escrow id, transaction hash or payment intent id, per method
    final: bool = True  # False while the payment still settles: the order starts pending
    transaction_hash: str | None = None
    payment_intent_id: str | None = None
    escrow_id: str | None = None
    gas_fee: Decimal | None = None
    processing_fee: Decimal | None = None


@dataclass(frozen=True)
class OrderLine:
    """So many units of one listing, as the checkout ordered them."""

    listing_id: str
    quantity: int


@dataclass(frozen=True)
class OrderRequest:
    buyer_id: str
    seller_id: str
    # The first line. An order of one listing has only this; orders made before several items
    # per order existed have only this.
    listing_id: str
    quantity: int
    total_amount: Decimal
    currency: str
    shipping_address: ShippingAddress
    payment: PaymentInfo
    shipping_method: str = "standard"
    notes: str | None = None
    special_instructions: str | None = None
    # Every line, the first included, when there are several; empty for one.
    items: list[OrderLine] = field(default_factory=list)

    @property
    def lines(self) -> list[OrderLine]:
        """What was ordered, one line per listing."""
        return list(self.items) or [OrderLine(self.listing_id, self.quantity)]

    @property
    def units(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class OrderPolicy:
    """Every duration an order obeys: set from OMS_* settings (oms/settings.py) and copied into
    the workflow's input when the order starts, so a running order keeps the rules it began with.
    """

    payment_timeout: timedelta = timedelta(hours=1)
    # While a payment is still processing, its provider is asked again this often.
    payment_recheck_interval: timedelta = timedelta(minutes=1)
    seller_confirmation_timeout: timedelta = timedelta(hours=72)
    stuck_alert_after: timedelta = timedelta(hours=48)
    stuck_alert_repeat: timedelta = timedelta(hours=24)
    shipment_stuck_after: timedelta = timedelta(days=14)
    dispute_window: timedelta = timedelta(days=7)
    dispute_unresolved_after: timedelta = timedelta(hours=72)
    standard_delivery: timedelta = timedelta(days=7)
    express_delivery: timedelta = timedelta(days=3)
    # An order's history is handed to a fresh run (continue-as-new) past this many events,
    # well below Temporal's 51,200-event limit.
    max_history_events: int = 10_000
    send_email: bool = False  # set when SMTP is configured as the order starts

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, timedelta) and value <= timedelta(0):
                raise ValueError(f"{name} must be a positive duration")
        # A continued run needs a few dozen events before it waits again; fewer would loop.
        if not 50 <= self.max_history_events <= 40_000:
            raise ValueError("max_history_events must be between 50 and 40000")


class OwedKind(StrEnum):
    REFUND = "refund"
    RELEASE = "release"  # the escrow, to the seller
    RESTOCK = "restock"  # stock back to the listing: owed like money, but not money


@dataclass(frozen=True)
class Owed:
    """Something the order owes after a change and retries until it is done."""

    kind: OwedKind
    reason: str
    amount: Decimal | None = None  # refunds only; None: the whole order total
    # A partial refund's id: its own operation at the provider, and the only lines restocked.
    operation_id: str | None = None
    lines: list[RefundLine] = field(default_factory=list)  # restock: these lines; none: all


@dataclass(frozen=True)
class OrderChange:
    """One status change as the workflow applies it: the target, who asked and what came with
    it. Built by an update, a signal or a timer, and carried unchanged to the read model."""

    target: OrderStatus
    actor_kind: ActorKind
    actor_id: str
    reason: str | None = None
    notes: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    estimated_delivery: date | None = None
    refund_amount: Decimal | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    settled_externally: bool = False  # the money already moved (a contract event)
    inbox_event: ExternalEvent | None = None  # recorded in the inbox with the change

    @classmethod
    def requested(cls, request: StatusChangeRequest) -> OrderChange:
        """A change a person asked for through the API."""
        metadata = {"evidence": "\n".join(request.evidence)} if request.evidence else {}
        if request.refund_amount is not None:
            metadata["refundAmount"] = format(request.refund_amount, "f")
        return cls(target=request.status, actor_kind=request.actor_kind,
                   actor_id=request.actor_id, reason=request.reason, notes=request.notes,
                   tracking_number=request.tracking_number, carrier=request.carrier,
                   estimated_delivery=request.estimated_delivery,
                   refund_amount=request.refund_amount, metadata=metadata)

    @classmethod
    def reported(cls, event: ExternalEvent, target: OrderStatus, *,
                 settled_externally: bool) -> OrderChange:
        """A change a carrier or the escrow contract reported."""
        return cls(target=target, actor_kind=ActorKind.SYSTEM, actor_id=event.source.actor_id,
                   reason=event.kind, tracking_number=event.tracking_number,
                   carrier=event.carrier, estimated_delivery=event.estimated_delivery,
                   metadata=event.metadata(), settled_externally=settled_externally,
                   inbox_event=event)

    def beyond(self, order: OrderSnapshot) -> OrderChange:
        """This change without the shipping details the order already has (every carrier scan
        repeats its tracking number), so only what is new is recorded."""
        return replace(
            self,
            tracking_number=_new(self.tracking_number, order.tracking_number),
            carrier=_new(self.carrier, order.carrier),
            estimated_delivery=_new(self.estimated_delivery, order.estimated_delivery),
        )


def _new(value, current):
    return value if value and value != current else None


@dataclass(frozen=True)
class EmailCommand:
    """One order email to the buyer, the seller or both; sent at most once per recipient."""

    order_id: str
    order_number: str
    event: str  # a template name in activities/email_templates.py
    occurrence: str  # tells repeated events apart (the status sequence, the alert number)
    buyer_id: str
    seller_id: str
    audience: list[str]  # "buyer", "seller"
    tracking_number: str | None = None
    carrier: str | None = None
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CarriedState:
    """What a continued-as-new run takes over from the run before it."""

    order: OrderSnapshot
    applied_events: list[str]
    alerts_raised: int = 0
    stuck_since: datetime | None = None
    shipped_at: datetime | None = None
    payment_checks: int = 0
    owed: list[Owed] = field(default_factory=list)
    # Refunded at the provider outside this service (a dashboard refund); what is owed later
    # gives back only the rest.
    refunded_outside: Decimal = Decimal(0)
    emails: list[EmailCommand] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    parcels: list[Parcel] = field(default_factory=list)


@dataclass(frozen=True)
class OrderWorkflowInput:
    order_id: str
    request: OrderRequest
    policy: OrderPolicy
    fingerprint: str  # digest of the request: a retried create must carry the same one
    carried: CarriedState | None = None


@dataclass(frozen=True)
class CreationRequest:
    fingerprint: str


@dataclass(frozen=True)
class OrderSnapshot:
    """The live state of one order, as the workflow sees it."""

    order_id: str
    order_number: str
    status: OrderStatus
    previous_status: OrderStatus | None
    status_updated_at: datetime
    created_at: datetime
    buyer_id: str
    seller_id: str
    payment_method: PaymentMethod
    total_amount: Decimal
    currency: str
    sequence: int
    estimated_delivery: date | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class StatusChangeRequest:
    status: OrderStatus
    actor_kind: ActorKind
    actor_id: str
    tracking_number: str | None = None
    carrier: str | None = None
    estimated_delivery: date | None = None
    notes: str | None = None
    reason: str | None = None
    refund_amount: Decimal | None = None  # a partial refund when resolving a dispute
    evidence: list[str] = field(default_factory=list)  # a buyer's dispute evidence


@dataclass(frozen=True)
class OrderOutcome:
    order_id: str
    status: OrderStatus | None  # None when the order was rejected at creation
    rejection_code: str | None = None
    rejection_message: str | None = None


# ---- activity inputs and outputs -------------------------------------------------------------


@dataclass(frozen=True)
class CreateOrderCommand:
    order_id: str
    workflow_id: str
    request: OrderRequest
    initial_status: OrderStatus
    created_at: datetime
    estimated_delivery: date
    provider_fee: Decimal | None = None  # what the payment provider says it kept
    gas_fee: Decimal | None = None  # what the chain says the payment's transaction cost


@dataclass(frozen=True)
class VerifyPaymentCommand:
    """Ask the payment's provider what it says about the reference the checkout sent."""

    method: PaymentMethod
    reference: str
    buyer_id: str
    total_amount: Decimal
    currency: str
    # What the checkout claimed: only the development stand-in of crypto and escrow (no chain
    # configured) goes by it; a real provider ignores it.
    claimed_final: bool = True
    # The escrow's record must name the seller's wallet too (None in commands recorded before
    # it was sent).
    seller_id: str | None = None


@dataclass(frozen=True)
class PaymentCheck:
    """The provider's answer, judged against the order (domain.payments.judge)."""

    verdict: Verdict
    code: str | None = None  # an ErrorCode when refused
    message: str = ""
    provider_fee: Decimal | None = None
    gas_fee: Decimal | None = None


@dataclass(frozen=True)
class CreatedOrder:
    order_number: str
    created_at: datetime
    # Webhook events that arrived before the order existed, now handed to its workflow.
    early_events: list[ExternalEvent] = field(default_factory=list)


@dataclass(frozen=True)
class StatusChangeRecord:
    """One status change, written to the read model idempotently on (order_id, sequence)."""

    order_id: str
    order_number: str
    sequence: int
    previous_status: OrderStatus | None  # None on the order's first row
    new_status: OrderStatus
    actor_kind: ActorKind
    actor_id: str
    buyer_id: str
    seller_id: str
    occurred_at: datetime
    description: str
    reason: str | None = None
    notes: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    estimated_delivery: date | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    # For metrics: since when the order was in its previous status, and when it was created.
    previous_since: datetime | None = None
    order_created_at: datetime | None = None
    # The webhook event that caused the change: recorded in the inbox in the same transaction.
    inbox_event: ExternalEvent | None = None
    # Parcels that moved with the change (shipped with it, or an order's one parcel following
    # it), written in the same transaction.
    shipments: list[ShipmentRecord] = field(default_factory=list)


@dataclass(frozen=True)
class TimelineRecord:
    """A timeline entry that does not change the status (a late scan, a carrier exception)."""

    order_id: str
    event_key: str  # unique per order: the row id is derived from it
    event_type: str
    description: str
    source: str
    occurred_at: datetime
    status: OrderStatus | None = None
    location: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    inbox_event: ExternalEvent | None = None  # recorded in the inbox in the same transaction


@dataclass(frozen=True)
class AlertCommand:
    alert_id: str
    order_id: str
    order_number: str
    seller_id: str
    kind: str
    status: OrderStatus
    message: str
    raised_at: datetime
    notify: list[str] = field(default_factory=list)  # user ids that get a notification


@dataclass(frozen=True)
class InventoryRestoreCommand:
    order_id: str
    listing_id: str
    quantity: int
    at: datetime
    # A partial refund's lines, once per refund; without one, every line not given back yet.
    refund_id: str | None = None
    lines: list[RefundLine] = field(default_factory=list)


@dataclass(frozen=True)
class ShipmentRecord:
    """One parcel as it now is, upserted on (order, tracking number) and its version."""

    order_id: str
    parcel: Parcel
    fulfilment: str | None  # the order's (domain.parcels.Fulfilment), None when its status says
    # A timeline entry for it, when no status change of the order tells of it.
    timeline_entry: str | None = None
    actor: str = "seller"


@dataclass(frozen=True)
class RefundRecord:
    """A partial refund in the read model: its row, a timeline entry and both parties told."""

    order_id: str
    order_number: str
    buyer_id: str
    seller_id: str
    currency: str
    refund: Refund
    payment_key: str | None  # the ledger's key for its provider refund; None: at settlement
    description: str


@dataclass(frozen=True)
class PaymentCommand:
    """A refund or an escrow release, idempotent on its key at the gateway and in the ledger."""

    idempotency_key: str
    workflow_id: str
    order_id: str | None
    method: PaymentMethod
    payment_reference: str
    amount: Decimal
    currency: str
    reason: str


@dataclass(frozen=True)
class RefundsCheckCommand:
    """Ask the payment's provider which refunds it holds for the payment."""

    workflow_id: str
    order_id: str
    method: PaymentMethod
    payment_reference: str
    currency: str


@dataclass(frozen=True)
class RefundsCheck:
    # What the provider refunded that this service did not ask for (each such refund is now in
    # the ledger): a refund made in the provider's dashboard.
    refunded_outside: Decimal


@dataclass(frozen=True)
class PaymentOperationResult:
    idempotency_key: str
    external_id: str
    status: str
