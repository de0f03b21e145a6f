"""OrderWorkflow on the real Temporal dev server, with the real activities and SQLite."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowUpdateFailedError

from api import order_commands
from api.errors import ApiError
from db import tables as t
from domain.commands import StatusChangeRequest
from domain.order import ActorKind, OrderStatus, PaymentMethod, flow_for
from tests.factories import currency_for, order_request, seed_listing, unique
from worker import build_worker
from workflows import shared
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

S = OrderStatus

pytestmark = pytest.mark.usefixtures("stack_worker")

# Who drives each step of the happy path.
DRIVER = {
    S.ORDER_CONFIRMED: ActorKind.SELLER,
    S.PROCESSING: ActorKind.SELLER,
    S.READY_TO_SHIP: ActorKind.SELLER,
    S.SHIPPED: ActorKind.SELLER,
    S.IN_TRANSIT: ActorKind.SYSTEM,
    S.DELIVERED: ActorKind.SYSTEM,
    S.COMPLETED: ActorKind.BUYER,
}


async def _new_order(client, settings, session_db, method=PaymentMethod.ESCROW, **kw):
    seller, buyer = unique("seller"), unique("buyer")
    listing = await seed_listing(session_db, seller_id=seller, currency=currency_for(method))
    request = order_request(buyer_id=buyer, seller_id=seller, listing_id=listing, method=method,
                            **kw)
    snapshot = await order_commands.create_order(client, settings, request)
    handle = client.get_workflow_handle_for(
        OrderWorkflow.run, workflow_id_for(method, request.payment.reference)
    )
    return request, snapshot, handle


def _change(status, actor=None, **kw):
    return StatusChangeRequest(status=status, actor_kind=actor or DRIVER[status],
                               actor_id="someone", **kw)


@pytest.mark.parametrize("method", list(PaymentMethod))
async def test_happy_path_runs_to_completion(client: Client, settings, session_db, method):
    request, created, handle = await _new_order(client, settings, session_db, method)
    assert created.status is flow_for(method)[0]
    assert created.order_number.startswith("ORD-")
    for status in flow_for(method)[1:]:
        extra = {"tracking_number": "1Z999AA1234567890", "carrier": "UPS"} \
            if status is S.SHIPPED else {}
        snapshot = await handle.execute_update(OrderWorkflow.change_status,
                                               _change(status, **extra))
        assert snapshot.status is status
    outcome = await handle.result()
    assert outcome.status is S.COMPLETED

    async with session_db.reader.connect() as conn:
        order = (await conn.execute(select(t.orders).where(
            t.orders.c.id == created.order_id))).one()
        history = (await conn.execute(select(t.order_status_history.c.new_status).where(
            t.order_status_history.c.order_id == created.order_id).order_by(
            t.order_status_history.c.sequence))).scalars().all()
    assert order.status == "completed"
    assert order.tracking_number == "1Z999AA1234567890"
    assert order.completed_at is not None
    assert history == [s.value for s in flow_for(method)]
    assert order.total_amount == Decimal("200")
    pay = request.payment
    assert (order.transaction_hash, order.payment_intent_id, order.escrow_id) == (
        pay.transaction_hash, pay.payment_intent_id, pay.escrow_id)


async def test_a_rejected_transition_writes_nothing_to_history(client, settings, session_db):
    _, _, handle = await _new_order(client, settings, session_db)
    before = len((await handle.fetch_history()).events)
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(OrderWorkflow.change_status,
                                    _change(S.SHIPPED, ActorKind.SELLER, tracking_number="1Z99"))
    assert err.value.cause.type == "INVALID_TRANSITION"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(OrderWorkflow.change_status,
                                    _change(S.ORDER_CONFIRMED, ActorKind.BUYER))
    assert err.value.cause.type == "FORBIDDEN"
    assert len((await handle.fetch_history()).events) == before
    assert (await handle.query(OrderWorkflow.snapshot)).status is S.ESCROW_LOCKED


async def test_a_retried_create_is_the_same_order_and_takes_stock_once(client, settings,
                                                                       session_db):
    request, first, _ = await _new_order(client, settings, session_db)
    again = await asyncio.gather(*(order_commands.create_order(client, settings, request)
                                   for _ in range(3)))
    assert {s.order_number for s in again} == {first.order_number}
    async with session_db.reader.connect() as conn:
        stock = (await conn.execute(select(t.listings.c.inventory).where(
            t.listings.c.id == request.listing_id))).scalar_one()
        count = (await conn.execute(select(func.count()).select_from(t.orders).where(
            t.orders.c.payment_reference == request.payment.reference))).scalar_one()
    assert (stock, count) == (10 - request.quantity, 1)


async def test_the_same_payment_for_a_different_order_is_refused(client, settings, session_db):
    request, _, _ = await _new_order(client, settings, session_db)
    with pytest.raises(ApiError) as err:
        await order_commands.create_order(client, settings, replace(request, quantity=1,
                                                                    total_amount=Decimal(100)))
    assert err.value.code == "IDEMPOTENCY_CONFLICT"


async def test_search_attributes_and_summary_are_set(client, settings, session_db):
    request, created, handle = await _new_order(client, settings, session_db,
                                                PaymentMethod.FIAT)
    await handle.execute_update(OrderWorkflow.change_status, _change(S.ORDER_CONFIRMED))
    attrs = (await handle.describe()).typed_search_attributes
    assert attrs.get(shared.ORDER_STATUS) == "order_confirmed"
    assert attrs.get(shared.ORDER_NUMBER) == created.order_number
    assert attrs.get(shared.BUYER_ID) == request.buyer_id
    assert attrs.get(shared.SELLER_ID) == request.seller_id
    assert attrs.get(shared.PAYMENT_METHOD) == "fiat"
    assert attrs.get(shared.ORDER_TOTAL) == 200.0


@pytest.mark.parametrize(
    ("kw", "code"),
    [({"quantity": 20, "total": "2000"}, "INSUFFICIENT_INVENTORY"),
     ({"total": "199.99"}, "AMOUNT_MISMATCH"),
     ({"currency": "USDT"}, "AMOUNT_MISMATCH")],
)
async def test_a_rejected_order_is_refunded_once_and_leaves_nothing_behind(
    client, settings, session_db, kw, code
):
    seller, buyer = unique("seller"), unique("buyer")
    listing = await seed_listing(session_db, seller_id=seller)
    request = order_request(buyer_id=buyer, seller_id=seller, listing_id=listing,
                            method=PaymentMethod.CRYPTO, **kw)
    for _ in range(2):  # the retry gets the same answer and no second refund
        with pytest.raises(ApiError) as err:
            await order_commands.create_order(client, settings, request)
        assert err.value.code == code
    handle = client.get_workflow_handle_for(
        OrderWorkflow.run, workflow_id_for(PaymentMethod.CRYPTO, request.payment.reference))
    outcome = await handle.result()
    assert (outcome.status, outcome.rejection_code) == (None, code)
    with pytest.raises(ApiError) as err:  # after the workflow closed, still the same answer
        await order_commands.create_order(client, settings, request)
    assert err.value.code == code
    async with session_db.reader.connect() as conn:
        ledger = (await conn.execute(select(t.payment_operations).where(
            t.payment_operations.c.payment_reference == request.payment.reference))).all()
        orders = (await conn.execute(select(func.count()).select_from(t.orders).where(
            t.orders.c.listing_id == listing))).scalar_one()
        stock = (await conn.execute(select(t.listings.c.inventory).where(
            t.listings.c.id == listing))).scalar_one()
    assert [(r.kind, r.amount, r.status) for r in ledger] == [
        ("refund", request.total_amount, "succeeded")]
    assert (orders, stock) == (0, 10)


async def test_an_unavailable_listing_is_rejected(client, settings, session_db):
    request = order_request(buyer_id=unique("b"), seller_id=unique("s"),
                            listing_id=unique("missing"), method=PaymentMethod.FIAT)
    with pytest.raises(ApiError) as err:
        await order_commands.create_order(client, settings, request)
    assert err.value.code == "LISTING_UNAVAILABLE"


async def test_cancelling_a_paid_order_refunds_it(client, settings, session_db):
    request, created, handle = await _new_order(client, settings, session_db,
                                                PaymentMethod.FIAT)
    await handle.execute_update(OrderWorkflow.change_status,
                                _change(S.CANCELLED, ActorKind.BUYER, reason="buyer_request"))
    assert (await handle.result()).status is S.CANCELLED
    async with session_db.reader.connect() as conn:
        ledger = (await conn.execute(select(t.payment_operations).where(
            t.payment_operations.c.order_id == created.order_id))).all()
    assert [(r.kind, r.amount) for r in ledger] == [("refund", Decimal("200"))]


async def test_concurrent_updates_apply_one_at_a_time(client, settings, session_db):
    _, _, handle = await _new_order(client, settings, session_db)
    results = await asyncio.gather(
        *(handle.execute_update(OrderWorkflow.change_status, _change(S.ORDER_CONFIRMED))
          for _ in range(3)),
        return_exceptions=True,
    )
    applied = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
    assert len(applied) == 1 and len(refused) == 2
    assert all(r.cause.type == "INVALID_TRANSITION" for r in refused)


async def test_a_refund_the_gateway_fails_is_retried_and_recorded_once(client, settings,
                                                                        session_db):
    # A worker of its own whose gateway fails the first two attempts of every operation.
    flaky = settings.model_copy(update={"task_queue": f"flaky-{uuid.uuid4().hex[:8]}",
                                        "gateway_fail_first_attempts": 2})
    seller = unique("seller")
    listing = await seed_listing(session_db, seller_id=seller, currency="USD")
    request = order_request(buyer_id=unique("buyer"), seller_id=seller, listing_id=listing,
                            method=PaymentMethod.FIAT, total="1")
    async with build_worker(client, session_db, flaky, flaky.task_queue):
        with pytest.raises(ApiError) as err:
            await order_commands.create_order(client, flaky, request)
        assert err.value.code == "AMOUNT_MISMATCH"
        handle = client.get_workflow_handle_for(
            OrderWorkflow.run, workflow_id_for(PaymentMethod.FIAT, request.payment.reference))
        await handle.result()
    async with session_db.reader.connect() as conn:
        ledger = (await conn.execute(select(t.payment_operations).where(
            t.payment_operations.c.payment_reference == request.payment.reference))).all()
    assert [(r.kind, r.attempts) for r in ledger] == [("refund", 3)]


async def test_the_worker_keeps_as_many_orders_in_memory_as_configured(client, settings,
                                                                        session_db):
    sized = settings.model_copy(update={"worker_max_cached_workflows": 2500})
    worker = build_worker(client, session_db, sized, f"orders-{unique('cache')}")
    assert worker.config()["max_cached_workflows"] == 2500
