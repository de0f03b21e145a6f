"""What OrderWorkflow decides, checked against fake activities on the time-skipping server.

No SQL, no gateway, no SMTP: the fakes (tests/workflows/fakes.py) record what the workflow
asked for, and the tests read that, the updates' answers and the snapshot query. The lifecycle
through the real activities is in test_order_workflow.py, test_events_and_time.py and
test_timers.py.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.commands import (
    CreationRequest,
    OrderPolicy,
    OrderRequest,
    OrderSnapshot,
    OrderWorkflowInput,
    StatusChangeRequest,
)
from domain.events import EventSource, ExternalEvent
from domain.order import ActorKind, OrderStatus, PaymentMethod
from tests.conftest import time_skipping_server
from tests.factories import order_request, unique
from tests.polling import eventually
from tests.workflows.fakes import FakeOrderActivities
from workflows.order_workflow import OrderWorkflow
from workflows.shared import order_id_for, workflow_id_for

S = OrderStatus
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FINGERPRINT = "fingerprint-of-the-request"
TO_SHIPPED = (S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP, S.SHIPPED)


@dataclass
class Order:
    """One order's workflow, served by a worker of its own whose activities are fakes."""

    client: Client
    handle: WorkflowHandle
    fakes: FakeOrderActivities
    request: OrderRequest
    workflow_input: OrderWorkflowInput
    queue: str
    created: OrderSnapshot | None = None

    async def create(self) -> OrderSnapshot:
        """Start the workflow with update-with-start, as the API does."""
        start = WithStartWorkflowOperation(
            OrderWorkflow.run, self.workflow_input, id=self.handle.id, task_queue=self.queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
        self.created = await self.client.execute_update_with_start_workflow(
            OrderWorkflow.await_creation, CreationRequest(fingerprint=FINGERPRINT),
            start_workflow_operation=start)
        return self.created

    async def change(self, status: OrderStatus, actor: ActorKind = ActorKind.SELLER,
                     **kw) -> OrderSnapshot:
        return await self.handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
            status=status, actor_kind=actor, actor_id=f"{actor.value}-1", **kw))

    async def move(self, *steps: OrderStatus) -> None:
        """Walk the happy path: the seller until shipping, the carrier after."""
        for status in steps:
            actor = ActorKind.SYSTEM if status in (S.IN_TRANSIT, S.DELIVERED) \
                else ActorKind.SELLER
            await self.change(status, actor, tracking_number="1Z999AA1", carrier="UPS")

    async def snapshot(self) -> OrderSnapshot:
        return await self.handle.query(OrderWorkflow.snapshot)

    async def status_is(self, status: OrderStatus) -> bool:
        return (await self.snapshot()).status is status

    async def send(self, event: ExternalEvent) -> None:
        await self.handle.signal(OrderWorkflow.external_event, event)


@dataclass
class Orders:
    client: Client
    stack: contextlib.AsyncExitStack
    started: list[Order] = field(default_factory=list)

    async def prepare(self, method: PaymentMethod = PaymentMethod.FIAT, *, final: bool = True,
                      fakes: FakeOrderActivities | None = None, serve: bool = True,
                      **policy) -> Order:
        """An order whose workflow is not started yet, with its worker running (unless not
        `serve`: then the test runs the workers of `order.queue` itself)."""
        fakes = fakes or FakeOrderActivities()
        queue = f"logic-{uuid.uuid4().hex[:8]}"
        if serve:
            await self.stack.enter_async_context(Worker(
                self.client, task_queue=queue, workflows=[OrderWorkflow],
                activities=fakes.activities()))
        request = order_request(buyer_id=unique("buyer"), seller_id=unique("seller"),
                                listing_id=unique("listing"), method=method, final=final)
        workflow_id = workflow_id_for(method, request.payment.reference)
        order = Order(
            client=self.client, handle=self.client.get_workflow_handle_for(
                OrderWorkflow.run, workflow_id),
            fakes=fakes, request=request, queue=queue,
            workflow_input=OrderWorkflowInput(order_id=order_id_for(workflow_id),
                                              request=request, policy=OrderPolicy(**policy),
                                              fingerprint=FINGERPRINT))
        self.started.append(order)
        return order

    async def start(self, method: PaymentMethod = PaymentMethod.FIAT, **kw) -> Order:
        order = await self.prepare(method, **kw)
        await order.create()
        return order


