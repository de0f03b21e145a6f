"""Writes to the order read model. Only the order workflow's activities call these.

Every write is idempotent under activity retry: rows have ids derived from (order, sequence),
inserts ignore rows already there, and the order row only moves forward in sequence.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import search_index, status_counts
from db import tables as t
from db.ids import row_id
from db.notification_rows import notifications_for_change, notifications_for_creation
from db.upsert import dialect_insert, insert_ignore
from domain.commands import CreatedOrder, CreateOrderCommand, StatusChangeRecord
from domain.errors import DomainError, ErrorCode
from domain.money import quantize, to_wire
from domain.order import ActorKind, OrderStatus
from domain.statuses import describe, info
from live import outbox as live_outbox
from webhooks import inbox


def format_order_number(year: int, value: int) -> str:
    return f"ORD-{year}-{value:06d}"


async def create_order(conn: AsyncConnection, cmd: CreateOrderCommand
                       ) -> tuple[CreatedOrder, bool]:
    """Create the order, its item, payment linkage, first history and timeline rows and its
    notifications, and take the inventory, all in the caller's transaction.

    Returns the order and whether this call made it: a retried activity gets the existing one.
    Raises DomainError with a creation rejection code when the order cannot be made.
    """
    existing = (await conn.execute(
        select(t.orders.c.order_number, t.orders.c.created_at)
        .where(t.orders.c.workflow_id == cmd.workflow_id)
    )).first()
    if existing:
        early = await inbox.claim_early(conn, cmd.workflow_id)
        return CreatedOrder(existing.order_number, existing.created_at, early_events=early), False

    listings = await _take_inventory(conn, cmd)
    number = await _next_order_number(conn, cmd.created_at.year)
    await _insert_order(conn, cmd, listings, number)
    await _insert_items(conn, cmd, listings)
    await _record_first_status(conn, cmd, number)
    await insert_ignore(conn, t.notifications,
                        notifications_for_creation(cmd.order_id, number, cmd.request,
                                                   cmd.created_at))
    early = await inbox.claim_early(conn, cmd.workflow_id)
    return CreatedOrder(order_number=number, created_at=cmd.created_at, early_events=early), True


async def _insert_order(conn: AsyncConnection, cmd: CreateOrderCommand, listings: list[Row],
                        number: str) -> None:
    """The order row, its search document and its seller's status counter."""
    req, pay, now = cmd.request, cmd.request.payment, cmd.created_at
    total = quantize(req.total_amount, req.currency)
    names = await _names(conn, req.buyer_id, req.seller_id)
    document = search_index.compose(number, *(listing.title for listing in listings),
                                    names.get(req.buyer_id, (None,))[0],
                                    *names.get(req.seller_id, (None, None)))
    await conn.execute(
        t.orders.insert().values(
            id=cmd.order_id,
            workflow_id=cmd.workflow_id,
            order_number=number,
            buyer_id=req.buyer_id,
            seller_id=req.seller_id,
            # The first line's listing and price, and the units of all lines (order_items has
            # each line).
            listing_id=req.listing_id,
            quantity=req.units,
            unit_price=quantize(listings[0].unit_price, req.currency),
            total_amount=total,
            currency=req.currency,
            payment_method=pay.method.value,
            # Every status an order can start in names its payment state (domain/statuses.py).
            payment_status=info(cmd.initial_status).payment_state.value,
            payment_reference=pay.reference,
            payment_intent_id=pay.payment_intent_id,
            transaction_hash=pay.transaction_hash,
            escrow_id=pay.escrow_id,
            # What the provider says it kept; the checkout's figure only where no provider
            # reports one.
            processing_fees=(cmd.provider_fee if cmd.provider_fee is not None
                             else pay.processing_fee),
            gas_fees=cmd.gas_fee if cmd.gas_fee is not None else pay.gas_fee,
            status=cmd.initial_status.value,
            status_updated_at=now,
            last_sequence=0,
            shipping_address=dataclasses.asdict(req.shipping_address),
            shipping_method=req.shipping_method,
            estimated_delivery=cmd.estimated_delivery,
            order_notes=req.notes,
            special_instructions=req.special_instructions,
            created_at=now,
            updated_at=now,
            total_units=total_units(total),
            search_text=document,
        )
    )
    await search_index.index_order(conn, cmd.order_id, document, new=True)
    await status_counts.bump(conn, req.seller_id, {cmd.initial_status.value: +1})


