"""Read-model rows to the JSON shapes of the specification (camelCase, amounts as strings)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from db.order_lists import LineSummary
from domain.commands import OrderSnapshot
from domain.money import to_wire
from domain.order import PaymentMethod
from domain.refunds import RefundOutcome
from workflows.shared import workflow_id_for


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat()


def money(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else to_wire(amount, currency)


def created_order(snapshot: OrderSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.order_id,
        "orderNumber": snapshot.order_number,
        "status": snapshot.status.value,
        "totalAmount": money(snapshot.total_amount, snapshot.currency),
        "currency": snapshot.currency,
        "estimatedDelivery": iso(snapshot.estimated_delivery),
        "createdAt": iso(snapshot.created_at),
        "trackingUrl": f"/api/orders/{snapshot.order_id}",
    }


def status_changed(snapshot: OrderSnapshot) -> dict[str, Any]:
    return {
        "id": snapshot.order_id,
        "orderNumber": snapshot.order_number,
        "status": snapshot.status.value,
        "previousStatus": snapshot.previous_status.value if snapshot.previous_status else None,
        "statusUpdatedAt": iso(snapshot.status_updated_at),
        "trackingNumber": snapshot.tracking_number,
        "carrier": snapshot.carrier,
        "estimatedDelivery": iso(snapshot.estimated_delivery),
    }


def status_change_reply(snapshot: OrderSnapshot) -> dict[str, Any]:
    """What every route that changes a status answers."""
    return {"success": True, "order": status_changed(snapshot)}


def payment_operation(op: Row) -> dict[str, Any]:
    """A refund or release the provider confirmed."""
    return {"kind": op.kind, "amount": money(op.amount, op.currency), "currency": op.currency,
            "providerId": op.external_id, "status": op.status, "reason": op.reason,
            "at": iso(op.created_at)}


def order_details(order: Row, items: list[Row], events: list[Row],
                  operations: list[Row], refunds: list[Row]) -> dict[str, Any]:
    cur = order.currency
    return {
        "id": order.id,
        "orderNumber": order.order_number,
        "status": order.status,
        "fulfilment": order.fulfilment,
        "statusUpdatedAt": iso(order.status_updated_at),
        "createdAt": iso(order.created_at),
        "totalAmount": money(order.total_amount, cur),
        "currency": cur,
        "buyer": {"id": order.buyer_id, "name": order.buyer_name, "email": order.buyer_email},
        "seller": {"id": order.seller_id, "name": order.seller_name,
                   "storeName": order.seller_store_name},
        "items": [
            {
                "id": item.id,
                "listingId": item.listing_id,
                "productName": item.product_name,
                "quantity": item.quantity,
                "unitPrice": money(item.unit_price, cur),
                "totalPrice": money(item.total_price, cur),
            }
            for item in items
        ],
        "payment": {
            "method": order.payment_method,
            "status": order.payment_status,
            "operations": [payment_operation(op) for op in operations],
            "transactionHash": order.transaction_hash,
            "escrowId": order.escrow_id,
            "paymentIntentId": order.payment_intent_id,
            "processingFee": money(order.processing_fees, cur),
            "gasFee": None if order.gas_fees is None else format(order.gas_fees, "f"),
        },
        "refunds": [refund(row) for row in refunds],
        "shipping": {
            "method": order.shipping_method,
            "trackingNumber": order.tracking_number,
            "carrier": order.carrier,
            "estimatedDelivery": iso(order.estimated_delivery),
            "deliveredAt": iso(order.actual_delivery_date),
            "address": _address(order.shipping_address),
        },
        "notes": order.order_notes,
        "specialInstructions": order.special_instructions,
        "timeline": [timeline_entry(e, with_metadata=False) for e in events],
    }


def refund(row: Row) -> dict[str, Any]:
    """A partial refund as the read model holds it, with its provider refund's status."""
    status = ("at_settlement" if row.payment_key is None
              else row.provider_status or "requested")
    return _refund(row.refund_id, row.amount, row.currency, row.reason, row.lines,
                   row.actor_kind, row.requested_by, status, row.provider_id, row.created_at)


def refund_taken(outcome: RefundOutcome, order_id: str, currency: str) -> dict[str, Any]:
    """The answer to a refund the order took: the provider's part is still under way."""
    r = outcome.refund
    lines = [{"listingId": x.listing_id, "quantity": x.quantity} for x in r.lines]
    return {
        "success": True,
        "refund": _refund(r.refund_id, r.amount, currency, r.reason, lines, r.actor_kind.value,
                          r.actor_id, "at_settlement" if r.at_settlement else "requested",
                          None, r.at),
        "order": {"id": order_id, "status": outcome.status.value,
                  "refundedAmount": money(outcome.refunded, currency),
                  "refundableAmount": money(outcome.refundable, currency)},
    }


def _refund(refund_id, amount, currency, reason, lines, actor, requested_by, status,
            provider_id, at) -> dict[str, Any]:
    return {"id": refund_id, "amount": money(amount, currency), "currency": currency,
            "reason": reason, "items": lines, "actor": actor, "requestedBy": requested_by,
            "status": status, "providerId": provider_id, "at": iso(at)}


