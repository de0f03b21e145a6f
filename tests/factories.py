"""Builders for test data: unique ids per call, so tests can share one database."""

from __future__ import annotations

import secrets
from decimal import Decimal

from db import reference_repo
from db.engine import Database
from domain.commands import OrderRequest, PaymentInfo, ShippingAddress
from domain.order import PaymentMethod


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


def tx_hash() -> str:
    return "0x" + secrets.token_hex(32)


async def seed_listing(db: Database, *, seller_id: str, price: str = "100", currency: str = "USDC",
                       inventory: int = 10, listing_id: str | None = None) -> str:
    listing_id = listing_id or unique("listing")
    async with db.transaction() as conn:
        await reference_repo.upsert_listing(
            conn, listing_id, seller_id=seller_id, title="Wireless Headphones",
            description="Over-ear", unit_price=Decimal(price), currency=currency,
            inventory=inventory,
        )
    return listing_id


def payment(method: PaymentMethod, *, final: bool = True) -> PaymentInfo:
    if method is PaymentMethod.CRYPTO:
        ref = tx_hash()
        return PaymentInfo(method=method, reference=ref, final=final, transaction_hash=ref,
                           gas_fee=Decimal("0.00042"))
    if method is PaymentMethod.FIAT:
        ref = unique("pi")
        return PaymentInfo(method=method, reference=ref, final=final, payment_intent_id=ref,
                           processing_fee=Decimal("6.10"))
    ref = unique("escrow")
    return PaymentInfo(method=method, reference=ref, final=final, escrow_id=ref,
                       transaction_hash=tx_hash())


def order_request(*, buyer_id: str, seller_id: str, listing_id: str, method: PaymentMethod,
                  quantity: int = 2, total: str = "200", currency: str = "USDC",
                  final: bool = True) -> OrderRequest:
    return OrderRequest(
        buyer_id=buyer_id,
        seller_id=seller_id,
        listing_id=listing_id,
        quantity=quantity,
        total_amount=Decimal(total),
        currency=currency,
        shipping_address=ShippingAddress(name="John Doe", street="123 Main St", city="New York",
                                         zip_code="10001", country="US", state="NY"),
        payment=payment(method, final=final),
    )


def checkout_body(*, buyer_id: str, seller_id: str, listing_id: str, method: str = "escrow",
                  quantity: object = 2, total: object = 200, currency: str = "USDC") -> dict:
    """The JSON body of POST /api/orders, as in the specification's example."""
    pay: dict = {"success": True, "paymentMethod": method}
    if method == "crypto":
        pay["transactionHash"] = tx_hash()
        pay["gasUsed"] = "0.00042"
    elif method == "fiat":
        pay["paymentIntentId"] = unique("pi")
        pay["processingFee"] = "6.10"
    else:
        pay["transactionHash"] = tx_hash()
        pay["escrowId"] = unique("escrow")
    return {
        "paymentResult": pay,
        "checkoutData": {
            "buyerId": buyer_id,
            "sellerId": seller_id,
            "listingId": listing_id,
            "quantity": quantity,
            "totalAmount": total,
            "currency": currency,
            "shippingAddress": {"name": "John Doe", "street": "123 Main St", "city": "New York",
                                "state": "NY", "zipCode": "10001", "country": "US"},
        },
    }
