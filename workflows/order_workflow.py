"""OrderWorkflow: one long-running workflow per order, the source of truth for its status."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import email_rules
    from domain.commands import (
        CarriedState,
        CreationRequest,
        EmailCommand,
        MoneyDue,
        OrderOutcome,
        OrderSnapshot,
        OrderWorkflowInput,
        StatusChangeRequest,
    )
    from domain.compensation import compensations
    from domain.errors import CREATION_REJECTIONS, DomainError, ErrorCode
    from domain.events import ExternalEvent, decide, describe_event
    from domain.order import (
        FINAL_STATUSES,
        ActorKind,
        OrderStatus,
        check_transition,
    )
    from domain.timers import ALERT_ACTIONS, Deadline, TimerAction, next_deadline
    from workflows import shared
    from workflows.order_effects import OrderEffects

S = OrderStatus
# Workflows started before timers, events and compensations existed replay without them.
EVENTS_AND_TIME = "events-and-time"
# Runs started before this write the read model with (remote) activities to their end.
LOCAL_WRITES = "local-read-model-writes"
_SHIPPING = frozenset({S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY})
_TIMER_OUTCOMES = {
    TimerAction.PAYMENT_TIMEOUT: S.FAILED,
    TimerAction.SELLER_CONFIRMATION_TIMEOUT: S.CANCELLED,
    TimerAction.AUTO_COMPLETE: S.COMPLETED,
}


@workflow.defn
class OrderWorkflow:
    """One order, from payment to a final status, with its deadlines and its money.

    Updates:
      await_creation(CreationRequest) -> OrderSnapshot: sent with update-with-start; answers once
        the order is written, or fails with the rejection code (the payment is then refunded).
      change_status(StatusChangeRequest) -> OrderSnapshot: a status change by a person; its
        validator enforces the transition table, the actor rules and required fields.
    Signals:
      external_event(ExternalEvent): a carrier or escrow-contract event, applied once per id.
    Queries:
      snapshot() -> OrderSnapshot | None: the live state.
    """

    @workflow.init
    def __init__(self, input: OrderWorkflowInput) -> None:
        self._input = input
        self._effects = OrderEffects(input)
        self._order: OrderSnapshot | None = None
        self._rejection: tuple[str, str] | None = None  # (code, message)
        self._current = True  # False while replaying a run from before EVENTS_AND_TIME
        self._refund_reason: str | None = None  # such a run's only compensation
        # Updates, signals and timers all change the order; the lock applies them in turn.
        self._lock = asyncio.Lock()
        self._version = 0  # bumped by every change, so the main loop re-plans its deadline
        self._applied: set[str] = set()
        self._alerts_raised = 0
        self._stuck_since = None
        self._shipped_at = None
        self._owed: list[MoneyDue] = []
        self._emails: list[EmailCommand] = []  # owed like money, sent by the main loop
        self._early: list[ExternalEvent] = []
        if input.carried is not None:
            carried = input.carried
            self._order = carried.order
            self._applied = set(carried.applied_events)
            self._alerts_raised = carried.alerts_raised
            self._stuck_since = carried.stuck_since
            self._shipped_at = carried.shipped_at
            self._owed = list(carried.owed)
            self._emails = list(carried.emails)

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderOutcome:
        self._current = workflow.patched(EVENTS_AND_TIME)
        self._effects.local_writes = workflow.patched(LOCAL_WRITES)
        if input.carried is None:
            rejected = await self._create()
            if rejected is not None:
                return rejected
        if not self._current:
            return await self._run_before_events_and_time()
        for event in self._early:
            async with self._lock:
                await self._on_event(event)
        while True:
            await self._settle()
            if self._done():
                return OrderOutcome(order_id=input.order_id, status=self._status)
            if self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(replace(input, carried=self._carry()))
            await self._wait_for_change_or_deadline()

    @property
    def _status(self) -> OrderStatus | None:
        return self._order.status if self._order else None

    def _done(self) -> bool:
        return (self._status in FINAL_STATUSES and not self._owed and not self._emails
                and workflow.all_handlers_finished())

    # ---- creation ------------------------------------------------------------------------------

    async def _create(self) -> OrderOutcome | None:
        try:
            self._order, self._early = await self._effects.create_order(workflow.now())
        except (ActivityError, ApplicationError) as err:
            # A remote activity's failure arrives wrapped in an ActivityError, a local one's
            # as the activity raised it.
            cause = err.cause if isinstance(err, ActivityError) else err
            if isinstance(cause, ApplicationError) and cause.type in CREATION_REJECTIONS:
                return await self._reject(cause)
            raise
        self._publish(first=True)
        for event, audience in email_rules.ON_CREATION:
            self._email(event, audience)
        return None

    @workflow.update
    async def await_creation(self, request: CreationRequest) -> OrderSnapshot:
        await workflow.wait_condition(
            lambda: self._order is not None or self._rejection is not None
        )
        if self._rejection is not None:
            code, message = self._rejection
            raise ApplicationError(message, {"refund": "initiated"}, type=code, non_retryable=True)
        assert self._order is not None
        return self._order

    @await_creation.validator
    def _validate_creation(self, request: CreationRequest) -> None:
        if request.fingerprint != self._input.fingerprint:
            raise ApplicationError(
                "this payment reference was already used for a different order",
                type=ErrorCode.IDEMPOTENCY_CONFLICT.value,
                non_retryable=True,
            )

    async def _reject(self, cause: ApplicationError) -> OrderOutcome:
        """The order cannot be made after the buyer paid: answer the caller, then refund."""
        self._rejection = (cause.type or ErrorCode.INTERNAL_ERROR.value, cause.message)
        workflow.upsert_search_attributes([shared.ORDER_STATUS.value_set("rejected")])
        workflow.set_current_details(f"rejected ({cause.type}); refunding the payment")
        await self._effects.refund(MoneyDue("refund", f"order rejected: {cause.type}"), None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return OrderOutcome(
            order_id=self._input.order_id,
            status=None,
            rejection_code=cause.type,
            rejection_message=cause.message,
        )

    # ---- status changes by people ------------------------------------------------------------

    @workflow.update
    async def change_status(self, request: StatusChangeRequest) -> OrderSnapshot:
        async with self._lock:
            # Checked again under the lock: an update validated alongside this one may have
            # moved the order since.
            self._check(request)
            meta = {"evidence": "\n".join(request.evidence)} if request.evidence else {}
            if request.refund_amount is not None:
                meta["refundAmount"] = format(request.refund_amount, "f")
            return await self._apply(
                request.status, request.actor_kind, request.actor_id, reason=request.reason,
                notes=request.notes, tracking_number=request.tracking_number,
                carrier=request.carrier, estimated_delivery=request.estimated_delivery,
                refund_amount=request.refund_amount, metadata=meta,
            )

    @change_status.validator
    def _validate_change(self, request: StatusChangeRequest) -> None:
        self._check(request)

    def _check(self, request: StatusChangeRequest) -> None:
        order = self._order
        if order is None:
            raise ApplicationError(
                "the order is still being created", {"currentStatus": None},
                type=ErrorCode.INVALID_TRANSITION.value, non_retryable=True,
            )
        try:
            check_transition(
                request.actor_kind,
                order.status,
                request.status,
                tracking_number=request.tracking_number,
                delivered_at=order.delivered_at,
                now=workflow.now(),
                dispute_window=self._input.policy.dispute_window,
            )
            if request.refund_amount is not None and not (
                0 < request.refund_amount <= order.total_amount
            ):
                raise DomainError(ErrorCode.VALIDATION_ERROR,
                                  "a refund must be more than zero and at most the order total",
                                  field="amount")
        except DomainError as err:
            raise ApplicationError(
                err.message,
                {"currentStatus": order.status.value, "field": err.field},
                type=err.code.value,
                non_retryable=True,
            ) from None

    # ---- events from carriers and the escrow contract ----------------------------------------

    @workflow.signal
    async def external_event(self, event: ExternalEvent) -> None:
        await workflow.wait_condition(
            lambda: self._order is not None or self._rejection is not None
        )
        if self._order is None:
            return  # the order was never made; the inbox keeps the event
        async with self._lock:
            await self._on_event(event)

    async def _on_event(self, event: ExternalEvent) -> None:
        # Providers deliver at least once, and the inbox hands early events over again on
        # retry: each event id is applied once, across continue-as-new too.
        if event.dedupe_key in self._applied:
            return
        self._applied.add(event.dedupe_key)
        self._version += 1  # wakes the main loop, which also watches the history's length
        assert self._order is not None
        decision = decide(self._order.status, event)
        meta = {k: str(v) for k, v in (
            ("eventId", event.event_id), ("carrier", event.carrier),
            ("trackingNumber", event.tracking_number), ("location", event.location),
            ("transactionHash", event.transaction_hash), ("disputeId", event.dispute_id),
            ("outcome", event.outcome)) if v}
        if decision.target is not None:
            await self._apply(
                decision.target, ActorKind.SYSTEM, f"{event.source.value}-webhook",
                reason=event.kind, tracking_number=event.tracking_number, carrier=event.carrier,
                estimated_delivery=event.estimated_delivery, metadata=meta,
                settled_externally=decision.settled_externally, inbox_event=event,
            )
        else:
            # Late, repeated or out of order: it goes on the timeline and changes nothing.
            await self._effects.record_timeline(self._order, event, describe_event(event), meta)
        if decision.alert:
            await self._alert(decision.alert, f"carrier reported {event.kind} for "
                              f"{self._order.order_number}", notify_buyer=True)

    # ---- time ----------------------------------------------------------------------------------

    def _deadline(self) -> Deadline | None:
        order = self._order
        assert order is not None
        return next_deadline(order.status, status_since=order.status_updated_at,
                             shipped_at=self._shipped_at, policy=self._input.policy,
                             alerts_raised=self._alerts_raised)

    async def _wait_for_change_or_deadline(self) -> None:
        deadline = self._deadline()
        seen = self._version

        def changed() -> bool:
            return (self._version != seen or bool(self._owed) or bool(self._emails)
                    or self._done())

        if deadline is None:
            await workflow.wait_condition(changed)
            return
        remaining = deadline.at - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(changed, timeout=remaining,
                                              timeout_summary=deadline.action.value)
                return
            except TimeoutError:
                pass
        async with self._lock:
            if self._deadline() == deadline:  # nothing moved the order while we took the lock
                await self._on_deadline(deadline)

    async def _on_deadline(self, deadline: Deadline) -> None:
        order = self._order
        assert order is not None
        if deadline.action in ALERT_ACTIONS:
            if deadline.action is not TimerAction.DISPUTE_UNRESOLVED and self._stuck_since is None:
                self._stuck_since = workflow.now()
                workflow.upsert_search_attributes([shared.STUCK_SINCE.value_set(workflow.now())])
            await self._alert(deadline.action.value,
                              f"{order.order_number} has been {order.status.value} since "
                              f"{order.status_updated_at:%Y-%m-%d %H:%M} UTC",
                              notify_seller=deadline.action is not TimerAction.DISPUTE_UNRESOLVED)
            return
        await self._apply(_TIMER_OUTCOMES[deadline.action], ActorKind.SYSTEM, "timer",
                          reason=deadline.action.value)

    async def _alert(self, kind: str, message: str, *, notify_seller: bool = True,
                     notify_buyer: bool = False) -> None:
        order = self._order
        assert order is not None
        self._alerts_raised += 1
        self._version += 1
        notify = [order.seller_id] if notify_seller else []
        if notify_buyer:
            notify.append(order.buyer_id)
        occurrence = f"{order.sequence}:{self._alerts_raised}"
        await self._effects.raise_alert(order, kind, message, notify, occurrence=occurrence)
        if kind in email_rules.ON_ALERT:
            self._email(kind, email_rules.ON_ALERT[kind], note=message, occurrence=occurrence)

    # ---- the one path every change takes ----------------------------------------------------

    async def _apply(self, target: OrderStatus, actor: ActorKind, actor_id: str, *,
                     reason: str | None, notes: str | None = None,
                     tracking_number: str | None = None, carrier: str | None = None,
                     estimated_delivery=None, metadata: dict[str, str] | None = None,
                     refund_amount=None, settled_externally: bool = False,
                     inbox_event: ExternalEvent | None = None) -> OrderSnapshot:
        """Move the order: state, read model, search attributes and what it now owes."""
        order = self._order
        assert order is not None
        now = workflow.now()
        changed = replace(
            order,
            status=target,
            previous_status=order.status,
            status_updated_at=now,
            sequence=order.sequence + 1,
            tracking_number=tracking_number or order.tracking_number,
            carrier=carrier or order.carrier,
            estimated_delivery=estimated_delivery or order.estimated_delivery,
            delivered_at=now if target is S.DELIVERED else order.delivered_at,
        )
        self._order = changed
        self._version += 1
        if not (order.status in _SHIPPING and target in _SHIPPING):
            self._alerts_raised = 0  # a new status starts a new alert clock
        if target is S.SHIPPED:
            self._shipped_at = now
        if self._stuck_since is not None:
            self._stuck_since = None
            workflow.upsert_search_attributes([shared.STUCK_SINCE.value_unset()])
        await self._effects.record_change(order, changed, actor, actor_id, reason=reason,
                                          notes=notes, metadata=metadata or {},
                                          inbox_event=inbox_event)
        self._publish()
        if self._current:
            self._owed += compensations(
                order.status, target, method=order.payment_method,
                shipped=self._shipped_at is not None, settled_externally=settled_externally,
                refund_amount=refund_amount, reason=reason or target.value,
            )
            if target in email_rules.ON_STATUS:
                event, audience = email_rules.ON_STATUS[target]
                self._email(event, audience, reason=reason)
        elif target in (S.CANCELLED, S.REFUNDED) and order.status is not S.PAYMENT_PENDING:
            self._refund_reason = reason or target.value
        return changed

    def _email(self, event: str, audience: tuple[str, ...], *, reason: str | None = None,
               note: str | None = None, occurrence: str | None = None) -> None:
        """Owe an email, if the order was started with email on (its policy says so)."""
        order = self._order
        if not self._input.policy.send_email or order is None:
            return
        self._emails.append(EmailCommand(
            order_id=order.order_id, order_number=order.order_number, event=event,
            occurrence=occurrence or str(order.sequence), buyer_id=order.buyer_id,
            seller_id=order.seller_id, audience=list(audience),
            tracking_number=order.tracking_number, carrier=order.carrier, reason=reason,
            note=note))

    async def _settle(self) -> None:
        """Pay what the order owes, one operation at a time, each retried until it succeeds;
        then send the emails it owes."""
        while self._owed:
            await self._effects.settle(self._owed[0], self._order)
            self._owed.pop(0)
        while self._emails:
            await self._effects.send_email(self._emails[0])
            self._emails.pop(0)

    # ---- queries, continue-as-new, search attributes ----------------------------------------

    @workflow.query
    def snapshot(self) -> OrderSnapshot | None:
        return self._order

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (info.is_continue_as_new_suggested()
                or info.get_current_history_length() >= self._input.policy.max_history_events)

    def _carry(self) -> CarriedState:
        assert self._order is not None
        return CarriedState(order=self._order, applied_events=sorted(self._applied),
                            alerts_raised=self._alerts_raised, stuck_since=self._stuck_since,
                            shipped_at=self._shipped_at, owed=list(self._owed),
                            emails=list(self._emails))

    async def _run_before_events_and_time(self) -> OrderOutcome:
        """The lifecycle of runs started before timers and events: updates only."""
        await workflow.wait_condition(
            lambda: self._status in FINAL_STATUSES and workflow.all_handlers_finished()
        )
        if self._refund_reason is not None:
            await self._effects.refund(MoneyDue("refund", self._refund_reason),
                                       self._input.order_id)
        return OrderOutcome(order_id=self._input.order_id, status=self._status)

    def _publish(self, *, first: bool = False) -> None:
        """Search attributes and the one-line summary operators see in the Temporal UI."""
        order = self._order
        assert order is not None
        updates = [shared.ORDER_STATUS.value_set(order.status.value)]
        if first:
            updates += [
                shared.ORDER_NUMBER.value_set(order.order_number),
                shared.BUYER_ID.value_set(order.buyer_id),
                shared.SELLER_ID.value_set(order.seller_id),
                shared.PAYMENT_METHOD.value_set(order.payment_method.value),
                # A Double is fine for filtering in the UI; money itself stays Decimal.
                shared.ORDER_TOTAL.value_set(float(order.total_amount)),
            ]
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(
            f"{order.order_number} · {order.status.value} · {order.total_amount} {order.currency}"
        )
