"""Record workflow histories for the replay test: `python -m tests.record_histories`.

Runs representative orders on a throwaway dev server and SQLite database and writes each
history to tests/histories/. `v3_*` were recorded with the workflow of release 0.1.0 and may not
be re-recorded: they stand for orders still running that code. A patched change gets new `vN_*`
histories (CHANGELOG.md says which patch each version brought).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import stripe
from temporalio.client import WorkflowFailureError

from api import order_commands
from api.errors import ApiError
from db.engine import create_database
from db.migrate import upgrade
from domain.commands import OrderLine, StatusChangeRequest
from domain.events import EventSource, ExternalEvent
from domain.order import ActorKind, OrderStatus, PaymentMethod, flow_for
from domain.parcels import ParcelLine, ShipParcelRequest
from domain.refunds import RefundLine, RefundRequest
from oms.settings import Settings
from oms.temporal import connect
from tests import factories, servers
from tests.factories import card_payment, currency_for, order_request, seed_listing
from worker import build_worker
from workflows.order_workflow import OrderWorkflow
from workflows.shared import workflow_id_for

HISTORIES = Path(__file__).parent / "histories"
ACTORS = {OrderStatus.IN_TRANSIT: ActorKind.SYSTEM, OrderStatus.DELIVERED: ActorKind.SYSTEM,
          OrderStatus.COMPLETED: ActorKind.BUYER}


async def _record(address: str, db_url: str, stripe_base: str, only: str) -> None:
    settings = Settings(database_url=db_url, temporal_address=address, _env_file=None,
                        stripe_api_base=stripe_base, stuck_alert_after=timedelta(seconds=1),
                        chain_stand_in=True)  # its crypto and escrow orders' made-up payments
    client = await connect(address)
    db = create_database(db_url)
    for method in PaymentMethod:
        await seed_listing(db, seller_id="seller-rec", inventory=100,
                           listing_id=_listing(method), currency=currency_for(method))
    await seed_listing(db, seller_id="seller-rec", inventory=100, listing_id=SECOND_LISTING,
                       price="25", currency="USD", title="Leather Case")
    listing = None  # each scenario's order takes the listing priced in its method's currency
    async with build_worker(client, db, settings, settings.task_queue):
        for name, scenario in SCENARIOS.items():
            if name.startswith(only):
                handle = await scenario(client, settings, listing)
                _write(name, await handle.fetch_history())
    await db.dispose()


def _listing(method: PaymentMethod) -> str:
    return f"listing-rec-{currency_for(method).lower()}"


async def _start(client, settings, listing, method, **kw):
    items = kw.pop("items", [])
    request = replace(order_request(buyer_id="buyer-rec", seller_id="seller-rec",
                                    listing_id=listing or _listing(method), method=method, **kw),
                      items=items)
    try:
        await order_commands.create_order(client, settings, request)
    except ApiError:
        pass  # a refused order is a history worth keeping too
    return client.get_workflow_handle_for(
        OrderWorkflow.run, workflow_id_for(method, request.payment.reference))


async def _walk(handle, statuses, **kw):
    for status in statuses:
        await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
            status=status, actor_kind=ACTORS.get(status, ActorKind.SELLER), actor_id="rec",
            tracking_number="1Z999AA1234567890", **kw))


def _happy(method):
    async def scenario(client, settings, listing):
        handle = await _start(client, settings, listing, method)
        await _walk(handle, flow_for(method)[1:])
        await handle.result()
        return handle
    return scenario


async def _rejected(client, settings, listing):
    handle = await _start(client, settings, listing, PaymentMethod.FIAT, total="1")
    await handle.result()
    return handle


async def _payment_refused(client, settings, listing):
    # A PaymentIntent paid by someone else: the provider's record names another buyer.
    paid_by_another = card_payment(buyer_id="someone-else", total="200", currency="USD")
    request = order_request(buyer_id="buyer-rec", seller_id="seller-rec",
                            listing_id=_listing(PaymentMethod.FIAT), method=PaymentMethod.FIAT)
    request = replace(request, payment=replace(request.payment, reference=paid_by_another,
                                               payment_intent_id=paid_by_another))
    with contextlib.suppress(ApiError):
        await order_commands.create_order(client, settings, request)
    handle = client.get_workflow_handle_for(
        OrderWorkflow.run, workflow_id_for(PaymentMethod.FIAT, paid_by_another))
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()
    return handle


async def _pending_rechecked_then_failed(client, settings, listing):
    # The crypto stand-in keeps answering "processing" for a pending claim: asked again each
    # second until the payment times out.
    quick = settings.with_policy(payment_recheck_interval=timedelta(seconds=1),
                                 payment_timeout=timedelta(seconds=3, milliseconds=500))
    handle = await _start(client, quick, listing, PaymentMethod.CRYPTO, final=False)
    await handle.result()
    return handle


async def _cancelled_by_buyer(client, settings, listing):
    handle = await _start(client, settings, listing, PaymentMethod.FIAT)
    await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
        status=OrderStatus.CANCELLED, actor_kind=ActorKind.BUYER, actor_id="rec",
        reason="buyer_request"))
    await handle.result()
    return handle


async def _carrier_and_escrow_events(client, settings, listing):
    handle = await _start(client, settings, listing, PaymentMethod.ESCROW)
    await _walk(handle, (OrderStatus.ORDER_CONFIRMED, OrderStatus.PROCESSING,
                         OrderStatus.READY_TO_SHIP))
    now = datetime.now(UTC)
    for i, (source, kind) in enumerate([
        (EventSource.SHIPPING, "picked_up"), (EventSource.SHIPPING, "picked_up"),
        (EventSource.SHIPPING, "exception"), (EventSource.SHIPPING, "delivered"),
        (EventSource.SHIPPING, "in_transit"), (EventSource.ESCROW, "EscrowReleased"),
    ]):
        await handle.signal(OrderWorkflow.external_event, ExternalEvent(
            source=source, event_id=f"rec-{i}", kind=kind, occurred_at=now,
            tracking_number="1Z999AA1234567890", carrier="UPS"))
    await handle.result()
    return handle


async def _stuck_then_disputed_and_refunded(client, settings, listing):
    handle = await _start(client, settings, listing, PaymentMethod.CRYPTO)
    await _walk(handle, (OrderStatus.ORDER_CONFIRMED,))
    await asyncio.sleep(2.5)  # the stuck-order alert (after 1 s here) fires once
    await _walk(handle, (OrderStatus.PROCESSING, OrderStatus.READY_TO_SHIP, OrderStatus.SHIPPED,
                         OrderStatus.DELIVERED))
    await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
        status=OrderStatus.DISPUTED, actor_kind=ActorKind.BUYER, actor_id="rec",
        reason="dispute_opened", evidence=["photo"]))
    await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
        status=OrderStatus.REFUNDED, actor_kind=ActorKind.OPERATOR, actor_id="ops",
        reason="dispute_refund", refund_amount=Decimal("50")))
    await handle.result()
    return handle


async def _card_processor_events(client, settings, listing):
    # A quarter refunded in the Stripe dashboard, told by charge.refunded; a payment event and a
    # chargeback for the paid order; then the buyer cancels and gets only the rest back.
    handle = await _start(client, settings, listing, PaymentMethod.FIAT)
    intent = handle.id.removeprefix("order-fiat-")
    stripe_api = stripe.StripeClient("sk_test_recording",
                                     base_addresses={"api": factories.STRIPE["api_base"]})
    stripe_api.v1.refunds.create({"payment_intent": intent, "amount": 5000})
    now = datetime.now(UTC)
    for i, kind in enumerate(["charge.refunded", "payment_intent.succeeded",
                              "charge.dispute.created", "charge.refunded"]):
        await handle.signal(OrderWorkflow.external_event, ExternalEvent(
            source=EventSource.CARD, event_id=f"evt_rec{i}", kind=kind, occurred_at=now,
            payment_reference=intent))
    await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
        status=OrderStatus.CANCELLED, actor_kind=ActorKind.BUYER, actor_id="rec",
        reason="buyer_request"))
    await handle.result()
    return handle


SECOND_LISTING = "listing-rec-usd-case"


async def _refund(handle, refund_id, amount, actor=ActorKind.SELLER, lines=()):
    await handle.execute_update(OrderWorkflow.refund, RefundRequest(
        refund_id=refund_id, actor_kind=actor, actor_id="rec", amount=Decimal(amount),
        reason="arrived broken", lines=[RefundLine(x, q) for x, q in lines]))


async def _several_items_partly_refunded_then_cancelled(client, settings, listing):
    # 2 x 100 + 3 x 25 by card: one case refunded with its stock, a goodwill credit, then the
    # seller cancels and the rest goes back.
    method, first = PaymentMethod.FIAT, _listing(PaymentMethod.FIAT)
    lines = [OrderLine(first, 2), OrderLine(SECOND_LISTING, 3)]
    handle = await _start(client, settings, listing, method, total="275",
                          items=lines)
    await _refund(handle, "rf_rec1", "25", lines=((SECOND_LISTING, 1),))
    await _refund(handle, "rf_rec2", "10.50", actor=ActorKind.OPERATOR)
    await _walk(handle, (OrderStatus.ORDER_CONFIRMED,))
    await handle.execute_update(OrderWorkflow.change_status, StatusChangeRequest(
        status=OrderStatus.CANCELLED, actor_kind=ActorKind.SELLER, actor_id="rec",
        reason="seller_out_of_stock"))
    await handle.result()
    return handle


async def _escrow_partly_refunded_then_completed(client, settings, listing):
    handle = await _start(client, settings, listing, PaymentMethod.ESCROW)
    await _refund(handle, "rf_rec1", "40", actor=ActorKind.OPERATOR)
    await _walk(handle, flow_for(PaymentMethod.ESCROW)[1:])
    await handle.result()
    return handle


async def _two_parcels_delivered(client, settings, listing):
    # 2 units in two parcels; the second parcel's scans come first and one twice, then a scan
    # for no parcel of the order, and the buyer confirms receipt.
    handle = await _start(client, settings, listing, PaymentMethod.CRYPTO)
    await _walk(handle, (OrderStatus.ORDER_CONFIRMED, OrderStatus.PROCESSING,
                         OrderStatus.READY_TO_SHIP))
    first = _listing(PaymentMethod.CRYPTO)
    for tracking in ("1ZRECPARCEL1", "1ZRECPARCEL2"):
        await handle.execute_update(OrderWorkflow.ship_parcel, ShipParcelRequest(
            actor_kind=ActorKind.SELLER, actor_id="rec", tracking_number=tracking,
            carrier="UPS", lines=[ParcelLine(first, 1)]))
    now = datetime.now(UTC)
    for i, (tracking, kind) in enumerate([
        ("1ZRECPARCEL2", "delivered"), ("1ZRECPARCEL2", "delivered"),
        ("1ZRECPARCEL1", "out_for_delivery"), ("1ZNOTOURS000", "delivered"),
        ("1ZRECPARCEL1", "delivered"),
    ]):
        await handle.signal(OrderWorkflow.external_event, ExternalEvent(
            source=EventSource.SHIPPING, event_id=f"rec-parcel-{i if i != 1 else 0}",
            kind=kind, occurred_at=now, tracking_number=tracking, carrier="UPS"))
    await _walk(handle, (OrderStatus.COMPLETED,))
    await handle.result()
    return handle


SCENARIOS = {
    # v3: release 0.1.0.
    **{f"v3_{m.value}_happy_path": _happy(m) for m in PaymentMethod},
    "v3_rejected_and_refunded": _rejected,
    "v3_cancelled_by_buyer": _cancelled_by_buyer,
    "v3_carrier_and_escrow_events": _carrier_and_escrow_events,
    "v3_stuck_then_disputed_and_refunded": _stuck_then_disputed_and_refunded,
    # v4: payments verified with their provider (patch "verify-payment").
    **{f"v4_{m.value}_happy_path": _happy(m) for m in PaymentMethod},
    "v4_payment_refused": _payment_refused,
    "v4_pending_rechecked_then_failed": _pending_rechecked_then_failed,
    "v4_rejected_and_refunded": _rejected,
    "v4_cancelled_by_buyer": _cancelled_by_buyer,
    "v4_carrier_and_escrow_events": _carrier_and_escrow_events,
    "v4_stuck_then_disputed_and_refunded": _stuck_then_disputed_and_refunded,
    # v4, later in 0.2.0: the card processor's events (no patch: only new signals take them).
    "v4_card_processor_events": _card_processor_events,
    # Payloads encrypted by the codec (oms/codec.py, the dev key), as every client now writes.
    "v4_encrypted_fiat_happy_path": _happy(PaymentMethod.FIAT),
    # v5: events applied before the updates that follow them are validated (patch
    # "events-before-updates").
    "v5_carrier_and_escrow_events": _carrier_and_escrow_events,
    "v5_card_processor_events": _card_processor_events,
    # v6: orders of several items, and partial refunds (no patch: only new orders have
    # several lines, and only the new `refund` update takes a refund).
    "v6_several_items_partly_refunded_then_cancelled":
        _several_items_partly_refunded_then_cancelled,
    "v6_escrow_partly_refunded_then_completed": _escrow_partly_refunded_then_completed,
    # v6: parcels (patch "parcels").
    "v6_two_parcels_delivered": _two_parcels_delivered,
}
CURRENT = "v6"  # what the code records today; earlier prefixes are never re-recorded


def _write(name: str, history) -> None:
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())
    print(f"recorded {name}: {len(history.events)} events")


def main() -> None:
    # Only the histories whose names start with the argument (the current version by
    # default): histories of earlier code stay as they were recorded.
    only = sys.argv[1] if len(sys.argv) > 1 else CURRENT
    with (tempfile.TemporaryDirectory() as tmp, servers.temporal_dev_server() as address,
          servers.localstripe() as stripe_base):
        factories.STRIPE["api_base"] = stripe_base
        db_url = f"sqlite+aiosqlite:///{tmp}/oms.db"
        upgrade(db_url)
        asyncio.run(_record(address, db_url, stripe_base, only))


if __name__ == "__main__":
    main()
