"""Stable error codes shared by the workflow, the activities and the API."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_TRANSITION = "INVALID_TRANSITION"
    INSUFFICIENT_INVENTORY = "INSUFFICIENT_INVENTORY"
    LISTING_UNAVAILABLE = "LISTING_UNAVAILABLE"
    PAYMENT_NOT_CONFIRMED = "PAYMENT_NOT_CONFIRMED"
    INVALID_SHIPPING_ADDRESS = "INVALID_SHIPPING_ADDRESS"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    REFUND_EXCEEDS_PAYMENT = "REFUND_EXCEEDS_PAYMENT"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHORIZED = "UNAUTHORIZED"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    RATE_LIMITED = "RATE_LIMITED"
    WEBHOOK_SIGNATURE_INVALID = "WEBHOOK_SIGNATURE_INVALID"
    WEBHOOK_TIMESTAMP_OUT_OF_RANGE = "WEBHOOK_TIMESTAMP_OUT_OF_RANGE"
    DATABASE_ERROR = "DATABASE_ERROR"
    TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


# Codes that reject an order at creation, after the buyer has paid: each triggers a refund.
CREATION_REJECTIONS = frozenset(
    {ErrorCode.LISTING_UNAVAILABLE, ErrorCode.INSUFFICIENT_INVENTORY, ErrorCode.AMOUNT_MISMATCH}
)


class DomainError(Exception):
    """A business rule said no. `code` is stable; `message` is for people."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        current_status: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.current_status = current_status
        self.field = field
