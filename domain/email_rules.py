"""Who gets an email for what (templates in activities/email_templates.py). Pure."""

from __future__ import annotations

from domain.order import OrderStatus

S = OrderStatus
BOTH = ("buyer", "seller")

# Creation: the buyer's receipt and the seller's new-order note.
ON_CREATION = (("order_created", ("buyer",)), ("new_order", ("seller",)))
ON_STATUS: dict[OrderStatus, tuple[str, tuple[str, ...]]] = {
    S.ORDER_CONFIRMED: ("order_confirmed", ("buyer",)),
    S.SHIPPED: ("shipped", ("buyer",)),
    S.DELIVERED: ("delivered", BOTH),
    S.DISPUTED: ("disputed", BOTH),
    S.CANCELLED: ("cancelled", BOTH),
    S.REFUNDED: ("refunded", BOTH),
    S.COMPLETED: ("completed", BOTH),
}
# Stuck-order and stuck-shipment alerts go to the seller, who can act on them.
ON_ALERT = {"stuck_order": ("seller",), "stuck_shipment": ("seller",)}
