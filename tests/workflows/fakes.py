"""Hand-written stand-ins for the order workflow's activities, under their real names.

Each fake takes the same input dataclass as the activity it replaces (the converter decodes
by the annotation), records what it was asked in one ordered list, and answers without SQL,
a gateway or SMTP. Tests read `calls` to see what the workflow did, in order.
"""

from __future__ import annotations

from decimal import Decimal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.commands import (
    AlertCommand,
    CreatedOrder,
    CreateOrderCommand,
    EmailCommand,
    InventoryRestoreCommand,
    PaymentCheck,
    PaymentCommand,
    PaymentOperationResult,
    RefundRecord,
    RefundsCheck,
    RefundsCheckCommand,
    ShipmentRecord,
    StatusChangeRecord,
    TimelineRecord,
    VerifyPaymentCommand,
)
from domain.events import ExternalEvent
from domain.payments import Verdict


class FakeOrderActivities:
    """ProjectionActivities, PaymentActivities and EmailActivities, answered in memory.

    `rejection`: an error code create_order refuses the order with (as the real one does for
    a business refusal: non-retryable). `early_events`: webhook events the inbox held before
    the order existed, handed over by create_order. `refusal`: an error code the payment
    provider's verdict refuses the payment with; otherwise the payment is paid, or pending when
    the checkout said so. `refund_refused`: the provider refuses every refund for good.
    `settles_after`: the payment is pending for that many questions, then paid (or refused,
    with `settles_as`). `refunded_outside`: what the provider says it refunded that the
    service did not ask for.
    """

    def __init__(self, *, rejection: str | None = None,
                 early_events: list[ExternalEvent] | None = None,
                 refusal: str | None = None, refund_refused: bool = False,
                 settles_after: int | None = None, settles_as: Verdict = Verdict.PAID,
                 refunded_outside: Decimal = Decimal(0)) -> None:
        self.calls: list[tuple[str, object]] = []
        self._settles_after = settles_after
        self._settles_as = settles_as
        # What the provider says it refunded outside the service (a dashboard refund).
        self.refunded_outside = refunded_outside
        self._refund_refused = refund_refused
        self._rejection = rejection
        self._early_events = early_events or []
        self._refusal = refusal

    def activities(self) -> list:
        return [self.create_order, self.record_status_change, self.record_timeline,
                self.raise_alert, self.restore_inventory, self.verify_payment,
                self.refund_payment, self.release_escrow, self.reconcile_refunds,
                self.send_order_email, self.record_refund, self.record_shipment]

    def names(self) -> list[str]:
        """The activities asked for so far, in order."""
        return [name for name, _ in self.calls]

    def inputs(self, name: str) -> list:
        """What the activity `name` was asked, in order."""
        return [arg for called, arg in self.calls if called == name]

    def money_and_stock(self) -> list[str]:
        """The compensations asked for so far, in order."""
        owed = ("refund_payment", "release_escrow", "restore_inventory")
        return [name for name in self.names() if name in owed]

    # ---- ProjectionActivities --------------------------------------------------------------

    @activity.defn(name="create_order")
    async def create_order(self, cmd: CreateOrderCommand) -> CreatedOrder:
        self.calls.append(("create_order", cmd))
        if self._rejection is not None:
            raise ApplicationError(f"refused: {self._rejection}", type=self._rejection,
                                   non_retryable=True)
        number = f"ORD-TEST-{cmd.order_id[:8]}"
        return CreatedOrder(order_number=number, created_at=cmd.created_at,
                            early_events=self._early_events)

    @activity.defn(name="record_status_change")
    async def record_status_change(self, rec: StatusChangeRecord) -> None:
        self.calls.append(("record_status_change", rec))

    @activity.defn(name="record_timeline")
    async def record_timeline(self, rec: TimelineRecord) -> None:
        self.calls.append(("record_timeline", rec))

    @activity.defn(name="raise_alert")
    async def raise_alert(self, cmd: AlertCommand) -> None:
        self.calls.append(("raise_alert", cmd))

    @activity.defn(name="restore_inventory")
    async def restore_inventory(self, cmd: InventoryRestoreCommand) -> bool:
        self.calls.append(("restore_inventory", cmd))
        return True

    @activity.defn(name="record_shipment")
    async def record_shipment(self, rec: ShipmentRecord) -> None:
        self.calls.append(("record_shipment", rec))

    @activity.defn(name="record_refund")
    async def record_refund(self, rec: RefundRecord) -> None:
        self.calls.append(("record_refund", rec))

    # ---- PaymentActivities -----------------------------------------------------------------

    @activity.defn(name="verify_payment")
    async def verify_payment(self, cmd: VerifyPaymentCommand) -> PaymentCheck:
        self.calls.append(("verify_payment", cmd))
        if self._refusal is not None:
            return PaymentCheck(Verdict.REFUSED, self._refusal, "the provider says no")
        if self._settles_after is not None:
            asked = len(self.inputs("verify_payment"))
            if asked <= self._settles_after:
                return PaymentCheck(Verdict.PENDING)
            if self._settles_as is Verdict.REFUSED:
                return PaymentCheck(Verdict.REFUSED, "PAYMENT_NOT_CONFIRMED", "the payment failed")
            return PaymentCheck(Verdict.PAID)
        return PaymentCheck(Verdict.PAID if cmd.claimed_final else Verdict.PENDING)

    @activity.defn(name="refund_payment")
    async def refund_payment(self, cmd: PaymentCommand) -> PaymentOperationResult:
        self.calls.append(("refund_payment", cmd))
        if self._refund_refused:  # as the provider answers a refund it will never make
            raise ApplicationError("the charge was already refunded in full",
                                   type="PAYMENT_NOT_CONFIRMED", non_retryable=True)
        return _succeeded(cmd)

    @activity.defn(name="release_escrow")
    async def release_escrow(self, cmd: PaymentCommand) -> PaymentOperationResult:
        self.calls.append(("release_escrow", cmd))
        return _succeeded(cmd)

    @activity.defn(name="reconcile_refunds")
    async def reconcile_refunds(self, cmd: RefundsCheckCommand) -> RefundsCheck:
        self.calls.append(("reconcile_refunds", cmd))
        return RefundsCheck(refunded_outside=self.refunded_outside)

    # ---- EmailActivities -------------------------------------------------------------------

    @activity.defn(name="send_order_email")
    async def send_order_email(self, cmd: EmailCommand) -> int:
        self.calls.append(("send_order_email", cmd))
        return len(cmd.audience)


def _succeeded(cmd: PaymentCommand) -> PaymentOperationResult:
    return PaymentOperationResult(cmd.idempotency_key, f"fake_{cmd.idempotency_key}",
                                  "succeeded")
