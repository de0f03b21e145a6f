"""An update is validated against the order as the events received before it left it.

A command sent after the API showed an event's effect must not be refused for want of it: with
the worker away (killed, redeployed), the event and the command reach the next worker in one
workflow task, event first, and the command's validator must see the event applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from temporalio.worker import Worker

from domain.events import EventSource, ExternalEvent
from domain.order import ActorKind, OrderStatus, PaymentMethod
from tests.workflows.fakes import FakeOrderActivities
from tests.workflows.test_workflow_logic import TO_SHIPPED, Orders
from workflows.order_workflow import OrderWorkflow

S = OrderStatus


@pytest.mark.parametrize("scans", [("delivered",), ("out_for_delivery", "delivered")])
async def test_a_command_after_events_is_judged_with_the_events_applied(client, scans):
    # With two scans the first holds the lock (its read-model write) while the second waits
    # for it, so the second is not applied yet when the dispute is validated.
    # On the dev server: the time-skipping one holds an update for a stopped worker's sticky
    # queue instead of handing it to the next worker.
    fakes = FakeOrderActivities()
    async with contextlib.AsyncExitStack() as stack:
        made = Orders(client, stack)
        order = await _shipped_order(made, fakes)
        # The order's worker is gone: the scans and the buyer's dispute wait for the next one.
        for kind in scans:
            await order.send(ExternalEvent(source=EventSource.SHIPPING,
                                           event_id=uuid.uuid4().hex, kind=kind,
                                           occurred_at=datetime.now(UTC)))
        dispute = asyncio.create_task(order.change(S.DISPUTED, ActorKind.BUYER,
                                                   evidence=["photo: broken.jpg"]))
        await asyncio.sleep(1)
        assert not dispute.done()
        async with Worker(made.client, task_queue=order.queue, workflows=[OrderWorkflow],
                          activities=fakes.activities()):
            disputed = await asyncio.wait_for(dispute, timeout=30)
    assert (disputed.previous_status, disputed.status) == (S.DELIVERED, S.DISPUTED)


async def _shipped_order(made: Orders, fakes: FakeOrderActivities):
    """An order walked to shipped by a worker that is then stopped."""
    order = await made.prepare(PaymentMethod.ESCROW, fakes=fakes, serve=False)
    async with Worker(made.client, task_queue=order.queue, workflows=[OrderWorkflow],
                      activities=fakes.activities()):
        await order.create()
        await order.move(*TO_SHIPPED)
    return order
