"""HTTP request models: camelCase on the wire, unknown fields refused, money exact.

Everything a client sends is validated here, at the edge, before any workflow starts.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from api import addresses
from domain import ids
from domain.commands import OrderLine, OrderRequest, PaymentInfo, ShippingAddress
from domain.money import CURRENCY_SCALE, MoneyError, check_scale, parse_amount
from domain.order import OrderStatus, PaymentMethod
from payments.chain_addresses import checksummed


def _amount(value: object) -> Decimal:
    try:
        return parse_amount(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "examples": ["200.00"],
                    "description": "exact decimal; a JSON number is accepted too"}),
]
# Control characters have no place in a name or a note, and PostgreSQL refuses NUL outright
# (an error that would surface as a retryable 503 long after the request). OneLine text refuses
# every one, line breaks too (a name ends up in email headers and CSV cells); Paragraphs allow
# tabs and line breaks. Lone surrogates (which no database can store) are refused by both.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROLS_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _refuse(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        found = pattern.search(value)
        if found:
            raise ValueError(f"{what} U+{ord(found.group()):04X} is not allowed")
        return value

    return AfterValidator(check)


OneLine = _refuse(_CONTROLS, "control character")
Paragraphs = _refuse(_CONTROLS_BUT_LINES, "control character")


def text(max_length: int, *, min_length: int = 0, lines: bool = False) -> Any:
    """A trimmed string of at most `max_length` characters, with no control characters (but
    tabs and line breaks when `lines`): the type of every free-text field."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length,
                                            max_length=max_length),
                     Paragraphs if lines else OneLine]


Id = Annotated[str, StringConstraints(pattern=ids.REFERENCE_ID_PATTERN)]
PaymentRef = Annotated[str, StringConstraints(pattern=ids.PAYMENT_REFERENCE_PATTERN)]
# A chain's hashes and escrow ids are hex, the same in any case: lower-cased at the edge, so one
# transaction or escrow is one reference (and one order's workflow), however a client spells it.
TxHash = Annotated[str, StringConstraints(pattern=ids.TRANSACTION_HASH_PATTERN),
                   AfterValidator(str.lower)]
EscrowRef = Annotated[PaymentRef, AfterValidator(
    lambda ref: ref.lower() if re.fullmatch(ids.TRANSACTION_HASH_PATTERN, ref) else ref)]
TrackingNumber = Annotated[str, StringConstraints(pattern=ids.TRACKING_NUMBER_PATTERN)]
Text = text(200, min_length=1)
LongText = text(2000, lines=True)
Currency = Literal[tuple(CURRENCY_SCALE)]  # type: ignore[valid-type]
Quantity = Annotated[int, Field(strict=True, ge=1, le=10_000)]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid",
                              str_max_length=10_000)


class PaymentResultIn(ApiModel):
    success: bool
    payment_method: PaymentMethod
    status: Literal["confirmed", "pending"] = "confirmed"
    transaction_hash: TxHash | None = None
    escrow_id: EscrowRef | None = None
    payment_intent_id: PaymentRef | None = None
    gas_used: Amount | None = None
    processing_fee: Amount | None = None

    @model_validator(mode="after")
    def _reference_for_method(self) -> PaymentResultIn:
        required = {
            PaymentMethod.CRYPTO: "transaction_hash",
            PaymentMethod.FIAT: "payment_intent_id",
            PaymentMethod.ESCROW: "escrow_id",
        }[self.payment_method]
        if getattr(self, required) is None:
            raise ValueError(f"{to_camel(required)} is required for {self.payment_method} payments")
        for fee in (self.gas_used, self.processing_fee):
            if fee is not None:
                check_scale(fee, "BTC")  # fees are stored with at most 8 places
        return self

    @property
    def reference(self) -> str:
        return {
            PaymentMethod.CRYPTO: self.transaction_hash,
            PaymentMethod.FIAT: self.payment_intent_id,
            PaymentMethod.ESCROW: self.escrow_id,
        }[self.payment_method] or ""