@contextlib.asynccontextmanager
async def orders_on(env: WorkflowEnvironment) -> AsyncIterator[Orders]:
    async with contextlib.AsyncExitStack() as stack:
        made = Orders(env.client, stack)
        yield made
        for order in made.started:  # nothing of this test runs on into the next
            with contextlib.suppress(RPCError):
                await order.handle.terminate("test over")


@pytest.fixture
async def orders(time_skipping_env) -> AsyncIterator[Orders]:
    """Orders on the module's server, for tests that do not move its clock."""
    async with orders_on(time_skipping_env) as made:
        yield made


@pytest.fixture
async def clock() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of the test's own. The server skips time only while no task
    or query is open on it anywhere, and an earlier test's workflows can leave one open."""
    async with time_skipping_server() as env:
        yield env


@pytest.fixture
async def timed_orders(clock) -> AsyncIterator[Orders]:
    """Orders on the test's own server, whose clock the test moves."""
    async with orders_on(clock) as made:
        yield made


def scan(event_id: str, kind: str, **kw) -> ExternalEvent:
    return ExternalEvent(source=EventSource.SHIPPING, event_id=event_id, kind=kind,
                         occurred_at=datetime.now(UTC), **kw)


def escrow(event_id: str, kind: str, **kw) -> ExternalEvent:
    return ExternalEvent(source=EventSource.ESCROW, event_id=event_id, kind=kind,
                         occurred_at=datetime.now(UTC), **kw)


def statuses(fakes: FakeOrderActivities) -> list[OrderStatus]:
    """The status changes written to the read model, in order."""
    return [rec.new_status for rec in fakes.inputs("record_status_change")]


def at_least(count: int, items: list) -> list:
    assert len(items) >= count, items
    return items


def timeline_keys(fakes: FakeOrderActivities) -> Counter[str]:
    """How many times each timeline entry was written."""
    return Counter(rec.event_key for rec in fakes.inputs("record_timeline"))


# ---- creation ------------------------------------------------------------------------------


async def test_creation_is_answered_by_the_update_with_the_first_snapshot(orders):
    order = await orders.start(PaymentMethod.ESCROW)
    created = order.created
    assert (created.status, created.sequence) == (S.ESCROW_LOCKED, 0)
    assert created.order_number == f"ORD-TEST-{order.workflow_input.order_id[:8]}"
    assert (created.buyer_id, created.total_amount) == (order.request.buyer_id, Decimal("200"))
    [command] = order.fakes.inputs("create_order")
    assert (command.order_id, command.initial_status) == (created.order_id, S.ESCROW_LOCKED)
    assert command.request == order.request
    assert await order.snapshot() == created


async def test_an_unfinished_payment_starts_the_order_pending(orders):
    order = await orders.start(PaymentMethod.CRYPTO, final=False)
    assert order.created.status is S.PAYMENT_PENDING


async def test_a_retried_creation_with_another_request_is_refused(orders):
    order = await orders.start()
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await order.handle.execute_update(OrderWorkflow.await_creation,
                                          CreationRequest(fingerprint="another-request"))
    assert err.value.cause.type == "IDEMPOTENCY_CONFLICT"
    assert order.fakes.names() == ["verify_payment", "create_order"]


async def test_a_refused_creation_answers_with_its_code_and_refunds_once(orders):
    order = await orders.prepare(
        PaymentMethod.CRYPTO, fakes=FakeOrderActivities(rejection="LISTING_UNAVAILABLE"))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await order.create()
    assert err.value.cause.type == "LISTING_UNAVAILABLE"
    outcome = await order.handle.result()
    assert (outcome.status, outcome.rejection_code) == (None, "LISTING_UNAVAILABLE")
    assert order.fakes.names() == ["verify_payment", "create_order", "refund_payment"]
    [refund] = order.fakes.inputs("refund_payment")
    assert (refund.amount, refund.payment_reference, refund.order_id) == (
        Decimal("200"), order.request.payment.reference, None)
    assert await order.snapshot() is None


