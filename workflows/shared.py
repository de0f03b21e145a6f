"""The one home of the task queue, workflow ids and search attributes."""

from __future__ import annotations

import uuid

from temporalio.common import SearchAttributeKey

from domain.order import PaymentMethod

_ORDER_IDS = uuid.UUID("0b7d7f53-2f0f-4d35-8f0e-3f3b8f6c2d90")

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
ORDER_NUMBER = SearchAttributeKey.for_keyword("OrderNumber")
BUYER_ID = SearchAttributeKey.for_keyword("BuyerId")
SELLER_ID = SearchAttributeKey.for_keyword("SellerId")
PAYMENT_METHOD = SearchAttributeKey.for_keyword("PaymentMethod")
ORDER_TOTAL = SearchAttributeKey.for_float("OrderTotal")
STUCK_SINCE = SearchAttributeKey.for_datetime("StuckSince")

# name -> type as the Temporal CLI's --search-attribute flag spells it
SEARCH_ATTRIBUTES: dict[str, str] = {
    "OrderStatus": "Keyword",
    "OrderNumber": "Keyword",
    "BuyerId": "Keyword",
    "SellerId": "Keyword",
    "PaymentMethod": "Keyword",
    "OrderTotal": "Double",
    "StuckSince": "Datetime",
}


def workflow_id_for(method: PaymentMethod, payment_reference: str) -> str:
    """One payment, one order: the id is the payment itself, so a retry finds the same run."""
    return f"order-{method.value}-{payment_reference}"


def order_id_for(workflow_id: str) -> str:
    """The public order id: stable for a payment, but not the payment reference itself."""
    return str(uuid.uuid5(_ORDER_IDS, workflow_id))
