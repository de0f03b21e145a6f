"""An order shipped in several parcels, decided by OrderWorkflow against fake activities: the
order is shipped once every unit is in a parcel, and delivered once every parcel is. Through
the API, signed carrier webhooks and the read model: tests/api/test_shipments.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.events import EventSource, ExternalEvent
from domain.order import ActorKind, OrderStatus
from domain.parcels import Fulfilment, ParcelLine, ParcelOutcome, ShipParcelRequest
from tests.conftest import time_skipping_server
from tests.polling import eventually
from tests.workflows.test_workflow_logic import Order, Orders, orders_on, statuses
from workflows.order_workflow import OrderWorkflow

S = OrderStatus
READY = (S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP)


@pytest.fixture
async def orders(time_skipping_env) -> AsyncIterator[Orders]:
    async with orders_on(time_skipping_env) as made:
        yield made


@pytest.fixture
async def clock():
    async with time_skipping_server() as env:
        yield env


async def ship(order: Order, tracking: str, units: int | None = None) -> ParcelOutcome:
    lines = [] if units is None else [ParcelLine(order.request.listing_id, units)]
    return await order.handle.execute_update(OrderWorkflow.ship_parcel, ShipParcelRequest(
        actor_kind=ActorKind.SELLER, actor_id="seller-1", tracking_number=tracking,
        carrier="UPS", lines=lines))


def scan(tracking: str, kind: str, event_id: str | None = None) -> ExternalEvent:
    return ExternalEvent(source=EventSource.SHIPPING, event_id=event_id or f"{tracking}-{kind}",
                         kind=kind, occurred_at=datetime.now(UTC), tracking_number=tracking)


def shipments(order: Order) -> list:
    """Every parcel write, in order: alone, or with the order's change it moved with."""
    written = []
    for name, arg in order.fakes.calls:
        if name == "record_shipment":
            written.append(arg)
        elif name == "record_status_change":
            written += arg.shipments
    return written


async def parcels_written(order: Order, count: int) -> list:
    return await eventually(lambda: shipments(order) if len(shipments(order)) >= count
                            else None)


async def test_two_parcels_the_order_follows_the_slower_one(orders):
    order = await orders.start()  # 2 units of one listing
    await order.move(*READY)
    first = await ship(order, "1ZPARCELA1", units=1)
    assert (first.status, first.fulfilment) == (S.READY_TO_SHIP, Fulfilment.PARTIALLY_SHIPPED)
    second = await ship(order, "1ZPARCELB2", units=1)
    assert (second.status, second.fulfilment) == (S.SHIPPED, None)

    await order.send(scan("1ZPARCELB2", "delivered"))
    await order.send(scan("1ZPARCELB2", "delivered"))  # the carrier's retry: applied once
    written = await parcels_written(order, 3)
    assert written[-1].fulfilment == Fulfilment.PARTIALLY_DELIVERED
    assert (await order.snapshot()).status is S.SHIPPED
    await order.send(scan("1ZPARCELA1", "out_for_delivery"))
    # Every parcel is at least out for delivery: the order passes in_transit to get there.
    assert await eventually(lambda: order.status_is(S.OUT_FOR_DELIVERY))
    await order.send(scan("1ZPARCELA1", "delivered"))
    assert await eventually(lambda: order.status_is(S.DELIVERED))
    assert statuses(order.fakes)[-4:] == [S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY,
                                          S.DELIVERED]
    last = (await parcels_written(order, 5))[-1]
    assert (last.parcel.tracking_number, last.parcel.status, last.fulfilment) == (
        "1ZPARCELA1", S.DELIVERED, None)


async def test_an_event_for_no_parcel_of_the_order_is_recorded_not_applied(orders):
    order = await orders.start()
    await order.move(*READY)
    await ship(order, "1ZPARCELA1")
    await order.send(scan("1ZSOMEONEELSE", "delivered"))
    entry = await eventually(lambda: order.fakes.inputs("record_timeline") or None)
    assert "for no parcel of this order" in entry[0].description
    assert entry[0].inbox_event is not None  # acknowledged in the inbox, never applied
    assert (await order.snapshot()).status is S.SHIPPED


async def test_a_put_to_shipped_ships_what_is_left_in_one_parcel(orders):
    order = await orders.start()
    await order.move(*READY)
    await ship(order, "1ZPARCELA1", units=1)
    await order.change(S.SHIPPED, tracking_number="1ZPARCELB2", carrier="DHL")
    [_, rest] = await parcels_written(order, 2)
    assert rest.parcel.lines == [ParcelLine(order.request.listing_id, 1)]
    # With two parcels, progress is each parcel's: a carrier's PUT for the order is refused.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await order.change(S.DELIVERED, ActorKind.SYSTEM)
    assert refused.value.cause.type == "VALIDATION_ERROR"


async def test_an_order_of_one_parcel_moves_its_parcel_with_it(orders):
    order = await orders.start()
    await order.move(*READY, S.SHIPPED)
    await order.change(S.DELIVERED, ActorKind.SYSTEM)
    written = await parcels_written(order, 2)
    assert [w.parcel.status for w in written] == [S.SHIPPED, S.DELIVERED]


async def test_what_a_parcel_may_not_be(orders):
    order = await orders.start()
    with pytest.raises(WorkflowUpdateFailedError) as early:
        await ship(order, "1ZPARCELA1")
    assert early.value.cause.type == "INVALID_TRANSITION"
    await order.move(*READY)
    await ship(order, "1ZPARCELA1", units=1)
    for tracking, units, code in (("1ZPARCELA1", 1, "VALIDATION_ERROR"),  # its number again
                                  ("1ZPARCELC3", 2, "VALIDATION_ERROR")):  # more than is left
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await ship(order, tracking, units)
        assert refused.value.cause.type == code


async def test_each_late_parcel_raises_its_own_alert(clock):
    async with orders_on(clock) as timed:
        order = await timed.start(shipment_stuck_after=timedelta(days=14),
                                  stuck_alert_after=timedelta(days=30))
        await order.move(*READY)
        await ship(order, "1ZPARCELA1", units=1)
        await clock.sleep(timedelta(days=2))
        await ship(order, "1ZPARCELB2", units=1)
        await order.send(scan("1ZPARCELB2", "delivered"))
        # A's clock runs from when it left: 14 days, then every 24 hours while it stays out.
        await clock.sleep(timedelta(days=11, hours=23))
        assert order.fakes.inputs("raise_alert") == []
        await clock.sleep(timedelta(hours=2))
        [alert] = await eventually(lambda: order.fakes.inputs("raise_alert") or None)
        assert alert.kind == "stuck_shipment" and "parcel 1ZPARCELA1" in alert.message
        await clock.sleep(timedelta(hours=24))
        alerts = await eventually(lambda: order.fakes.inputs("raise_alert")
                                  if len(order.fakes.inputs("raise_alert")) == 2 else None)
        assert "parcel 1ZPARCELA1" in alerts[1].message
        await order.send(scan("1ZPARCELA1", "delivered"))
        assert await eventually(lambda: order.status_is(S.DELIVERED))
