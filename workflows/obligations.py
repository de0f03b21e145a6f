"""What an order owes after its changes: refunds, releases, stock and emails.

The workflow decides what is owed as it applies a change; the debts are paid from its main loop,
one at a time and each retried until it succeeds, so a change never waits on a payment provider
or an SMTP server, and nothing owed is dropped across continue-as-new. Runs inside the workflow
sandbox: no I/O here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.commands import (
        EmailCommand,
        OrderChange,
        OrderPolicy,
        OrderSnapshot,
        Owed,
        OwedKind,
    )
    from domain.compensation import compensations
    from domain.order import OrderStatus
    from domain.refunds import REFUND_EMAIL, Refund
    from domain.statuses import ON_CREATION, Party, info
    from workflows.order_effects import OrderEffects


class Obligations:
    def __init__(self, policy: OrderPolicy, owed: list[Owed] | None = None,
                 emails: list[EmailCommand] | None = None) -> None:
        self._policy = policy
        self.owed: list[Owed] = list(owed or [])
        self.emails: list[EmailCommand] = list(emails or [])

    @property
    def pending(self) -> bool:
        return bool(self.owed) or bool(self.emails)

    def on_creation(self, order: OrderSnapshot) -> None:
        for notice in ON_CREATION:
            self._email(order, notice.kind, (notice.party,))

    def on_change(self, before: OrderStatus, order: OrderSnapshot, change: OrderChange, *,
                  shipped: bool, settle_fully: bool, owed_to_buyer: Decimal) -> None:
        """Owe what moving from `before` to the order's status costs, and its email."""
        self.owed += compensations(
            before, order.status, method=order.payment_method, shipped=shipped,
            settled_externally=change.settled_externally, refund_amount=change.refund_amount,
            total=order.total_amount, settle_fully=settle_fully, owed_to_buyer=owed_to_buyer,
            reason=change.reason or order.status.value,
        )
        email = info(order.status).email
        if email is not None:
            self._email(order, email.template, email.audience, reason=change.reason)

    def on_refund(self, order: OrderSnapshot, refund: Refund, *, shipped: bool) -> None:
        """A partial refund: its money now (but an escrow's at settlement), the stock of its
        lines if they never left, and an email to both parties."""
        if not refund.at_settlement:
            self.owed.append(Owed(OwedKind.REFUND, refund.reason, refund.amount,
                                  operation_id=refund.refund_id))
        if refund.lines and not shipped:
            self.owed.append(Owed(OwedKind.RESTOCK, refund.reason, operation_id=refund.refund_id,
                                  lines=list(refund.lines)))
        self._email(order, REFUND_EMAIL, (Party.BUYER, Party.SELLER),
                    reason=refund.reason, note=f"{refund.amount} {order.currency}",
                    occurrence=f"refund:{refund.refund_id}")

    def on_alert(self, order: OrderSnapshot, kind: str, note: str, occurrence: str) -> None:
        """The seller's email for an alert the seller must act on."""
        self._email(order, kind, (Party.SELLER,), note=note, occurrence=occurrence)

    async def settle(self, effects: OrderEffects, order: OrderSnapshot | None,
                     refused: Callable[[Owed, str], Awaitable[None]]) -> None:
        """Pay what is owed in order, then send the emails owed. A debt the provider refuses
        for good (it answers the same on every retry) is handed to `refused`, so people can
        settle it, instead of failing the order."""
        while self.owed:
            try:
                await effects.settle(self.owed[0], order)
            except ActivityError as err:
                cause = err.cause
                if not (isinstance(cause, ApplicationError) and cause.non_retryable):
                    raise
                await refused(self.owed[0], cause.message)
            self.owed.pop(0)
        while self.emails:
            await effects.send_email(self.emails[0])
            self.emails.pop(0)

    def _email(self, order: OrderSnapshot, template: str, audience: tuple[Party, ...], *,
               reason: str | None = None, note: str | None = None,
               occurrence: str | None = None) -> None:
        # Orders started without SMTP configured never send email (their policy says so).
        if not self._policy.send_email:
            return
        self.emails.append(EmailCommand(
            order_id=order.order_id, order_number=order.order_number, event=template,
            occurrence=occurrence or str(order.sequence), buyer_id=order.buyer_id,
            seller_id=order.seller_id, audience=[party.value for party in audience],
            tracking_number=order.tracking_number, carrier=order.carrier, reason=reason,
            note=note))
