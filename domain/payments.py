"""What a payment provider says about a payment, and whether that pays for an order.

Pure: the provider adapters (payments/) turn their API's answer into a `VerifiedPayment`;
`judge` decides, the same way for every method, whether the order counts as paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from domain.errors import ErrorCode


class PaymentStatus(StrEnum):
    SUCCEEDED = "succeeded"  # the money has moved
    PROCESSING = "processing"  # the provider is still settling it (a bank debit): wait
    INCOMPLETE = "incomplete"  # awaits the buyer: confirmation, authentication (3-D Secure)
    FAILED = "failed"  # declined or canceled
    UNKNOWN = "unknown"  # the provider has no such payment


@dataclass(frozen=True)
class VerifiedPayment:
    """A payment as its provider records it. `amount` is in major units (dollars, not cents);
    None, like `currency`, when the provider knows no such payment or uses a currency the
    order tables do not."""

    provider_id: str
    status: PaymentStatus
    amount: Decimal | None = None
    currency: str | None = None  # upper case, as orders write it
    payer: str | None = None  # the buyer id the provider's record names
    provider_fee: Decimal | None = None  # what the provider kept, in the same currency
    # What the payment's transaction cost its sender on chain, in the chain's own coin (ETH).
    gas_fee: Decimal | None = None

    @classmethod
    def unknown(cls, provider_id: str) -> VerifiedPayment:
        return cls(provider_id=provider_id, status=PaymentStatus.UNKNOWN)


class RefundStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"  # accepted; the provider reports the outcome later
    FAILED = "failed"  # the provider could not return the money (closed card, canceled)


@dataclass(frozen=True)
class ProviderRefund:
    """A refund as the provider records it, found by the idempotency key it was made with."""

    provider_id: str
    status: RefundStatus
    amount: Decimal  # major units
    currency: str
    idempotency_key: str


class PaymentState(StrEnum):
    """Where an order's money is, beside its lifecycle status. Every state but `pending` comes
    from the provider: its verdict, or a refund or release it confirmed."""

    PENDING = "pending"
    CONFIRMED = "confirmed"  # paid directly (card, crypto transfer)
    LOCKED = "locked"  # held by the escrow contract
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    RELEASED = "released"  # the escrow paid the seller
    FAILED = "failed"


def settled_payment_state(*, total: Decimal, refunded: Decimal, released: bool
                          ) -> PaymentState | None:
    """The state after the provider confirmed refunds adding up to `refunded` and, if
    `released`, the escrow's release; None when no money has moved back or out yet."""
    if refunded >= total:
        return PaymentState.REFUNDED
    if refunded > 0:
        return PaymentState.PARTIALLY_REFUNDED  # the rest stays with (or went to) the seller
    return PaymentState.RELEASED if released else None


class Verdict(StrEnum):
    PAID = "paid"
    PENDING = "pending"  # not final yet: the order waits in payment_pending
    REFUSED = "refused"  # never a paid order


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    code: ErrorCode | None = None  # set when refused
    message: str = ""

    @property
    def refused(self) -> bool:
        return self.verdict is Verdict.REFUSED


_NOT_CONFIRMED: dict[PaymentStatus, str] = {
    PaymentStatus.UNKNOWN: "the payment provider has no such payment",
    PaymentStatus.FAILED: "the payment failed or was canceled",
    PaymentStatus.INCOMPLETE: "the payment is not complete: the buyer has not finished paying",
}


def judge(verified: VerifiedPayment, *, buyer_id: str, total: Decimal,
          currency: str) -> Judgement:
    """Whether `verified` pays `total` in `currency` for `buyer_id`.

    The buyer is checked before the amount so that someone holding another buyer's payment
    reference learns nothing about that payment's amount.
    """
    if verified.status in _NOT_CONFIRMED:
        return _refuse(ErrorCode.PAYMENT_NOT_CONFIRMED, _NOT_CONFIRMED[verified.status])
    if not verified.payer:
        return _refuse(ErrorCode.PAYMENT_NOT_CONFIRMED, "the payment names no buyer")
    if verified.payer != buyer_id:
        return _refuse(ErrorCode.PAYMENT_NOT_CONFIRMED, "the payment was not made by this buyer")
    if verified.currency != currency:
        return _refuse(ErrorCode.AMOUNT_MISMATCH,
                       f"the payment is in {verified.currency or 'another currency'}, "
                       f"the order in {currency}")
    if verified.amount is None or verified.amount != total:
        return _refuse(ErrorCode.AMOUNT_MISMATCH,
                       f"the payment of {verified.amount} {currency} does not equal the "
                       f"order total {total} {currency}")
    if verified.status is PaymentStatus.PROCESSING:
        return Judgement(Verdict.PENDING, message="the payment provider is still processing it")
    return Judgement(Verdict.PAID)


def _refuse(code: ErrorCode, message: str) -> Judgement:
    return Judgement(Verdict.REFUSED, code, message)