async def _insert_items(conn: AsyncConnection, cmd: CreateOrderCommand, listings: list[Row]
                        ) -> None:
    """One row per line, each with a snapshot of its listing as it was sold."""
    req, now = cmd.request, cmd.created_at
    await conn.execute(t.order_items.insert(), [
        {
            "id": row_id(cmd.order_id, "item", index),
            "order_id": cmd.order_id,
            "listing_id": listing.id,
            "product_name": listing.title,
            "product_description": listing.description,
            "quantity": line.quantity,
            "unit_price": quantize(listing.unit_price, req.currency),
            "total_price": quantize(listing.unit_price * line.quantity, req.currency),
            "product_snapshot": {
                "listingId": listing.id,
                "title": listing.title,
                "description": listing.description,
                "unitPrice": to_wire(listing.unit_price, listing.currency),
                "currency": listing.currency,
                "sellerId": listing.seller_id,
                "capturedAt": now.isoformat(),
            },
            # Items are read back in line order: (created_at, id) with ids that do not sort
            # by index, so each line is a microsecond after the one before.
            "created_at": now + timedelta(microseconds=index),
        }
        for index, (line, listing) in enumerate(zip(req.lines, listings, strict=True))
    ])


async def _record_first_status(conn: AsyncConnection, cmd: CreateOrderCommand, number: str
                               ) -> None:
    """History and timeline row 0: the status the order starts in, with its payment."""
    req, pay = cmd.request, cmd.request.payment
    payment_meta = {key: value for key, value in (
        ("transactionHash", pay.transaction_hash),
        ("escrowId", pay.escrow_id),
        ("paymentIntentId", pay.payment_intent_id),
    ) if value}
    await _record_change(
        conn,
        StatusChangeRecord(
            order_id=cmd.order_id,
            order_number=number,
            sequence=0,
            previous_status=None,
            new_status=cmd.initial_status,
            actor_kind=ActorKind.SYSTEM,
            actor_id="system",
            buyer_id=req.buyer_id,
            seller_id=req.seller_id,
            occurred_at=cmd.created_at,
            description=describe(cmd.initial_status),
            reason="order_created",
            metadata=payment_meta,
        ),
        source=ActorKind.SYSTEM.value,
    )


async def _take_inventory(conn: AsyncConnection, cmd: CreateOrderCommand) -> list[Row]:
    """Take the stock of every line, or of none: any refusal raises, and the caller's
    transaction then takes nothing. The listings of the lines, in line order."""
    req, lines = cmd.request, cmd.request.lines
    # Locked in one order by every checkout, so two carts sharing listings cannot deadlock.
    locked = {row.id: row for row in (await conn.execute(
        select(t.listings).where(t.listings.c.id.in_([line.listing_id for line in lines]))
        .order_by(t.listings.c.id).with_for_update()
    )).all()}
    listings = []
    for line in lines:
        listing = locked.get(line.listing_id)
        if listing is None or not listing.active or listing.seller_id != req.seller_id:
            raise DomainError(ErrorCode.LISTING_UNAVAILABLE,
                              f"{_named(listing, line)} is no longer available")
        if listing.currency != req.currency:
            raise DomainError(
                ErrorCode.AMOUNT_MISMATCH,
                f"{_named(listing, line)} is priced in {listing.currency}, the payment was in "
                f"{req.currency}")
        listings.append(listing)
    expected = sum((Decimal(listing.unit_price) * line.quantity
                    for line, listing in zip(lines, listings, strict=True)), Decimal(0))
    if expected != req.total_amount:
        raise DomainError(
            ErrorCode.AMOUNT_MISMATCH,
            f"the total should be {to_wire(expected, req.currency)} {req.currency}",
        )
    for line, listing in zip(lines, listings, strict=True):
        taken = await conn.execute(
            update(t.listings)
            .where(t.listings.c.id == line.listing_id, t.listings.c.inventory >= line.quantity)
            .values(inventory=t.listings.c.inventory - line.quantity, updated_at=cmd.created_at)
        )
        if taken.rowcount != 1:
            raise DomainError(
                ErrorCode.INSUFFICIENT_INVENTORY,
                f"only {listing.inventory} of {_named(listing, line)} left in stock")
    return listings


def _named(listing: Row | None, line) -> str:
    return f"{listing.title!r}" if listing is not None else f"listing {line.listing_id}"


def total_units(amount: Decimal) -> int:
    """The total as an exact integer of 1e-8 units: a sort key that is right on SQLite too."""
    return int(amount * 100_000_000)


async def _names(conn: AsyncConnection, *user_ids: str) -> dict[str, tuple[str, str | None]]:
    rows = await conn.execute(select(t.users.c.id, t.users.c.name, t.users.c.store_name)
                              .where(t.users.c.id.in_(user_ids)))
    return {r.id: (r.name, r.store_name) for r in rows}