async def test_the_provider_is_asked_before_the_order_counts_as_paid(orders):
    order = await orders.start(PaymentMethod.FIAT)
    [asked] = order.fakes.inputs("verify_payment")
    assert (asked.method, asked.reference, asked.buyer_id, asked.total_amount, asked.currency) == (
        PaymentMethod.FIAT, order.request.payment.reference, order.request.buyer_id,
        Decimal("200"), order.request.currency)
    assert order.fakes.names()[:2] == ["verify_payment", "create_order"]


@pytest.mark.parametrize("code", ["PAYMENT_NOT_CONFIRMED", "AMOUNT_MISMATCH"])
async def test_a_payment_the_provider_refuses_makes_no_order_and_moves_no_money(orders, code):
    order = await orders.prepare(PaymentMethod.FIAT, fakes=FakeOrderActivities(refusal=code))
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await order.create()
    assert err.value.cause.type == code
    assert not err.value.cause.details  # no refund: no money arrived
    # The run fails rather than completes, so the reference is not used up by it.
    with pytest.raises(WorkflowFailureError):
        await order.handle.result()
    assert order.fakes.names() == ["verify_payment"]


async def test_events_that_arrived_before_the_order_are_applied_after_it(orders):
    early = [escrow("dispute-1", "DisputeCreated", dispute_id="d-1")]
    order = await orders.start(PaymentMethod.ESCROW,
                               fakes=FakeOrderActivities(early_events=early))
    [change] = await eventually(lambda: order.fakes.inputs("record_status_change"))
    assert await order.status_is(S.DISPUTED)
    assert (change.new_status, change.actor_kind, change.inbox_event) == (
        S.DISPUTED, ActorKind.SYSTEM, early[0])


# ---- status changes by people --------------------------------------------------------------


async def test_an_allowed_change_is_applied_and_answered_with_the_new_snapshot(orders):
    order = await orders.start()
    changed = await order.change(S.ORDER_CONFIRMED, notes="on it")
    assert (changed.status, changed.previous_status, changed.sequence) == (
        S.ORDER_CONFIRMED, S.PAYMENT_CONFIRMED, 1)
    assert await order.snapshot() == changed
    [record] = order.fakes.inputs("record_status_change")
    assert (record.previous_status, record.new_status, record.sequence) == (
        S.PAYMENT_CONFIRMED, S.ORDER_CONFIRMED, 1)
    assert (record.actor_kind, record.notes) == (ActorKind.SELLER, "on it")


@pytest.mark.parametrize(("status", "actor", "code"), [
    (S.SHIPPED, ActorKind.SELLER, "INVALID_TRANSITION"),
    (S.ORDER_CONFIRMED, ActorKind.BUYER, "FORBIDDEN"),
])
async def test_a_change_the_rules_refuse_is_answered_with_its_code(orders, status, actor, code):
    order = await orders.start()
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await order.change(status, actor, tracking_number="1Z999AA1")
    assert err.value.cause.type == code
    assert err.value.cause.details[0]["currentStatus"] == "payment_confirmed"
    assert await order.snapshot() == order.created
    assert order.fakes.names() == ["verify_payment", "create_order"]


async def test_no_update_declares_a_pending_order_paid(orders):
    # A system token could in 0.1.0; the validator now refuses it before history holds it.
    order = await orders.start(final=False)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await order.change(S.PAYMENT_CONFIRMED, ActorKind.SYSTEM)
    assert err.value.cause.type == "FORBIDDEN"
    assert await order.status_is(S.PAYMENT_PENDING)


