"""Email templates: a subject, a plain-text part and an HTML part per order event."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


# template -> (subject, sentence); {n} is the order number, {tracking} the tracking line. The
# templates a status or a creation sends are named in domain/statuses.py, an alert's by its kind.
TEMPLATES: dict[str, tuple[str, str]] = {
    "order_created": ("Order {n} received", "Thank you: your order {n} has been placed."),
    "new_order": ("New order {n}", "You have a new order, {n}. Please confirm it."),
    "order_confirmed": ("Order {n} confirmed", "The seller has confirmed your order {n}."),
    "shipped": ("Order {n} has shipped", "Your order {n} is on its way.{tracking}"),
    "delivered": ("Order {n} was delivered", "Order {n} has been delivered."),
    "disputed": ("Order {n} is disputed", "A dispute has been opened on order {n}."),
    "cancelled": ("Order {n} was cancelled", "Order {n} has been cancelled.{reason}"),
    "refunded": ("Order {n} was refunded", "The payment for order {n} has been refunded."),
    "completed": ("Order {n} is complete", "Order {n} is complete. Thank you!"),
    "partially_refunded": ("Part of order {n} refunded",
                           "{note} of order {n} is being refunded.{reason}"),
    "stuck_order": ("Order {n} needs attention", "Order {n} has not moved for a while: {note}"),
    "stuck_shipment": ("Shipment of {n} is late", "The parcel for order {n} has not arrived: "
                       "{note}"),
}


def render(event: str, *, order_number: str, recipient_name: str | None,
           tracking_number: str | None = None, carrier: str | None = None,
           reason: str | None = None, note: str | None = None) -> Email:
    subject, sentence = TEMPLATES[event]
    tracking = ""
    if tracking_number:
        tracking = f" Tracking number: {tracking_number}" + (f" ({carrier})." if carrier else ".")
    body = sentence.format(n=order_number, tracking=tracking,
                           reason=f" Reason: {reason}." if reason else "", note=note or "")
    greeting = f"Hello {recipient_name}," if recipient_name else "Hello,"
    text = f"{greeting}\n\n{body}\n\n-- oms\n"
    page = (f"<p>{html.escape(greeting)}</p><p>{html.escape(body)}</p>"
            f"<p style=\"color:#888\">oms</p>")
    return Email(subject=subject.format(n=order_number), text=text, html=page)
