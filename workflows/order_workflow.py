"""OrderWorkflow: one long-running workflow per order, the source of truth for its status."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import NoReturn, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.commands import (
        CarriedState,
        CreationRequest,
        OrderChange,
        OrderOutcome,
        OrderSnapshot,
        OrderWorkflowInput,
        Owed,
        OwedKind,
        PaymentCheck,
        StatusChangeRequest,
    )
    from domain.errors import CREATION_REJECTIONS, DomainError, ErrorCode
    from domain.events import (
        SHIPPING_STATUSES,
        EventSource,
        ExternalEvent,
        alert_text,
        decide,
        describe_event,
    )
    from domain.order import (
        FINAL_STATUSES,
        ActorKind,
        OrderStatus,
        PaymentMethod,
        can_transition,
        check_transition,
        flow_for,
    )
    from domain.parcels import (
        PARCEL_FLOW,
        Parcel,
        ParcelOutcome,
        ShipParcelRequest,
        check_parcel,
        fulfilment,
        order_steps,
        parcel_lines,
        parcel_move,
    )
    from domain.payments import Verdict
    from domain.refunds import (
        Refund,
        RefundOutcome,
        RefundRequest,
        check_refund,
        owed_at_settlement,
        refundable,
    )
    from domain.statuses import SHIPPING
    from domain.timers import (
        TIMER_RULES,
        Deadline,
        TimerAction,
        next_deadline,
        parcel_deadline,
    )
    from workflows import shared
    from workflows.obligations import Obligations
    from workflows.order_effects import OrderEffects

S = OrderStatus
T = TypeVar("T")
# Patches from before the first release, now taken by every order. Their markers stay in the
# histories of orders started before 0.1.0 (tests/histories/v3_*), so they are deprecated rather
# than removed: a deprecated patch accepts histories with and without its marker.
_RELEASED_PATCHES = ("events-and-time", "local-read-model-writes")
# From 0.2.0 an order asks its payment provider before it counts as paid (CHANGELOG.md).
VERIFY_PAYMENT = "verify-payment"
# From 0.2.0 a refund settles the order fully: stock back when it never shipped, the rest of a
# partially refunded escrow released to the seller (domain/compensation.py).
SETTLE_FULLY = "settle-fully"
# From 0.2.0 an event is applied before an update that arrived after it is validated (see
# external_event).
EVENTS_FIRST = "events-before-updates"
# From 0.2.0 an order tracks its parcels (domain/parcels.py): asked when it first ships, so
# orders shipped before keep following their carrier's events as one parcel did.
PARCELS = "parcels"


@workflow.defn
class OrderWorkflow:
    """One order, from payment to a final status, with its deadlines and its money.

    Updates:
      await_creation(CreationRequest) -> OrderSnapshot: sent with update-with-start; answers once
        the order is written, or fails with the rejection code (the payment is then refunded).
      change_status(StatusChangeRequest) -> OrderSnapshot: a status change by a person; its
        validator enforces the transition table, the actor rules and required fields.
      ship_parcel(ShipParcelRequest) -> ParcelOutcome: the seller ships some or all of what is
        left in a parcel of its own; the order is shipped once everything is.
      refund(RefundRequest) -> RefundOutcome: a partial refund by the seller or an operator,
        taken once per refund id; refunding all that is left ends the order where it may.
    Signals:
      external_event(ExternalEvent): a carrier, escrow-contract or card-processor event,
        applied once per id.
    Queries:
      snapshot() -> OrderSnapshot | None: the live state.
    """

    @workflow.init
    def __init__(self, input: OrderWorkflowInput) -> None:
        self._input = input
        self._effects = OrderEffects(input)
        self._order: OrderSnapshot | None = None
        # Why the order was never made: (code, message, whether a refund is under way).
        self._rejection: tuple[str, str, bool] | None = None
        # Updates, signals and timers all change the order; the lock applies them in turn.
        self._lock = asyncio.Lock()
        self._version = 0  # bumped by every change, so the main loop re-plans its deadline
        self._applied: set[str] = set()
        self._alerts_raised = 0
        self._payment_checks = 0  # the provider asked again about a pending payment
        self._stuck_since = None
        self._shipped_at = None
        self._obligations = Obligations(input.policy)
        self._early: list[ExternalEvent] = []
        # Events received and not yet applied (waiting for the lock): see _validate_change.
        self._events_in_flight = 0
        self._parcels: list[Parcel] = []
        # Parcels changed and not written yet: the next change of the order writes them.
        self._parcels_unwritten: list[Parcel] = []
        if input.carried is not None:
            carried = input.carried
            self._order = carried.order
            self._applied = set(carried.applied_events)
            self._alerts_raised = carried.alerts_raised
            self._payment_checks = carried.payment_checks
            self._stuck_since = carried.stuck_since
            self._shipped_at = carried.shipped_at
            self._obligations = Obligations(input.policy, carried.owed, carried.emails)
            self._effects.refunded_outside = carried.refunded_outside
            self._effects.refunds = list(carried.refunds)
            self._parcels = list(carried.parcels)

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderOutcome:
        for patch in _RELEASED_PATCHES:
            workflow.deprecate_patch(patch)
        if input.carried is None:
            rejected = await self._create()
            if rejected is not None:
                return rejected
        for event in self._early:
            async with self._lock:
                await self._on_event(event)
        while True:
            await self._obligations.settle(self._effects, self._order, self._money_refused)
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
        return (self._status in FINAL_STATUSES and not self._obligations.pending
                and workflow.all_handlers_finished())

    # ---- creation ------------------------------------------------------------------------------

    async def _create(self) -> OrderOutcome | None:
        paid, check = self._input.request.payment.final, None
        if workflow.patched(VERIFY_PAYMENT):
            check = await self._effects.verify_payment()
            if check.verdict is Verdict.REFUSED:
                await self._refuse(check)
            paid = check.verdict is Verdict.PAID
        try:
            self._order, self._early = await self._effects.create_order(
                workflow.now(), paid=paid, check=check)
        except (ActivityError, ApplicationError) as err:
            # A remote activity's failure arrives wrapped in an ActivityError, a local one's
            # as the activity raised it.
            cause = err.cause if isinstance(err, ActivityError) else err
            if isinstance(cause, ApplicationError) and cause.type in CREATION_REJECTIONS:
                return await self._reject(cause)
            raise
        self._publish(first=True)
        self._obligations.on_creation(self._order)
        return None

    @workflow.update
    async def await_creation(self, request: CreationRequest) -> OrderSnapshot:
        await workflow.wait_condition(
            lambda: self._order is not None or self._rejection is not None
        )
        if self._rejection is not None:
            code, message, refunding = self._rejection
            details = ({"refund": "initiated"},) if refunding else ()
            raise ApplicationError(message, *details, type=code, non_retryable=True)
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

    async def _refuse(self, check: PaymentCheck) -> NoReturn:
        """The provider does not confirm the payment: nothing was written and no money moved.
        The run fails rather than completes, so the reference stays usable: a new checkout
        with it (its rightful buyer's) starts a fresh run (see order_commands.create_order)."""
        code = check.code or ErrorCode.PAYMENT_NOT_CONFIRMED.value
        self._rejection = (code, check.message, False)
        workflow.upsert_search_attributes([shared.ORDER_STATUS.value_set("refused")])
        workflow.set_current_details(f"refused ({code}): {check.message}")
        await workflow.wait_condition(workflow.all_handlers_finished)
        raise ApplicationError(check.message, type=code, non_retryable=True)

    async def _reject(self, cause: ApplicationError) -> OrderOutcome:
        """The order cannot be made after the buyer paid: answer the caller, then refund."""
        self._rejection = (cause.type or ErrorCode.INTERNAL_ERROR.value, cause.message, True)
        workflow.upsert_search_attributes([shared.ORDER_STATUS.value_set("rejected")])
        workflow.set_current_details(f"rejected ({cause.type}); refunding the payment")
        await self._effects.refund(Owed(OwedKind.REFUND, f"order rejected: {cause.type}"), None)
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
            # moved the order since. Who may ask was settled by the validator, which is never
            # replayed; this check is, so it keeps the rules of 0.1.0 for who may ask.
            self._check(request, replaying_rules=True)
            if request.status is S.SHIPPED and workflow.patched(PARCELS):
                # Everything left goes in one parcel, as an order of one parcel always did.
                await self._add_parcel(ShipParcelRequest(
                    actor_kind=request.actor_kind, actor_id=request.actor_id,
                    tracking_number=request.tracking_number or "", carrier=request.carrier,
                    estimated_delivery=request.estimated_delivery), moves_order=False)
            return await self._apply(OrderChange.requested(request))

    @change_status.validator
    def _validate_change(self, request: StatusChangeRequest) -> None:
        try:
            self._check(request)
        except ApplicationError:
            # An event that reached the workflow before this update may still be waiting for
            # the lock (another change holds it), and may make the change allowed: the caller
            # may well have seen it already in the read model. The handler checks again once
            # that event is in, and refuses then if the change is still not allowed.
            if not self._events_in_flight:
                raise

    def _check(self, request: StatusChangeRequest, *, replaying_rules: bool = False) -> None:
        def rules(order: OrderSnapshot) -> None:
            check_transition(
                request.actor_kind,
                order.status,
                request.status,
                tracking_number=request.tracking_number,
                delivered_at=order.delivered_at,
                now=workflow.now(),
                dispute_window=self._input.policy.dispute_window,
                replaying_rules=replaying_rules,
            )
            if request.refund_amount is not None and not (
                0 < request.refund_amount <= order.total_amount
            ):
                raise DomainError(ErrorCode.VALIDATION_ERROR,
                                  "a refund must be more than zero and at most the order total",
                                  field="amount")
            if self._parcels:
                self._check_against_parcels(request)
            if request.refund_amount is not None and request.refund_amount > self._refundable():
                raise DomainError(ErrorCode.REFUND_EXCEEDS_PAYMENT,
                                  f"at most {self._refundable()} may still be refunded",
                                  field="amount")

        self._judge(rules)

    def _judge(self, rules: Callable[[OrderSnapshot], T]) -> T:
        """Apply a command's rules to the order; a rule's refusal (a DomainError) becomes the
        update's failure, with the order's status and the field at fault."""
        order = self._order
        if order is None:
            raise ApplicationError(
                "the order is still being created", {"currentStatus": None},
                type=ErrorCode.INVALID_TRANSITION.value, non_retryable=True,
            )
        try:
            return rules(order)
        except DomainError as err:
            raise ApplicationError(
                err.message,
                {"currentStatus": order.status.value, "field": err.field},
                type=err.code.value,
                non_retryable=True,
            ) from None

    # ---- parcels -------------------------------------------------------------------------------

    @workflow.update
    async def ship_parcel(self, request: ShipParcelRequest) -> ParcelOutcome:
        async with self._lock:
            self._check_parcel(request)
            parcel = await self._add_parcel(request, moves_order=True)
            assert self._order is not None
            return ParcelOutcome(parcel=parcel, status=self._order.status,
                                 fulfilment=fulfilment(self._ordered, self._parcels))

    @ship_parcel.validator
    def _validate_parcel(self, request: ShipParcelRequest) -> None:
        self._check_parcel(request)

    def _check_parcel(self, request: ShipParcelRequest) -> None:
        self._judge(lambda order: check_parcel(request, status=order.status,
                                               ordered=self._ordered, parcels=self._parcels))

    def _check_against_parcels(self, request: StatusChangeRequest) -> None:
        if request.status is S.SHIPPED and any(
                p.tracking_number == request.tracking_number for p in self._parcels):
            raise DomainError(ErrorCode.VALIDATION_ERROR, "this order already has a parcel "
                              "with this tracking number", field="trackingNumber")
        if len(self._parcels) > 1 and request.status in PARCEL_FLOW[1:]:
            raise DomainError(ErrorCode.VALIDATION_ERROR,
                              f"this order ships in {len(self._parcels)} parcels: report each "
                              "one's progress by its tracking number (the carrier webhook)",
                              field="status")

    @property
    def _ordered(self) -> dict[str, int]:
        return {line.listing_id: line.quantity for line in self._input.request.lines}

    async def _add_parcel(self, request: ShipParcelRequest, *, moves_order: bool) -> Parcel:
        """A new parcel of `request`'s lines (all that is left without any). `moves_order`: the
        order ships when nothing is left; a PUT to shipped moves it itself."""
        order = self._order
        assert order is not None
        # Checked already: by ship_parcel's validator and handler, or as a status change.
        lines = parcel_lines(request, ordered=self._ordered, parcels=self._parcels)
        parcel = Parcel(tracking_number=request.tracking_number, carrier=request.carrier,
                        status=S.SHIPPED, shipped_at=workflow.now(), lines=lines,
                        estimated_delivery=request.estimated_delivery)
        self._parcels.append(parcel)
        self._version += 1
        steps = order_steps(order.status, self._ordered, self._parcels) if moves_order else []
        if moves_order and not steps:
            units = sum(line.quantity for line in lines)
            await self._effects.record_shipment(
                order, parcel, fulfilment(self._ordered, self._parcels),
                timeline_entry=f"Parcel {parcel.tracking_number} shipped with {units} of "
                               f"{self._input.request.units} items",
                actor=request.actor_kind.value)
        else:
            self._parcels_unwritten.append(parcel)  # with the change that ships the order
        for step in steps:
            await self._apply(OrderChange(
                target=step, actor_kind=request.actor_kind, actor_id=request.actor_id,
                reason="all_parcels_shipped", notes=request.notes,
                tracking_number=parcel.tracking_number, carrier=parcel.carrier,
                estimated_delivery=parcel.estimated_delivery))
        return parcel

    def _parcel_event(self, event: ExternalEvent) -> bool:
        """Whether a carrier's progress report is for one parcel among several (or names a
        parcel the order does not have). An order of one parcel moves as orders always did,
        its parcel with it."""
        if event.source is not EventSource.SHIPPING or not SHIPPING_STATUSES.get(event.kind):
            return False
        if len(self._parcels) > 1:
            return True
        return bool(self._parcels) and event.tracking_number is not None \
            and event.tracking_number != self._parcels[0].tracking_number

    async def _on_parcel_event(self, event: ExternalEvent) -> None:
        """A carrier's event for one of the order's parcels: the parcel moves forward, and the
        order follows where its parcels now are. An event naming no parcel of the order is
        recorded and not applied."""
        order = self._order
        assert order is not None
        at = next((i for i, p in enumerate(self._parcels)
                   if p.tracking_number == event.tracking_number), None)
        target = SHIPPING_STATUSES.get(event.kind)
        if at is None or not parcel_move(self._parcels[at], target):
            why = "for no parcel of this order" if at is None else "(no change)"
            await self._effects.record_timeline(order, event, f"{describe_event(event)} {why}")
            return
        assert target is not None
        parcel = self._parcels[at] = self._parcels[at].moved_to(target, workflow.now())
        self._version += 1
        steps = order_steps(order.status, self._ordered, self._parcels)
        if steps:
            self._parcels_unwritten.append(parcel)  # with the order's change
        else:
            await self._effects.record_shipment(order, parcel,
                                                fulfilment(self._ordered, self._parcels))
            await self._effects.record_timeline(
                order, event, f"Parcel {parcel.tracking_number}: {describe_event(event)}",
                applied=True)
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            change = OrderChange.reported(event, step, settled_externally=False)
            await self._apply(change if last else replace(change, inbox_event=None))

    async def _parcel_late(self, tracking_number: str) -> None:
        """One parcel is late: its own alert, and its own clock for the next one."""
        order = self._order
        assert order is not None
        at = next(i for i, p in enumerate(self._parcels) if p.tracking_number == tracking_number)
        parcel = self._parcels[at] = replace(self._parcels[at],
                                             alerts=self._parcels[at].alerts + 1)
        if self._stuck_since is None:
            self._stuck_since = workflow.now()
            workflow.upsert_search_attributes([shared.STUCK_SINCE.value_set(workflow.now())])
        await self._alert(TimerAction.STUCK_SHIPMENT.value,
                          f"parcel {tracking_number} of {order.order_number} has not been "
                          f"delivered since it left on {parcel.shipped_at:%Y-%m-%d %H:%M} UTC",
                          notify=[order.seller_id], email_seller=True)

    def _parcels_moved_with(self, target: OrderStatus) -> list[Parcel]:
        """The parcels to write with a change to `target`: those changed before it, and an
        order's one parcel, which moves with the order."""
        if len(self._parcels) == 1 and parcel_move(self._parcels[0], target):
            self._parcels[0] = self._parcels[0].moved_to(target, workflow.now())
            self._parcels_unwritten = [p for p in self._parcels_unwritten
                                       if p.tracking_number != self._parcels[0].tracking_number]
            self._parcels_unwritten.append(self._parcels[0])
        moved, self._parcels_unwritten = self._parcels_unwritten, []
        return moved

    # ---- partial refunds ---------------------------------------------------------------------

    @workflow.update
    async def refund(self, request: RefundRequest) -> RefundOutcome:
        async with self._lock:
            taken = self._refund_taken(request.refund_id)
            if taken is not None:
                return self._refund_outcome(taken)  # a retry of a refund already taken
            self._check_refund(request)
            order = self._order
            assert order is not None
            refund = Refund(refund_id=request.refund_id, amount=request.amount,
                            reason=request.reason, actor_kind=request.actor_kind,
                            actor_id=request.actor_id, at=workflow.now(),
                            lines=list(request.lines),
                            at_settlement=order.payment_method is PaymentMethod.ESCROW)
            self._effects.refunds.append(refund)
            self._version += 1
            await self._effects.record_refund(order, refund)
            self._obligations.on_refund(order, refund, shipped=self._shipped_at is not None)
            if self._refundable() == 0:
                await self._refunded_in_full(refund)
            return self._refund_outcome(refund)

    @refund.validator
    def _validate_refund(self, request: RefundRequest) -> None:
        if self._refund_taken(request.refund_id) is None:
            self._check_refund(request)

    def _check_refund(self, request: RefundRequest) -> None:
        self._judge(lambda order: check_refund(request, status=order.status,
                                               left=self._refundable(), ordered=self._ordered,
                                               refunds=self._effects.refunds))

    def _refund_taken(self, refund_id: str) -> Refund | None:
        return next((r for r in self._effects.refunds if r.refund_id == refund_id), None)

    def _refundable(self) -> Decimal:
        return refundable(self._input.request.total_amount, self._effects.refunds,
                          self._effects.refunded_outside)

    def _refund_outcome(self, refund: Refund) -> RefundOutcome:
        assert self._order is not None
        return RefundOutcome(refund=refund, status=self._order.status,
                             refunded=sum((r.amount for r in self._effects.refunds),
                                          Decimal(0)),
                             refundable=self._refundable())

    async def _refunded_in_full(self, last: Refund) -> None:
        """Everything was refunded in parts: the order ends where the status machine lets it
        (refunded, or cancelled before it ships); once shipped it goes on, settled."""
        order = self._order
        assert order is not None
        target = next((s for s in (S.REFUNDED, S.CANCELLED) if can_transition(order.status, s)),
                      None)
        if target is None:
            return
        # Card and crypto refunds were each paid already; an escrow's are paid by the refund of
        # the whole escrow this change owes.
        escrow = order.payment_method is PaymentMethod.ESCROW
        await self._apply(OrderChange(
            target=target, actor_kind=last.actor_kind, actor_id=last.actor_id,
            reason="refunded_in_full", settled_externally=not escrow))

    # ---- events from carriers and the escrow contract ----------------------------------------

    @workflow.signal
    async def external_event(self, event: ExternalEvent) -> None:
        self._events_in_flight += 1
        try:
            await self._receive(event)
        finally:
            self._events_in_flight -= 1

    async def _receive(self, event: ExternalEvent) -> None:
        # An update that arrives in the same workflow task as an earlier event (a worker was
        # away, the read model already showed the event) is validated once this handler first
        # waits. Without a wait here, that is after `_apply` has moved the order, so the update
        # is judged against the order the caller saw, not refused for want of the event.
        if self._order is None or not workflow.patched(EVENTS_FIRST):
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
        if self._parcel_event(event):
            await self._on_parcel_event(event)
            return
        decision = decide(self._order.status, event)
        moved = decision.target is not None
        if decision.target is S.SHIPPED and event.tracking_number and workflow.patched(PARCELS):
            # The carrier's pickup ships everything in the parcel it names.
            await self._add_parcel(ShipParcelRequest(
                actor_kind=ActorKind.SYSTEM, actor_id=event.source.actor_id,
                tracking_number=event.tracking_number, carrier=event.carrier,
                estimated_delivery=event.estimated_delivery), moves_order=False)
        if moved:
            await self._apply(OrderChange.reported(
                event, decision.target, settled_externally=decision.settled_externally))
        elif decision.asks_provider:
            moved = await self._ask_provider_again(event)
        elif decision.reconciles_refunds:
            moved = await self._reconcile_refunds(event)
        if not moved:
            # Late, repeated or out of order: it goes on the timeline and changes nothing.
            await self._effects.record_timeline(self._order, event, describe_event(event))
        if decision.alert:
            order = self._order
            # A chargeback is the buyer's own claim at their bank: only the seller is told.
            notify = [order.seller_id, order.buyer_id] if event.source is EventSource.SHIPPING \
                else [order.seller_id]
            await self._alert(decision.alert, f"{alert_text(event)} for {order.order_number}",
                              notify=notify)

    async def _reconcile_refunds(self, event: ExternalEvent) -> bool:
        """The card processor refunded the payment: record what it gave back outside this
        service, and end the order if that was all of it. Returns whether the order moved."""
        order = self._order
        assert order is not None
        before = self._effects.refunded_outside
        check = await self._effects.reconcile_refunds(order)
        if check.refunded_outside <= before:
            return False  # a refund this service made, already recorded
        self._effects.refunded_outside = check.refunded_outside
        await self._alert("refunded_outside", f"{check.refunded_outside} {order.currency} of "
                          f"{order.order_number} was refunded at the payment provider, outside "
                          "this service", notify=[order.seller_id])
        if check.refunded_outside < order.total_amount:
            return False
        target = next((s for s in (S.REFUNDED, S.CANCELLED) if can_transition(order.status, s)),
                      None)
        if target is None:
            return False  # shipped already: people settle it (the alert says so)
        await self._apply(OrderChange(
            target=target, actor_kind=ActorKind.SYSTEM, actor_id=event.source.actor_id,
            reason="refunded_outside", metadata=event.metadata(), settled_externally=True,
            inbox_event=event))
        return True

    # ---- time ----------------------------------------------------------------------------------

    def _deadline(self) -> Deadline | None:
        order = self._order
        assert order is not None
        # Orders from before 0.2.0 wait for their payment's timeout without asking again.
        asks = order.status is S.PAYMENT_PENDING and workflow.patched(VERIFY_PAYMENT)
        deadline = next_deadline(order.status, status_since=order.status_updated_at,
                                 shipped_at=self._shipped_at, policy=self._input.policy,
                                 alerts_raised=self._alerts_raised,
                                 payment_checks=self._payment_checks if asks else None)
        if not self._parcels or deadline is None:
            return deadline
        # An order in parcels is late parcel by parcel (orders shipped before parcels have
        # none, and keep the order's one clock).
        late = parcel_deadline(self._parcels, self._input.policy)
        if deadline.action is TimerAction.STUCK_SHIPMENT:
            return late
        return late if late is not None and late.at < deadline.at else deadline

    async def _wait_for_change_or_deadline(self) -> None:
        deadline = self._deadline()
        seen = self._version

        def changed() -> bool:
            return self._version != seen or self._obligations.pending or self._done()

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
        rule = TIMER_RULES[deadline.action]
        if rule.asks_provider:
            await self._ask_provider_again()
            return
        if rule.outcome is not None:
            await self._apply(OrderChange(target=rule.outcome, actor_kind=ActorKind.SYSTEM,
                                          actor_id="timer", reason=deadline.action.value))
            return
        if deadline.parcel is not None:
            await self._parcel_late(deadline.parcel)
            return
        if deadline.action is not TimerAction.DISPUTE_UNRESOLVED and self._stuck_since is None:
            self._stuck_since = workflow.now()
            workflow.upsert_search_attributes([shared.STUCK_SINCE.value_set(workflow.now())])
        await self._alert(deadline.action.value,
                          f"{order.order_number} has been {order.status.value} since "
                          f"{order.status_updated_at:%Y-%m-%d %H:%M} UTC",
                          notify=[order.seller_id] if rule.alerts_seller else [],
                          email_seller=rule.alerts_seller)

    async def _ask_provider_again(self, event: ExternalEvent | None = None) -> bool:
        """A pending payment: paid or failed as soon as its provider says so, on its deadline
        or when the provider's `event` says something happened. Returns whether it moved."""
        self._payment_checks += 1
        check = await self._effects.verify_payment()
        if check.verdict is Verdict.PENDING:
            return False
        paid = check.verdict is Verdict.PAID
        target = flow_for(self._input.request.payment.method)[0] if paid else S.FAILED
        await self._apply(OrderChange(
            target=target, actor_kind=ActorKind.SYSTEM, actor_id="payment-provider",
            reason="payment_confirmed" if paid else check.code,
            metadata=event.metadata() if event else {}, inbox_event=event))
        return True

    async def _money_refused(self, due: Owed, reason: str) -> None:
        order = self._order
        assert order is not None
        await self._alert("payment_operation_refused",
                          f"the {due.kind} owed on {order.order_number} was refused by the "
                          f"payment provider: {reason}", notify=[])

    async def _alert(self, kind: str, message: str, *, notify: list[str],
                     email_seller: bool = False) -> None:
        order = self._order
        assert order is not None
        self._alerts_raised += 1
        self._version += 1
        occurrence = f"{order.sequence}:{self._alerts_raised}"
        await self._effects.raise_alert(order, kind, message, notify, occurrence=occurrence)
        if email_seller:
            self._obligations.on_alert(order, kind, message, occurrence)

    # ---- the one path every change takes ----------------------------------------------------

    async def _apply(self, change: OrderChange) -> OrderSnapshot:
        """Move the order: state, read model, search attributes and what it now owes."""
        order = self._order
        assert order is not None
        now, target = workflow.now(), change.target
        change = change.beyond(order)
        changed = replace(
            order,
            status=target,
            previous_status=order.status,
            status_updated_at=now,
            sequence=order.sequence + 1,
            tracking_number=change.tracking_number or order.tracking_number,
            carrier=change.carrier or order.carrier,
            estimated_delivery=change.estimated_delivery or order.estimated_delivery,
            delivered_at=now if target is S.DELIVERED else order.delivered_at,
        )
        self._order = changed
        self._version += 1
        if not (order.status in SHIPPING and target in SHIPPING):
            self._alerts_raised = 0  # a new status starts a new alert clock
        if target is S.SHIPPED:
            self._shipped_at = now
        if self._stuck_since is not None:
            self._stuck_since = None
            workflow.upsert_search_attributes([shared.STUCK_SINCE.value_unset()])
        parcels = self._parcels_moved_with(target)
        await self._effects.record_change(order, changed, change, parcels=parcels,
                                          fulfilment=fulfilment(self._ordered, self._parcels))
        self._publish()
        self._obligations.on_change(order.status, changed, change,
                                    shipped=self._shipped_at is not None,
                                    settle_fully=self._settles_fully(changed.status),
                                    owed_to_buyer=owed_at_settlement(self._effects.refunds))
        return changed

    def _settles_fully(self, status: OrderStatus) -> bool:
        # The patch decides only refunds; asked only then, so other orders record no marker.
        return status is not S.REFUNDED or workflow.patched(SETTLE_FULLY)

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
                            payment_checks=self._payment_checks,
                            refunded_outside=self._effects.refunded_outside,
                            refunds=list(self._effects.refunds),
                            parcels=list(self._parcels),
                            shipped_at=self._shipped_at, owed=list(self._obligations.owed),
                            emails=list(self._obligations.emails))

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
