"""Partial refunds decided by OrderWorkflow, against fake activities: several per order, each
through the provider once, never more than was paid, an escrow's paid at its settlement. The
same through the API, the read model and localstripe: tests/api/test_partial_refunds.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.order import ActorKind, OrderStatus, PaymentMethod
from domain.refunds import RefundLine, RefundOutcome, RefundRequest
from tests.polling import eventually
from tests.workflows.test_workflow_logic import TO_SHIPPED, Order, Orders, orders_on
from workflows.order_workflow import OrderWorkflow

S = OrderStatus


@pytest.fixture
async def orders(time_skipping_env) -> AsyncIterator[Orders]:
    async with orders_on(time_skipping_env) as made:
        yield made


async def refund(order: Order, refund_id: str, amount: str, *,
                 actor: ActorKind = ActorKind.SELLER, lines: tuple = ()) -> RefundOutcome:
    return await order.handle.execute_update(OrderWorkflow.refund, RefundRequest(
        refund_id=refund_id, actor_kind=actor, actor_id=f"{actor.value}-1",
        amount=Decimal(amount), reason="one item arrived broken",
        lines=[RefundLine(listing, quantity) for listing, quantity in lines]))


async def refused(order: Order, *args, **kw) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await refund(order, *args, **kw)
    return failed.value.cause.type


async def money(order: Order, count: int) -> list[tuple[str, str, Decimal]]:
    """The first `count` refunds and releases the order asked for: (activity, key, amount)."""
    def asked():
        calls = [(name, cmd.idempotency_key, cmd.amount) for name, cmd in order.fakes.calls
                 if name in ("refund_payment", "release_escrow")]
        return calls if len(calls) >= count else None
    return (await eventually(asked))[:count]


async def test_two_partial_card_refunds_each_go_to_the_provider_once(orders):
    order = await orders.start(PaymentMethod.FIAT)  # 200.00 paid
    wf = order.handle.id
    first = await refund(order, "r1", "50")
    again = await refund(order, "r1", "50")  # the API's retry of the same request
    second = await refund(order, "r2", "30.5")
    assert (first.refunded, first.refundable, first.status) == (50, 150, S.PAYMENT_CONFIRMED)
    assert again == first
    assert (second.refunded, second.refundable) == (Decimal("80.5"), Decimal("119.5"))
    assert await refused(order, "r3", "119.51") == "REFUND_EXCEEDS_PAYMENT"
    assert await money(order, 2) == [("refund_payment", f"refund:{wf}:r1", Decimal(50)),
                                     ("refund_payment", f"refund:{wf}:r2", Decimal("30.5"))]
    # Cancelling later refunds what is left, and only that.
    await order.change(S.CANCELLED, ActorKind.OPERATOR, reason="fraud_suspected")
    assert (await money(order, 3))[2] == ("refund_payment", f"refund:{wf}", Decimal("119.5"))
    assert [r.refund.refund_id for r in (first, second)] == [
        rec.refund.refund_id for rec in order.fakes.inputs("record_refund")]


async def test_refunding_everything_in_parts_ends_the_order_refunded(orders):
    order = await orders.start(PaymentMethod.CRYPTO)
    await refund(order, "r1", "150")
    last = await refund(order, "r2", "50", actor=ActorKind.OPERATOR)
    assert (last.status, last.refundable) == (S.REFUNDED, 0)
    assert await eventually(lambda: order.status_is(S.REFUNDED))
    restocked = await eventually(lambda: order.fakes.inputs("restore_inventory") or None)
    assert restocked[0].refund_id is None  # the whole order's stock, as for a cancel
    # Both parts went to the provider; ending the order owed no third refund.
    assert [amount for _, _, amount in await money(order, 2)] == [150, 50]
    assert len(order.fakes.inputs("refund_payment")) == 2


async def test_an_escrows_partial_refund_is_paid_in_its_final_split(orders):
    order = await orders.start(PaymentMethod.ESCROW)
    wf = order.handle.id
    taken = await refund(order, "r1", "40", actor=ActorKind.OPERATOR)
    assert taken.refund.at_settlement
    await order.move(*TO_SHIPPED)
    await order.change(S.DELIVERED, ActorKind.SYSTEM)
    await order.change(S.COMPLETED, ActorKind.BUYER)
    assert await money(order, 2) == [("refund_payment", f"refund:{wf}", Decimal(40)),
                                     ("release_escrow", f"release:{wf}", Decimal(160))]


async def test_refunded_units_restock_only_before_the_parcel_leaves(orders):
    order = await orders.start(PaymentMethod.FIAT)  # 2 units of one listing
    listing = order.request.listing_id
    await refund(order, "r1", "100", lines=((listing, 1),))
    [restock] = await eventually(lambda: order.fakes.inputs("restore_inventory") or None)
    assert (restock.refund_id, restock.lines) == ("r1", [RefundLine(listing, 1)])
    assert await refused(order, "r2", "100", lines=((listing, 2),)) == "VALIDATION_ERROR"
    assert await refused(order, "r2", "1", lines=(("another", 1),)) == "VALIDATION_ERROR"
    await order.move(*TO_SHIPPED)
    await refund(order, "r3", "100", lines=((listing, 1),))
    await money(order, 2)
    assert len(order.fakes.inputs("restore_inventory")) == 1  # the shipped unit stays out


async def test_who_and_when_a_refund_is_refused(orders):
    order = await orders.start(PaymentMethod.FIAT)
    assert await refused(order, "r1", "10", actor=ActorKind.BUYER) == "FORBIDDEN"
    assert await refused(order, "r1", "10", actor=ActorKind.SYSTEM) == "FORBIDDEN"
    assert await refused(order, "r1", "0") == "VALIDATION_ERROR"
    pending = await orders.start(PaymentMethod.FIAT, final=False)
    assert await refused(pending, "r1", "10") == "INVALID_TRANSITION"
    assert order.fakes.inputs("record_refund") == []