async def _next_order_number(conn: AsyncConnection, year: int) -> str:
    # One counter row per year, bumped inside the order's own transaction: numbers are unique
    # and a rolled-back creation gives its number back. One statement creates or bumps it.
    counters = t.order_number_counters
    stmt = dialect_insert(conn, counters).values(year=year, last_value=1)
    value = (await conn.execute(
        stmt.on_conflict_do_update(index_elements=["year"],
                                   set_={"last_value": counters.c.last_value + 1})
        .returning(counters.c.last_value)
    )).scalar_one()
    return format_order_number(year, value)


async def record_status_change(conn: AsyncConnection, rec: StatusChangeRecord) -> str | None:
    """Apply one status change to the read model; applying it twice changes nothing.

    Returns the order's payment method when its row moved, None for a retry or a late write."""
    values: dict[str, object] = {
        "status": rec.new_status.value,
        "status_updated_at": rec.occurred_at,
        "last_sequence": rec.sequence,
        "updated_at": rec.occurred_at,
    }
    if rec.tracking_number:
        values["tracking_number"] = rec.tracking_number
    if rec.carrier:
        values["carrier"] = rec.carrier
    if rec.estimated_delivery:
        values["estimated_delivery"] = rec.estimated_delivery
    row = info(rec.new_status)
    if row.stamps is not None:
        values[row.stamps] = rec.occurred_at
    if row.payment_state is not None:
        values["payment_status"] = row.payment_state.value
    if rec.new_status is OrderStatus.CANCELLED and rec.previous_status is not None:
        values["cancelled_from"] = rec.previous_status.value
    if rec.tracking_number:
        values["search_text"] = (t.orders.c.search_text + " "
                                 + search_index.compose(rec.tracking_number))
    moved = (await conn.execute(
        update(t.orders)
        .where(t.orders.c.id == rec.order_id, t.orders.c.last_sequence < rec.sequence)
        .values(**values)
        .returning(t.orders.c.seller_id, t.orders.c.search_text, t.orders.c.payment_method)
    )).first()
    if moved is not None:  # this write took effect: a retry or a late write does not get here
        changes = {rec.new_status.value: +1}
        if rec.previous_status is not None:
            changes[rec.previous_status.value] = -1
        await status_counts.bump(conn, moved.seller_id, changes)
        if rec.tracking_number:
            await search_index.index_order(conn, rec.order_id, moved.search_text)
    # The timeline names who made the change: a person's relation to the order, or "system".
    await _record_change(conn, rec, source=rec.actor_kind.value)
    await insert_ignore(conn, t.notifications, notifications_for_change(rec))
    return moved.payment_method if moved is not None else None


async def _record_change(conn: AsyncConnection, rec: StatusChangeRecord, *, source: str) -> None:
    meta = dict(rec.metadata)
    for key, value in (
        ("trackingNumber", rec.tracking_number),
        ("carrier", rec.carrier),
        ("estimatedDelivery", rec.estimated_delivery.isoformat() if rec.estimated_delivery
         else None),
    ):
        if value:
            meta[key] = value
    await insert_ignore(
        conn,
        t.order_status_history,
        {
            "id": row_id(rec.order_id, "history", rec.sequence),
            "order_id": rec.order_id,
            "sequence": rec.sequence,
            "previous_status": rec.previous_status.value if rec.previous_status else None,
            "new_status": rec.new_status.value,
            "changed_by": rec.actor_id,
            "actor_kind": rec.actor_kind.value,
            "change_reason": rec.reason,
            "metadata": meta,
            "notes": rec.notes,
            "created_at": rec.occurred_at,
        },
    )
    await insert_ignore(
        conn,
        t.order_tracking_events,
        {
            "id": row_id(rec.order_id, "event", rec.sequence),
            "order_id": rec.order_id,
            "sequence": rec.sequence,
            "event_type": "status_change",
            "status": rec.new_status.value,
            "description": rec.description,
            "event_data": meta,
            "event_source": source,
            "occurred_at": rec.occurred_at,
            "recorded_at": datetime.now(rec.occurred_at.tzinfo),
        },
    )
    await live_outbox.announce(conn, rec, {
        "id": row_id(rec.order_id, "event", rec.sequence),
        "status": rec.new_status.value,
        "timestamp": rec.occurred_at.isoformat().replace("+00:00", "Z"),
        "description": rec.description,
        "source": source,
        "metadata": meta,
    })
