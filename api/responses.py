"""HTTP response models: the JSON each route answers, for the OpenAPI document and its check.

The presenters build the bodies (amounts already strings, times already ISO 8601); these
models describe them field for field, in the same order, so validating a body changes nothing.
A few keys appear only in some views (a list line shows the buyer, the seller or both; a
timeline entry its tracking number when it has one): routes with such keys answer with
`response_model_exclude_unset=True`, which leaves out exactly the keys a presenter did not set.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from domain.order import PaymentMethod

Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time",
                                           "examples": ["2026-01-31T12:00:00Z"]})]
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
Money = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$",
                                       "description": "exact decimal at the currency's scale",
                                       "examples": ["200.00"]})]


class Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# ---- one order ----------------------------------------------------------------------------


class CreatedOrder(Out):
    id: str
    order_number: str
    status: str
    total_amount: Money | None
    currency: str
    estimated_delivery: Day | None
    created_at: Timestamp | None
    tracking_url: str


class OrderCreated(Out):
    success: bool
    order: CreatedOrder


class ChangedOrder(Out):
    id: str
    order_number: str
    status: str
    previous_status: str | None
    status_updated_at: Timestamp | None
    tracking_number: str | None
    carrier: str | None
    estimated_delivery: Day | None


class StatusChanged(Out):
    success: bool
    order: ChangedOrder


class Buyer(Out):
    id: str
    name: str | None
    email: str | None


class Seller(Out):
    id: str
    name: str | None
    store_name: str | None


class OrderItem(Out):
    id: str
    listing_id: str
    product_name: str
    quantity: int
    unit_price: Money | None
    total_price: Money | None


class PaymentOperation(Out):
    kind: str = Field(description="refund or release")
    amount: Money | None
    currency: str
    provider_id: str = Field(description="the provider's id for it (a Stripe refund id, ...)")
    status: str
    reason: str | None
    at: Timestamp | None


class Payment(Out):
    method: str
    status: str = Field(description="pending, confirmed, locked, partially_refunded, refunded, "
                                    "released or failed")
    operations: list[PaymentOperation]
    transaction_hash: str | None
    escrow_id: str | None
    payment_intent_id: str | None
    processing_fee: Money | None
    gas_fee: str | None


class RefundLine(Out):
    listing_id: str
    quantity: int


class Refund(Out):
    id: str
    amount: Money | None
    currency: str
    reason: str
    items: list[RefundLine]
    actor: str = Field(description="seller or operator")
    requested_by: str
    status: str = Field(description="the provider refund's: requested (under way), succeeded, "
                                    "pending or failed; at_settlement for an escrow's, paid "
                                    "when the escrow is settled")
    provider_id: str | None
    at: Timestamp | None


class RefundedOrder(Out):
    id: str
    status: str
    refunded_amount: Money | None = Field(description="every partial refund, this one included")
    refundable_amount: Money | None = Field(description="what may still be refunded")


class RefundTaken(Out):
    success: bool
    refund: Refund
    order: RefundedOrder


class ShipmentLine(Out):
    item_id: str | None
    listing_id: str
    product_name: str | None
    quantity: int


class ShipmentEvent(Out):
    status: str | None
    location: str | None
    timestamp: Timestamp
    description: str


class Shipment(Out):
    tracking_number: str
    carrier: str | None
    status: str = Field(description="shipped, in_transit, out_for_delivery or delivered")
    estimated_delivery: Day | None
    shipped_at: Timestamp | None
    delivered_at: Timestamp | None
    items: list[ShipmentLine]
    events: list[ShipmentEvent]


class Shipments(Out):
    fulfilment: str | None = Field(description="partially_shipped or partially_delivered while "
                                               "the order's parcels are; else null")
    shipments: list[Shipment]


class ShipmentView(Out):
    shipment: Shipment


class ShipmentShipped(Out):
    success: bool
    order_status: str
    fulfilment: str | None
    shipment: Shipment


class Address(Out):
    name: str
    street: str
    city: str
    state: str | None
    zip_code: str
    country: str


class Shipping(Out):
    method: str
    tracking_number: str | None
    carrier: str | None
    estimated_delivery: Day | None
    delivered_at: Timestamp | None
    address: Address


class TimelineEntry(Out):
    id: str
    status: str | None
    timestamp: Timestamp
    description: str
    source: str
    tracking_number: str | None = None  # only when the event carries one
    location: str | None = None  # only when the event has one
    metadata: dict[str, Any] | None = None  # only in the timeline, not in the order


class OrderDetails(Out):
    id: str
    order_number: str
    status: str
    fulfilment: str | None = Field(description="partially_shipped or partially_delivered "
                                               "while the order's parcels are; else null")
    status_updated_at: Timestamp | None
    created_at: Timestamp | None
    total_amount: Money | None
    currency: str
    buyer: Buyer
    seller: Seller
    items: list[OrderItem]
    payment: Payment
    refunds: list[Refund]
    shipping: Shipping
    notes: str | None
    special_instructions: str | None
    timeline: list[TimelineEntry]


class OrderView(Out):
    order: OrderDetails


class Timeline(Out):
    timeline: list[TimelineEntry]


class HistoryEntry(Out):
    id: str
    sequence: int
    previous_status: str | None
    new_status: str
    changed_by: str
    actor: str
    reason: str | None
    notes: str | None
    metadata: dict[str, Any]
    created_at: Timestamp | None


class History(Out):
    history: list[HistoryEntry]


# ---- lists --------------------------------------------------------------------------------


class ListBuyer(Out):
    id: str
    name: str | None


class ListLine(Out):
    listing_id: str
    product_name: str
    quantity: int


class ListItem(Out):
    """One line of a list; `buyer`, `seller` and their ids appear as the view allows."""

    id: str
    order_number: str
    status: str
    item_count: int = Field(description="units ordered, over all the order's items")
    items: list[ListLine]
    total_amount: Money | None
    currency: str
    payment_method: str
    payment_status: str
    created_at: Timestamp | None
    status_updated_at: Timestamp | None
    estimated_delivery: Day | None
    tracking_number: str | None
    buyer: ListBuyer | None = None
    seller: Seller | None = None
    buyer_id: str | None = None
    seller_id: str | None = None
    workflow_id: str | None = Field(None, description="operators' views: the order's workflow")


class Pagination(Out):
    page: int | None = Field(description="null when paging by cursor")
    limit: int
    total: int | None = Field(description="null when paging by cursor")
    total_pages: int | None
    next_cursor: str | None


class OrderPage(Out):
    orders: list[ListItem]
    pagination: Pagination
    counts_by_status: dict[str, int] | None = Field(
        None, description="with counts=true: the orders matching every filter but status, by "
                          "status (statuses without orders left out)")


class SearchResults(Out):
    orders: list[ListItem]


class StatsScope(Out):
    seller_id: str | None = None
    platform: bool | None = None


class PaymentMethodStats(Out):
    orders: int
    share: float | None
    success_rate: float | None


class DayStats(Out):
    day: Day
    created: int  # orders created that day (UTC)
    completed: int  # of them, completed by now
    cancelled: int  # of them, cancelled by now
    time_to_ship_seconds: float | None  # mean, creation to shipping, of those shipped


class Stats(Out):
    scope: StatsScope
    from_: Timestamp | None = Field(alias="from")
    to: Timestamp | None
    counts_by_status: dict[str, int]
    orders_created: int
    creation_rate_per_day: float
    completion_rate: float | None
    cancellation_rate: float | None
    cancellations_by_status: dict[str, int]
    average_order_value: dict[str, Money | None]
    time_to_fulfilment_seconds: dict[str, float | None]
    payment_methods: dict[str, PaymentMethodStats]
    orders_per_day: list[DayStats]


class StatusAge(Out):
    status: str
    count: int
    oldest_since: Timestamp | None
    by_age: dict[str, int] = Field(
        description="underAnHour, underADay, underThreeDays, older: since the last change")


class AgeingView(Out):
    at: Timestamp | None
    statuses: list[StatusAge]


class StatsView(Out):
    stats: Stats


# ---- reference data, alerts, notifications, health -----------------------------------------


class User(Out):
    id: str
    name: str
    email: str
    store_name: str | None
    wallet_address: str | None = None


class MethodAvailability(Out):
    available: bool
    reason: str | None = None  # why not, or how (the development stand-in)


class ChainConfig(Out):
    chain_id: int | None
    confirmations: int
    tokens: dict[str, str]  # currency: its ERC-20 token's address
    escrow_contract: str | None
    receiving_address: str | None  # crypto payments are transfers to it


class PaymentsConfig(Out):
    methods: dict[PaymentMethod, MethodAvailability]
    stripe_publishable_key: str
    chain: ChainConfig | None  # None: no chain configured


class UserSaved(Out):
    success: bool
    user: User


class Listing(Out):
    id: str
    seller_id: str
    title: str
    description: str | None
    unit_price: Money | None
    currency: str
    inventory: int
    active: bool
    updated_at: Timestamp | None


class ListingSaved(Out):
    success: bool
    listing: Listing


class ListingView(Out):
    listing: Listing


class PageNumber(Out):
    page: int
    limit: int


class Alert(Out):
    id: str
    order_id: str
    order_number: str
    kind: str
    order_status: str
    message: str
    raised_at: Timestamp | None


class Alerts(Out):
    alerts: list[Alert]
    pagination: PageNumber


class Notification(Out):
    id: str
    type: str
    title: str
    message: str
    order_id: str | None
    data: dict[str, Any]
    read: bool
    created_at: Timestamp | None


class Notifications(Out):
    notifications: list[Notification]
    unread_count: int
    pagination: PageNumber


class NotificationRead(Out):
    success: bool
    unread_count: int


Availability = Literal["ok", "unavailable"]


class Health(Out):
    status: Literal["ok", "degraded"]
    database: Availability
    temporal: Availability