def shipment(row: Row, items: list[Row], events: list[Row]) -> dict[str, Any]:
    """A parcel with its items (by the order's items) and the events that name it."""
    by_listing = {item.listing_id: item for item in items}
    return {
        "trackingNumber": row.tracking_number,
        "carrier": row.carrier,
        "status": row.status,
        "estimatedDelivery": iso(row.estimated_delivery),
        "shippedAt": iso(row.shipped_at),
        "deliveredAt": iso(row.delivered_at),
        "items": [{"itemId": getattr(by_listing.get(line["listingId"]), "id", None),
                   "listingId": line["listingId"],
                   "productName": getattr(by_listing.get(line["listingId"]), "product_name",
                                          None),
                   "quantity": line["quantity"]} for line in row.lines],
        "events": [{"status": e.status, "location": e.location,
                    "timestamp": iso(e.occurred_at), "description": e.description}
                   for e in events
                   if (e.event_data or {}).get("trackingNumber") == row.tracking_number],
    }


def _address(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": stored["name"],
        "street": stored["street"],
        "city": stored["city"],
        "state": stored.get("state"),
        "zipCode": stored["zip_code"],
        "country": stored["country"],
    }


def timeline_entry(event: Row, *, with_metadata: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": event.id,
        "status": event.status,
        "timestamp": iso(event.occurred_at),
        "description": event.description,
        "source": event.event_source,
    }
    data = event.event_data or {}
    if data.get("trackingNumber"):
        entry["trackingNumber"] = data["trackingNumber"]
    if event.location:
        entry["location"] = event.location
    if with_metadata:
        entry["metadata"] = data
    return entry


def history_entry(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "sequence": row.sequence,
        "previousStatus": row.previous_status,
        "newStatus": row.new_status,
        "changedBy": row.changed_by,
        "actor": row.actor_kind,
        "reason": row.change_reason,
        "notes": row.notes,
        "metadata": row._mapping["metadata"] or {},
        "createdAt": iso(row.created_at),
    }


def notification(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "title": row.title,
        "message": row.message,
        "orderId": row.order_id,
        "data": row.data or {},
        "read": row.read_at is not None,
        "createdAt": iso(row.created_at),
    }


def listing(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "sellerId": row.seller_id,
        "title": row.title,
        "description": row.description,
        "unitPrice": money(row.unit_price, row.currency),
        "currency": row.currency,
        "inventory": row.inventory,
        "active": row.active,
        "updatedAt": iso(row.updated_at),
    }


def alert(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "orderId": row.order_id,
        "orderNumber": row.order_number,
        "kind": row.kind,
        "orderStatus": row.order_status,
        "message": row.message,
        "raisedAt": iso(row.raised_at),
    }


def list_item(row: Row, lines: list[LineSummary], view: str, caller: str | None = None
              ) -> dict[str, Any]:
    """One line of a list: the buyer sees the seller, the seller sees the buyer, operators and
    search results (where the caller may be either) see both."""
    item: dict[str, Any] = {
        "id": row.id,
        "orderNumber": row.order_number,
        "status": row.status,
        "itemCount": sum(line.quantity for line in lines),
        "items": [{"listingId": line.listing_id, "productName": line.product_name,
                   "quantity": line.quantity} for line in lines],
        "totalAmount": money(row.total_amount, row.currency),
        "currency": row.currency,
        "paymentMethod": row.payment_method,
        "paymentStatus": row.payment_status,
        "createdAt": iso(row.created_at),
        "statusUpdatedAt": iso(row.status_updated_at),
        "estimatedDelivery": iso(row.estimated_delivery),
        "trackingNumber": row.tracking_number,
    }
    if view == "buyer" or (view == "party" and caller == row.buyer_id):
        item["seller"] = _seller(row)
    elif view == "seller" or view == "party":
        item["buyer"] = _buyer(row)
    else:
        item["buyer"], item["seller"] = _buyer(row), _seller(row)
        item["buyerId"], item["sellerId"] = row.buyer_id, row.seller_id
        # Operators open the order's run in the Temporal Web UI by it.
        item["workflowId"] = workflow_id_for(PaymentMethod(row.payment_method),
                                             row.payment_reference)
    return item


def _seller(row: Row) -> dict[str, Any]:
    return {"id": row.seller_id, "name": row.seller_name, "storeName": row.seller_store_name}


def _buyer(row: Row) -> dict[str, Any]:
    return {"id": row.buyer_id, "name": row.buyer_name}


def _every_day(by_day, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One entry per UTC day the window touches, days without orders at zero: a chart's
    x axis."""
    known = {d.day: d for d in by_day}
    first, last = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(
        UTC).date()
    out = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        d = known.get(day)
        out.append({"day": day.isoformat(), "created": d.created if d else 0,
                    "completed": d.completed if d else 0, "cancelled": d.cancelled if d else 0,
                    "timeToShipSeconds": d.to_shipped_seconds if d else None})
    return out


def stats(result, start: datetime, end: datetime, *, seller_id: str | None) -> dict[str, Any]:
    days = max((end - start).total_seconds() / 86400, 1e-9)
    created = result.created

    def rate(part: int, whole: int) -> float | None:
        return None if whole == 0 else round(part / whole, 4)

    return {
        "scope": {"sellerId": seller_id} if seller_id else {"platform": True},
        "from": iso(start),
        "to": iso(end),
        "countsByStatus": result.counts_by_status,
        "ordersCreated": created,
        "creationRatePerDay": round(created / days, 3),
        "completionRate": rate(result.completed, created),
        "cancellationRate": rate(sum(result.cancelled_from.values()), created),
        "cancellationsByStatus": result.cancelled_from,
        "averageOrderValue": {cur: money(value, cur) for cur, value in
                              result.average_value.items()},
        "timeToFulfilmentSeconds": result.fulfilment_seconds,
        "ordersPerDay": _every_day(result.by_day, start, end),
        "paymentMethods": {
            method: {"orders": m["orders"], "share": rate(m["orders"], created),
                     "successRate": rate(m["completed"], m["completed"] + m["failed"])}
            for method, m in result.by_method.items()
        },
    }
