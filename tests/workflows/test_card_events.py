"""What the card processor's events do to an order: OrderWorkflow against fake activities.

An event is a prompt: the workflow asks the provider (the fakes answer as it would) and acts
on its answer. Through the real API, signatures and localstripe: tests/api/test_stripe_events.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.events import EventSource, ExternalEvent
from domain.order import ActorKind, OrderStatus, PaymentMethod
from domain.payments import Verdict
from tests.factories import unique
from tests.polling import eventually
from tests.workflows.fakes import FakeOrderActivities
from tests.workflows.test_workflow_logic import TO_SHIPPED, Order, Orders, orders_on

S = OrderStatus


@pytest.fixture
async def orders(time_skipping_env) -> AsyncIterator[Orders]:
    async with orders_on(time_skipping_env) as made:
        yield made


def card(kind: str, event_id: str | None = None, **kw) -> ExternalEvent:
    return ExternalEvent(source=EventSource.CARD, event_id=event_id or unique("evt"),
                         kind=kind, occurred_at=datetime.now(UTC), **kw)


async def recorded(order: Order, activity: str, count: int) -> bool:
    async def check() -> bool:
        return len(order.fakes.inputs(activity)) >= count
    return await eventually(check)


async def test_a_pending_card_payment_is_paid_when_stripe_says_it_succeeded(orders):
    # Processing at creation; the next question (the event's) finds it paid. The recheck
    # timer is an hour away, so only the event can have moved it.
    order = await orders.start(PaymentMethod.FIAT, final=False,
                               fakes=FakeOrderActivities(settles_after=1))
    assert order.created.status is S.PAYMENT_PENDING
    succeeded = card("payment_intent.succeeded")
    await order.send(succeeded)
    await order.send(succeeded)  # Stripe delivers at least once
    assert await eventually(lambda: order.status_is(S.PAYMENT_CONFIRMED))
    await order.send(card("payment_intent.succeeded"))  # another event, now for a paid order
    assert await recorded(order, "record_timeline", 1)
    assert len(order.fakes.inputs("verify_payment")) == 2  # creation, then the event
    [paid] = order.fakes.inputs("record_status_change")
    assert (paid.actor_id, paid.reason) == ("payment-provider", "payment_confirmed")
    assert paid.inbox_event == succeeded  # its inbox row lands with the change


async def test_a_failed_card_payment_fails_the_order_and_returns_its_stock(orders):
    order = await orders.start(PaymentMethod.FIAT, final=False, fakes=FakeOrderActivities(
        settles_after=1, settles_as=Verdict.REFUSED))
    await order.send(card("payment_intent.payment_failed"))
    assert (await order.handle.result()).status is S.FAILED
    assert order.fakes.money_and_stock() == ["restore_inventory"]  # nothing was paid


async def test_an_event_never_pays_an_order_its_provider_does_not_confirm(orders):
    # The event says succeeded; the provider still says processing: the order waits.
    order = await orders.start(PaymentMethod.FIAT, final=False,
                               fakes=FakeOrderActivities(settles_after=5))
    await order.send(card("payment_intent.succeeded"))
    assert await recorded(order, "record_timeline", 1)
    assert await order.status_is(S.PAYMENT_PENDING)
    assert order.fakes.inputs("record_status_change") == []


async def test_a_partial_dashboard_refund_is_recorded_and_never_refunded_again(orders):
    fakes = FakeOrderActivities(refunded_outside=Decimal("40.00"))
    order = await orders.start(PaymentMethod.FIAT, fakes=fakes)
    await order.send(card("charge.refunded"))
    assert await recorded(order, "raise_alert", 1)
    [alert] = fakes.inputs("raise_alert")
    assert alert.kind == "refunded_outside"
    assert alert.notify == [order.request.seller_id]
    assert await order.status_is(S.PAYMENT_CONFIRMED)
    await order.change(S.CANCELLED, ActorKind.BUYER)
    assert (await order.handle.result()).status is S.CANCELLED
    [refund] = fakes.inputs("refund_payment")
    assert refund.amount == order.request.total_amount - Decimal("40.00")


async def test_a_full_dashboard_refund_ends_the_order_without_refunding_twice(orders):
    fakes = FakeOrderActivities()
    order = await orders.start(PaymentMethod.FIAT, fakes=fakes)
    fakes.refunded_outside = order.request.total_amount
    await order.send(card("charge.refunded"))
    assert (await order.handle.result()).status is S.REFUNDED
    assert fakes.money_and_stock() == ["restore_inventory"]
    [change] = fakes.inputs("record_status_change")
    assert (change.actor_id, change.reason) == ("card-webhook", "refunded_outside")


async def test_the_event_of_a_refund_the_service_made_changes_nothing(orders):
    order = await orders.start(PaymentMethod.FIAT)  # the provider holds no outside refund
    await order.send(card("charge.refunded"))
    assert await recorded(order, "record_timeline", 1)
    assert order.fakes.inputs("raise_alert") == []
    assert await order.status_is(S.PAYMENT_CONFIRMED)


async def test_a_chargeback_disputes_a_delivered_order_and_alerts_the_seller(orders):
    order = await orders.start(PaymentMethod.FIAT)
    await order.move(*TO_SHIPPED, S.DELIVERED)
    await order.send(card("charge.dispute.created", dispute_id="dp_1"))
    assert await eventually(lambda: order.status_is(S.DISPUTED))
    assert await recorded(order, "raise_alert", 1)
    [alert] = order.fakes.inputs("raise_alert")
    assert (alert.kind, alert.notify) == ("chargeback_opened", [order.request.seller_id])
    await order.send(card("charge.dispute.closed", dispute_id="dp_1", outcome="lost"))
    assert await recorded(order, "raise_alert", 2)
    closed = order.fakes.inputs("raise_alert")[1]
    assert closed.kind == "chargeback_closed" and "(lost)" in closed.message


async def test_a_chargeback_before_delivery_alerts_and_leaves_the_status(orders):
    order = await orders.start(PaymentMethod.FIAT)
    await order.send(card("charge.dispute.created", dispute_id="dp_2"))
    assert await recorded(order, "raise_alert", 1)
    assert await order.status_is(S.PAYMENT_CONFIRMED)  # the machine has no way to disputed
    assert await recorded(order, "record_timeline", 1)
