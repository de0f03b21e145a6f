"""In-app notification rows for the buyer and the seller of an order.

Each row's id is derived from (order, sequence, recipient), so a retried write is a no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.ids import row_id
from domain.commands import OrderRequest, StatusChangeRecord
from domain.statuses import ON_CREATION, Party, info


def notifications_for_creation(
    order_id: str, order_number: str, req: OrderRequest, now: datetime
) -> list[dict[str, Any]]:
    data = {"orderId": order_id, "orderNumber": order_number}
    recipients = {Party.BUYER: req.buyer_id, Party.SELLER: req.seller_id}
    return [
        _row(order_id, 0, recipients[notice.party], notice.kind, notice.title,
             notice.message.format(n=order_number), data, now)
        for notice in ON_CREATION
    ]


def notifications_for_change(rec: StatusChangeRecord) -> list[dict[str, Any]]:
    status = rec.new_status.value
    data = {"orderId": rec.order_id, "orderNumber": rec.order_number, "status": status}
    if rec.previous_status:
        data["previousStatus"] = rec.previous_status.value
    if rec.tracking_number:
        data["trackingNumber"] = rec.tracking_number
    title = info(rec.new_status).title
    message = f"Order {rec.order_number}: {rec.description}"
    return [
        _row(rec.order_id, rec.sequence, user, f"order_{status}", title, message, data,
             rec.occurred_at)
        for user in (rec.buyer_id, rec.seller_id)
    ]


def _row(order_id: str, sequence: int, user_id: str, kind: str, title: str, message: str,
         data: dict[str, str], now: datetime) -> dict[str, Any]:
    return {
        "id": row_id(order_id, "notification", sequence, user_id),
        "user_id": user_id,
        "order_id": order_id,
        "type": kind,
        "title": title,
        "message": message,
        "data": data,
        "created_at": now,
    }