class ShippingAddressIn(ApiModel):
    name: Text
    street: Text
    city: text(100, min_length=1)  # type: ignore[valid-type]
    state: text(100) | None = None  # type: ignore[valid-type]
    # Before zipCode, whose format depends on it.
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2 code"
    )
    zip_code: Annotated[str, StringConstraints(
        strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{1,11}$")] = Field(
        description="in the country's format, where it has one (e.g. 12345 or 12345-6789 in "
                    "the US, SW1A 1AA in GB)")

    @field_validator("country")
    @classmethod
    def _assigned_country(cls, code: str) -> str:
        if not addresses.is_country(code):
            raise ValueError(f"{code} is not an ISO 3166-1 country code")
        return code

    @field_validator("zip_code")
    @classmethod
    def _postal_code_of_country(cls, code: str, info: ValidationInfo) -> str:
        country = info.data.get("country")
        if country and not addresses.is_postal_code(country, code):
            raise ValueError(f"{code!r} is not a postal code of {country}")
        return code


MAX_ITEMS = 50


class CheckoutItemIn(ApiModel):
    listing_id: Id
    quantity: Quantity


class CheckoutDataIn(ApiModel):
    buyer_id: Id
    seller_id: Id
    # One listing (listingId + quantity), or several (items): one form or the other.
    listing_id: Id | None = None
    quantity: Quantity | None = None
    items: list[CheckoutItemIn] | None = Field(
        None, min_length=1, max_length=MAX_ITEMS,
        description="the listings ordered, all from the seller; instead of listingId and "
                    "quantity")
    total_amount: Amount
    currency: Currency
    shipping_address: ShippingAddressIn
    shipping_method: Literal["standard", "express"] = "standard"
    notes: LongText | None = None
    special_instructions: LongText | None = None

    @model_validator(mode="after")
    def _one_form_of_items(self) -> CheckoutDataIn:
        single = (self.listing_id, self.quantity)
        if self.items is None:
            if None in single:
                raise ValueError("give listingId and quantity, or items")
        elif single != (None, None):
            raise ValueError("give listingId and quantity, or items, not both")
        else:
            listings = [item.listing_id for item in self.items]
            twice = sorted({x for x in listings if listings.count(x) > 1})
            if twice:
                raise ValueError(f"items: {', '.join(twice)} appears more than once; "
                                 "give each listing once with its whole quantity")
        return self

    @property
    def lines(self) -> list[OrderLine]:
        if self.items is None:
            return [OrderLine(str(self.listing_id), int(self.quantity or 0))]
        return [OrderLine(item.listing_id, item.quantity) for item in self.items]

    @model_validator(mode="after")
    def _amount_fits_currency(self) -> CheckoutDataIn:
        if self.total_amount <= 0:
            raise ValueError("totalAmount must be greater than zero")
        try:
            check_scale(self.total_amount, self.currency)
        except MoneyError as exc:
            raise ValueError(f"totalAmount: {exc}") from exc
        return self


class CreateOrderIn(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "paymentResult": {
            "success": True, "paymentMethod": "escrow", "escrowId": "escrow_456",
            "transactionHash": "0x" + "8f3b6c1d2e4a5b6c" * 4,
        },
        "checkoutData": {
            "buyerId": "buyer123", "sellerId": "seller456", "listingId": "listing789",
            "quantity": 2, "totalAmount": "200", "currency": "USDC",
            "shippingAddress": {"name": "John Doe", "street": "123 Main St",
                                "city": "New York", "state": "NY", "zipCode": "10001",
                                "country": "US"},
        },
    }]})

    payment_result: PaymentResultIn
    checkout_data: CheckoutDataIn

    def to_domain(self) -> OrderRequest:
        pay, checkout = self.payment_result, self.checkout_data
        addr, lines = checkout.shipping_address, checkout.lines
        return OrderRequest(
            buyer_id=checkout.buyer_id,
            seller_id=checkout.seller_id,
            listing_id=lines[0].listing_id,
            quantity=lines[0].quantity,
            # One line is the order's first line alone, as orders of one listing always were.
            items=lines if len(lines) > 1 else [],
            total_amount=checkout.total_amount,
            currency=checkout.currency,
            shipping_address=ShippingAddress(
                name=addr.name, street=addr.street, city=addr.city, zip_code=addr.zip_code,
                country=addr.country, state=addr.state,
            ),
            payment=PaymentInfo(
                method=pay.payment_method,
                reference=pay.reference,
                final=pay.status == "confirmed",
                transaction_hash=pay.transaction_hash,
                payment_intent_id=pay.payment_intent_id,
                escrow_id=pay.escrow_id,
                gas_fee=pay.gas_used,
                processing_fee=pay.processing_fee,
            ),
            shipping_method=checkout.shipping_method,
            notes=checkout.notes,
            special_instructions=checkout.special_instructions,
        )


class StatusChangeIn(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "shipped", "trackingNumber": "1Z999AA1234567890", "carrier": "UPS",
        "notes": "Package shipped via UPS", "estimatedDelivery": "2026-12-15",
    }]})

    status: OrderStatus
    tracking_number: TrackingNumber | None = None
    carrier: text(50, min_length=1) | None = None  # type: ignore[valid-type]
    notes: LongText | None = None
    estimated_delivery: date | None = None
    reason: text(100) | None = None  # type: ignore[valid-type]


