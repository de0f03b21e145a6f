"""External events, short deadlines and continue-as-new on the real dev server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from api import order_commands
from db import tables as t
from domain.commands import StatusChangeRequest
from domain.events import EventSource, ExternalEvent
from domain.order import ActorKind, OrderStatus, PaymentMethod
from tests.factories import currency_for, order_request, seed_listing, unique
from tests.polling import eventually
from workflows import shared
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

S = OrderStatus
pytestmark = pytest.mark.usefixtures("stack_worker")


async def _order(client, settings, db, method=PaymentMethod.FIAT):
    seller = unique("seller")
    listing = await seed_listing(db, seller_id=seller, currency=currency_for(method))
    request = order_request(buyer_id=unique("buyer"), seller_id=seller, listing_id=listing,
                            method=method)
    created = await order_commands.create_order(client, settings, request)
    handle = client.get_workflow_handle_for(
        OrderWorkflow.run, workflow_id_for(method, request.payment.reference))
    return created, handle


def _scan(event_id, kind, **kw):
    return ExternalEvent(source=EventSource.SHIPPING, event_id=event_id, kind=kind,
                         occurred_at=datetime.now(UTC), **kw)


async def _move(handle, *steps):
    for status in steps:
        await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
            status=status, actor_kind=ActorKind.SELLER, actor_id="s", tracking_number="1Z9999"))


async def test_stuck_since_is_set_by_the_alert_and_cleared_by_progress(client, settings,
                                                                      session_db):
    quick = settings.with_policy(stuck_alert_after=timedelta(seconds=1))
    _, handle = await _order(client, quick, session_db)
    await _move(handle, S.ORDER_CONFIRMED)

    async def stuck_since():
        return (await handle.describe()).typed_search_attributes.get(shared.STUCK_SINCE)

    assert await eventually(stuck_since) is not None
    await _move(handle, S.PROCESSING)
    assert await eventually(lambda: _is_none(stuck_since)) is True


async def _is_none(get):
    return (await get()) is None


async def test_a_flood_of_events_continues_as_new_keeping_state_and_dedupe(client, settings,
                                                                          session_db):
    small = settings.with_policy(max_history_events=100)
    created, handle = await _order(client, small, session_db)
    await _move(handle, S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP, S.SHIPPED)
    first_run = (await handle.describe()).run_id
    for i in range(40):  # late duplicates of an earlier step: each is recorded, none moves
        await handle.signal(OrderWorkflow.external_event, _scan(f"flood-{i}", "picked_up"))

    async def timeline_rows():
        async with session_db.reader.connect() as conn:
            return (await conn.execute(select(func.count()).select_from(
                t.order_tracking_events).where(
                t.order_tracking_events.c.order_id == created.order_id))).scalar_one()

    assert await eventually(lambda: _at_least(timeline_rows, 5 + 40)) is True

    async def continued_as_new():
        return (await handle.describe()).run_id != first_run

    assert await eventually(continued_as_new) is True
    snapshot = await handle.query(OrderWorkflow.snapshot)
    assert (snapshot.status, snapshot.order_number) == (S.SHIPPED, created.order_number)
    # An event from before the hand-over is still recognised as applied: resending it makes
    # the current run schedule no timeline write.
    timeline_writes = await _timeline_writes(handle)
    await handle.signal(OrderWorkflow.external_event, _scan("flood-0", "picked_up"))
    await handle.signal(OrderWorkflow.external_event, _scan("after", "delivered"))
    assert await eventually(lambda: _at_least(timeline_rows, 5 + 40 + 1)) is True
    assert (await handle.query(OrderWorkflow.snapshot)).status is S.DELIVERED
    assert await _timeline_writes(handle) == timeline_writes


async def _timeline_writes(handle) -> int:
    history = await handle.fetch_history()
    return sum(1 for e in history.events
               if e.activity_task_scheduled_event_attributes.activity_type.name
               == "record_timeline")


async def _at_least(count, n):
    return (await count()) >= n


async def _status_is(handle, status):
    return (await handle.query(OrderWorkflow.snapshot)).status is status