async def test_shipping_needs_a_tracking_number(orders):
    order = await orders.start()
    await order.move(S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await order.change(S.SHIPPED)
    assert err.value.cause.type == "VALIDATION_ERROR"
    assert err.value.cause.details[0]["field"] == "trackingNumber"
    shipped = await order.change(S.SHIPPED, tracking_number="1Z999AA1", carrier="UPS")
    assert (shipped.status, shipped.tracking_number, shipped.carrier) == (
        S.SHIPPED, "1Z999AA1", "UPS")
    assert statuses(order.fakes) == list(TO_SHIPPED)


async def test_cancelling_a_paid_order_refunds_it_then_restores_the_stock(orders):
    order = await orders.start()
    await order.change(S.CANCELLED, ActorKind.BUYER, reason="buyer_request")
    assert (await order.handle.result()).status is S.CANCELLED
    assert order.fakes.money_and_stock() == ["refund_payment", "restore_inventory"]
    [refund] = order.fakes.inputs("refund_payment")
    assert (refund.amount, refund.reason, refund.order_id) == (
        Decimal("200"), "buyer_request", order.created.order_id)
    [restock] = order.fakes.inputs("restore_inventory")
    assert (restock.listing_id, restock.quantity) == (order.request.listing_id, 2)


async def test_cancelling_an_unpaid_order_only_restores_the_stock(orders):
    order = await orders.start(PaymentMethod.CRYPTO, final=False)
    await order.change(S.CANCELLED, ActorKind.BUYER, reason="changed_my_mind")
    assert (await order.handle.result()).status is S.CANCELLED
    assert order.fakes.money_and_stock() == ["restore_inventory"]


async def test_completing_an_escrow_order_releases_the_payment(orders):
    order = await orders.start(PaymentMethod.ESCROW)
    await order.move(*TO_SHIPPED, S.DELIVERED)
    await order.change(S.COMPLETED, ActorKind.BUYER)
    assert (await order.handle.result()).status is S.COMPLETED
    assert order.fakes.money_and_stock() == ["release_escrow"]
    [release] = order.fakes.inputs("release_escrow")
    assert (release.amount, release.payment_reference) == (
        Decimal("200"), order.request.payment.reference)


async def test_a_partial_refund_after_a_dispute_refunds_that_amount(orders):
    order = await orders.start(PaymentMethod.ESCROW)
    await order.change(S.DISPUTED, ActorKind.BUYER, evidence=["photo: broken.jpg"])
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await order.change(S.REFUNDED, ActorKind.OPERATOR, refund_amount=Decimal("250"))
    assert err.value.cause.type == "VALIDATION_ERROR"
    await order.change(S.REFUNDED, ActorKind.OPERATOR, reason="damaged",
                       refund_amount=Decimal("50"))
    assert (await order.handle.result()).status is S.REFUNDED
    assert [(r.amount, r.reason) for r in order.fakes.inputs("refund_payment")] == [
        (Decimal("50"), "damaged")]


async def test_a_refund_the_provider_refuses_for_good_alerts_operators_not_fails_the_order(
        orders):
    order = await orders.start(PaymentMethod.CRYPTO,
                               fakes=FakeOrderActivities(refund_refused=True))
    await order.change(S.CANCELLED, ActorKind.BUYER, reason="buyer_request")
    assert (await order.handle.result()).status is S.CANCELLED
    [alert] = order.fakes.inputs("raise_alert")
    assert alert.kind == "payment_operation_refused" and alert.notify == []
    assert order.fakes.money_and_stock() == ["refund_payment", "restore_inventory"]


async def test_a_partly_refunded_escrow_is_settled_fully_and_its_stock_comes_back(orders):
    # Disputed while still locked (never shipped), refunded 50 of 200: the buyer gets 50, the
    # seller the other 150 from the escrow, and the stock goes back to the listing.
    order = await orders.start(PaymentMethod.ESCROW)
    await order.change(S.DISPUTED, ActorKind.BUYER, evidence=["photo: broken.jpg"])
    await order.change(S.REFUNDED, ActorKind.OPERATOR, reason="damaged",
                       refund_amount=Decimal("50"))
    assert (await order.handle.result()).status is S.REFUNDED
    assert order.fakes.money_and_stock() == ["refund_payment", "release_escrow",
                                             "restore_inventory"]
    [release] = order.fakes.inputs("release_escrow")
    assert release.amount == Decimal("150")


async def test_emails_are_owed_on_creation_and_on_the_statuses_that_have_one(orders):
    order = await orders.start(send_email=True)
    await order.move(S.ORDER_CONFIRMED, S.PROCESSING)

    def sent():
        return [(e.event, e.audience) for e in order.fakes.inputs("send_order_email")]

    assert await eventually(lambda: len(sent()) == 3)
    assert sent() == [("order_created", ["buyer"]), ("new_order", ["seller"]),
                      ("order_confirmed", ["buyer"])]


# ---- events from carriers and the escrow contract ------------------------------------------


async def test_a_carrier_event_moves_the_order_once_per_event_id(orders):
    order = await orders.start()
    await order.move(*TO_SHIPPED)
    await order.send(scan("scan-1", "in_transit", location="Memphis"))
    await eventually(lambda: statuses(order.fakes)[-1] is S.IN_TRANSIT)
    before = len(order.fakes.calls)
    await order.send(scan("scan-1", "in_transit", location="Memphis"))  # delivered again
    await order.send(scan("scan-2", "out_for_delivery"))
    await eventually(lambda: statuses(order.fakes)[-1] is S.OUT_FOR_DELIVERY)
    # One write: the change, and the order's one parcel moving with it.
    assert order.fakes.names()[before:] == ["record_status_change"]
    assert [s.parcel.status for s in order.fakes.inputs("record_status_change")[-1].shipments
            ] == [S.OUT_FOR_DELIVERY]
    assert statuses(order.fakes) == [*TO_SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY]
    assert await order.status_is(S.OUT_FOR_DELIVERY)
    moved = order.fakes.inputs("record_status_change")[-2]
    assert (moved.actor_kind, moved.inbox_event.event_id) == (ActorKind.SYSTEM, "scan-1")


async def test_a_late_event_goes_on_the_timeline_and_changes_nothing(orders):
    order = await orders.start()
    await order.move(*TO_SHIPPED, S.IN_TRANSIT)
    moved = await order.snapshot()
    await order.send(scan("late-1", "picked_up", location="Origin"))
    [entry] = await eventually(lambda: order.fakes.inputs("record_timeline"))
    assert (entry.event_key, entry.metadata["applied"]) == ("shipping:late-1", "false")
    assert entry.inbox_event.event_id == "late-1"
    assert await order.snapshot() == moved


async def test_a_carrier_exception_alerts_the_seller_and_the_buyer(orders):
    order = await orders.start()
    await order.move(*TO_SHIPPED)
    await order.send(scan("exc-1", "exception", location="Hub"))
    [alert] = await eventually(lambda: order.fakes.inputs("raise_alert"))
    assert (alert.kind, alert.status) == ("shipping_exception", S.SHIPPED)
    assert alert.notify == [order.request.seller_id, order.request.buyer_id]
    assert (await order.snapshot()).status is S.SHIPPED


async def test_an_escrow_release_by_the_contract_completes_without_a_gateway_call(orders):
    order = await orders.start(PaymentMethod.ESCROW)
    await order.move(*TO_SHIPPED, S.DELIVERED)
    await order.send(escrow("release-1", "EscrowReleased", transaction_hash="0xabc"))
    assert (await order.handle.result()).status is S.COMPLETED
    assert order.fakes.money_and_stock() == []


# ---- time ----------------------------------------------------------------------------------


async def test_an_unconfirmed_payment_fails_after_the_payment_timeout(timed_orders, clock):
    order = await timed_orders.start(PaymentMethod.CRYPTO, final=False)
    await clock.sleep(timedelta(minutes=59))
    assert await order.status_is(S.PAYMENT_PENDING)
    await clock.sleep(timedelta(minutes=2))
    assert (await order.handle.result()).status is S.FAILED
    assert order.fakes.money_and_stock() == ["restore_inventory"]
    [failed] = order.fakes.inputs("record_status_change")
    assert (failed.actor_kind, failed.reason) == (ActorKind.SYSTEM, "payment_timeout")


async def test_a_pending_payment_is_paid_as_soon_as_its_provider_says_so(timed_orders, clock):
    # The provider answers "processing" at creation and at the first recheck, then "paid".
    order = await timed_orders.start(PaymentMethod.FIAT, final=False,
                                     fakes=FakeOrderActivities(settles_after=2))
    assert order.created.status is S.PAYMENT_PENDING
    await clock.sleep(timedelta(minutes=1, seconds=30))
    assert await order.status_is(S.PAYMENT_PENDING)
    await clock.sleep(timedelta(minutes=1))
    assert await eventually(lambda: order.status_is(S.PAYMENT_CONFIRMED))
    assert len(order.fakes.inputs("verify_payment")) == 3
    [paid] = order.fakes.inputs("record_status_change")
    assert (paid.actor_id, paid.reason) == ("payment-provider", "payment_confirmed")


async def test_a_seller_who_never_confirms_gets_the_order_cancelled_and_refunded(
        timed_orders, clock):
    order = await timed_orders.start(PaymentMethod.ESCROW)
    await clock.sleep(71 * HOUR)
    assert await order.status_is(S.ESCROW_LOCKED)
    await clock.sleep(2 * HOUR)
    assert (await order.handle.result()).status is S.CANCELLED
    assert order.fakes.money_and_stock() == ["refund_payment", "restore_inventory"]
    [cancel] = order.fakes.inputs("record_status_change")
    assert (cancel.actor_kind, cancel.reason) == (ActorKind.SYSTEM, "seller_confirmation_timeout")


async def test_a_delivered_order_completes_itself_after_the_dispute_window(
        timed_orders, clock):
    order = await timed_orders.start(PaymentMethod.ESCROW)
    await order.move(*TO_SHIPPED, S.DELIVERED)
    await clock.sleep(7 * DAY - HOUR)
    assert await order.status_is(S.DELIVERED)
    await clock.sleep(2 * HOUR)
    assert (await order.handle.result()).status is S.COMPLETED
    assert order.fakes.money_and_stock() == ["release_escrow"]
    done = order.fakes.inputs("record_status_change")[-1]
    assert (done.new_status, done.actor_kind, done.reason) == (
        S.COMPLETED, ActorKind.SYSTEM, "auto_complete")


async def test_a_stuck_order_alerts_the_seller_and_again_each_day_until_it_moves(
        timed_orders, clock):
    order = await timed_orders.start()
    await order.move(S.ORDER_CONFIRMED, S.PROCESSING)
    await clock.sleep(47 * HOUR)
    assert order.fakes.inputs("raise_alert") == []
    await clock.sleep(2 * HOUR)
    [first] = await eventually(lambda: order.fakes.inputs("raise_alert"))
    assert (first.kind, first.status, first.notify) == (
        "stuck_order", S.PROCESSING, [order.request.seller_id])
    await clock.sleep(24 * HOUR)
    alerts = await eventually(lambda: at_least(2, order.fakes.inputs("raise_alert")))
    assert [a.kind for a in alerts] == ["stuck_order", "stuck_order"]
    assert alerts[0].alert_id != alerts[1].alert_id
    # Progress starts a new clock: the next alert is 48 hours after it, not a day.
    await order.move(S.READY_TO_SHIP)
    await clock.sleep(47 * HOUR)
    assert len(order.fakes.inputs("raise_alert")) == 2
    await clock.sleep(2 * HOUR)
    alerts = await eventually(lambda: at_least(3, order.fakes.inputs("raise_alert")))
    assert (alerts[2].kind, alerts[2].status) == ("stuck_order", S.READY_TO_SHIP)


# ---- continue-as-new -----------------------------------------------------------------------


async def test_a_long_history_continues_as_new_keeping_the_order_and_the_applied_events(
        orders):
    order = await orders.start(max_history_events=60)
    await order.move(*TO_SHIPPED)
    first_run = (await order.handle.describe()).run_id
    for i in range(20):  # late scans of a step already passed: each goes on the timeline
        await order.send(scan(f"late-{i}", "picked_up"))
    # A local activity in a workflow task that had to be retried (signals kept arriving as the
    # run handed over) runs again: the writes are idempotent, so count what was written.
    late = {f"shipping:late-{i}" for i in range(20)}
    await eventually(lambda: timeline_keys(order.fakes).keys() == late)

    async def continued_as_new():
        return (await order.handle.describe()).run_id != first_run

    assert await eventually(continued_as_new)
    carried = await order.snapshot()
    assert (carried.status, carried.order_number, carried.sequence) == (
        S.SHIPPED, order.created.order_number, 4)
    written = timeline_keys(order.fakes)
    # An event applied before the hand-over is still known to the new run.
    await order.send(scan("late-0", "picked_up"))
    await order.send(scan("arrived", "delivered"))
    await eventually(lambda: statuses(order.fakes)[-1] is S.DELIVERED)
    assert timeline_keys(order.fakes) == written
    delivered = order.fakes.inputs("record_status_change")[-1]
    assert (delivered.previous_status, delivered.sequence) == (S.SHIPPED, 5)
    assert await order.status_is(S.DELIVERED)