# An EVM wallet: the buyer pays from it, the seller is paid to it (crypto and escrow orders).
WalletAddress = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$"),
                          AfterValidator(checksummed)]


class UserIn(ApiModel):
    name: Text
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320,
                                            pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), OneLine]
    store_name: Text | None = None
    # EIP-55 checksummed; all-lowercase hex is taken and checksummed. PUT replaces the user,
    # so leaving it out clears it.
    wallet_address: WalletAddress | None = None


class ListingIn(ApiModel):
    seller_id: Id
    title: text(255, min_length=1)  # type: ignore[valid-type]
    description: LongText | None = None
    unit_price: Amount
    currency: Currency
    inventory: Annotated[int, Field(strict=True, ge=0, le=1_000_000_000)]
    active: bool = True

    @model_validator(mode="after")
    def _price_fits_currency(self) -> ListingIn:
        if self.unit_price <= 0:
            raise ValueError("unitPrice must be greater than zero")
        try:
            check_scale(self.unit_price, self.currency)
        except MoneyError as exc:
            raise ValueError(f"unitPrice: {exc}") from exc
        return self


CancelReason = Literal["buyer_request", "seller_out_of_stock", "payment_timeout",
                       "fraud_suspected", "other"]


class CancelIn(ApiModel):
    reason_code: CancelReason
    note: LongText | None = None


class DisputeIn(ApiModel):
    reason: text(1000, min_length=1, lines=True)  # type: ignore[valid-type]
    evidence: list[text(500, min_length=1)] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=10,
        description="descriptions of evidence or links to it (at most 10)")


class ItemUnitsIn(ApiModel):
    """Units of one of the order's items (a parcel's content, a refund's)."""

    item_id: Annotated[str, StringConstraints(pattern=ids.ORDER_ID_PATTERN)] = Field(
        description="an item's id, as the order's details list it")
    quantity: Quantity


class ShipmentIn(ApiModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "trackingNumber": "1Z999AA1234567890", "carrier": "UPS",
        "items": [{"itemId": "5d0c1a52-0f7e-5a53-9d2b-3f1f0e7c9a41", "quantity": 1}],
        "estimatedDelivery": "2026-12-15"}]})

    tracking_number: TrackingNumber
    carrier: text(50, min_length=1) | None = None  # type: ignore[valid-type]
    items: list[ItemUnitsIn] | None = Field(
        None, min_length=1, max_length=MAX_ITEMS,
        description="what goes in the parcel; without it, everything not shipped yet")
    estimated_delivery: date | None = None
    notes: LongText | None = None

    @model_validator(mode="after")
    def _each_item_once(self) -> ShipmentIn:
        if self.items is not None:
            ids_ = [item.item_id for item in self.items]
            if len(set(ids_)) != len(ids_):
                raise ValueError("items: give each item once with its whole quantity")
        return self


class RefundIn(ApiModel):
    model_config = ConfigDict(json_schema_extra={
        "anyOf": [{"required": ["amount"]}, {"required": ["items"]}],
        "examples": [
            {"items": [{"itemId": "5d0c1a52-0f7e-5a53-9d2b-3f1f0e7c9a41", "quantity": 1}],
             "reason": "arrived broken"},
            {"amount": "15.00", "reason": "goodwill credit for the late delivery"},
        ]})

    amount: Amount | None = Field(
        None, description="what to give back; without it, the price of the items")
    items: list[ItemUnitsIn] | None = Field(
        None, min_length=1, max_length=MAX_ITEMS,
        description="the units refunded; restocked if they never shipped")
    reason: text(500, min_length=1)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _amount_or_items(self) -> RefundIn:
        if self.amount is None and self.items is None:
            raise ValueError("give an amount, items, or both")
        if self.amount is not None and self.amount <= 0:
            raise ValueError("amount must be greater than zero")
        if self.items is not None:
            ids_ = [item.item_id for item in self.items]
            if len(set(ids_)) != len(ids_):
                raise ValueError("items: give each item once with its whole quantity")
        return self


class ResolveDisputeIn(ApiModel):
    outcome: Literal["release", "refund", "cancel"]
    note: text(2000, min_length=1, lines=True)  # type: ignore[valid-type]
    amount: Amount | None = Field(None, description="a partial refund; only with outcome refund")

    @model_validator(mode="after")
    def _amount_only_for_refunds(self) -> ResolveDisputeIn:
        if self.amount is not None and self.outcome != "refund":
            raise ValueError("amount is only for outcome refund")
        return self
