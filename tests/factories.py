"""Builders for test data: unique ids per call, so tests can share one database."""

from __future__ import annotations

import secrets
from decimal import Decimal

import stripe

from db import reference_repo
from db.engine import Database
from domain.commands import OrderRequest, PaymentInfo, ShippingAddress
from domain.money import CARD_CURRENCIES, to_minor_units
from domain.order import PaymentMethod

# The session's localstripe (tests/conftest.py sets it): card orders are paid there for real.
STRIPE = {"api_base": None}
CARD_CURRENCY = "USD"  # Stripe takes no stablecoins: card orders default to dollars


def card_payment(*, buyer_id: str | None, total: object, currency: str,
                 card: str = "pm_card_visa") -> str:
    """A PaymentIntent paid with a test card at the session's localstripe; its id."""
    assert STRIPE["api_base"], "the stripe_base fixture has not started localstripe"
    client = stripe.StripeClient("sk_test_oms_tests", base_addresses={"api": STRIPE["api_base"]})
    params: dict = {"amount": to_minor_units(Decimal(str(total)), currency),
                    "currency": currency.lower(), "payment_method": card, "confirm": True}
    if buyer_id is not None:
        params["metadata"] = {"buyerId": buyer_id}
    return client.v1.payment_intents.create(params).id


def currency_for(method: PaymentMethod | str) -> str:
    """The currency tests pay in by each method: dollars by card, a stablecoin on chain."""
    return CARD_CURRENCY if PaymentMethod(method) is PaymentMethod.FIAT else "USDC"


def default_currency(method: PaymentMethod | str, currency: str | None) -> str:
    return currency or currency_for(method)


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


def tx_hash() -> str:
    return "0x" + secrets.token_hex(32)


async def seed_listing(db: Database, *, seller_id: str, price: str = "100", currency: str = "USDC",
                       inventory: int = 10, listing_id: str | None = None,
                       title: str = "Wireless Headphones") -> str:
    listing_id = listing_id or unique("listing")
    async with db.transaction() as conn:
        await reference_repo.upsert_listing(
            conn, listing_id, seller_id=seller_id, title=title,
            description="Over-ear", unit_price=Decimal(price), currency=currency,
            inventory=inventory,
        )
    return listing_id


def payment(method: PaymentMethod, *, final: bool = True, buyer_id: str = "",
            total: object = "200", currency: str = CARD_CURRENCY) -> PaymentInfo:
    if method is PaymentMethod.CRYPTO:
        ref = tx_hash()
        return PaymentInfo(method=method, reference=ref, final=final, transaction_hash=ref,
                           gas_fee=Decimal("0.00042"))
    if method is PaymentMethod.FIAT:
        # Paid for real where Stripe takes the currency; read-model tests that never meet a
        # provider may still book card orders in a stablecoin, under a made-up reference.
        ref = (card_payment(buyer_id=buyer_id, total=total, currency=currency)
               if currency in CARD_CURRENCIES else unique("pi"))
        return PaymentInfo(method=method, reference=ref, final=final, payment_intent_id=ref,
                           processing_fee=Decimal("6.10"))
    ref = unique("escrow")
    return PaymentInfo(method=method, reference=ref, final=final, escrow_id=ref,
                       transaction_hash=tx_hash())


def order_request(*, buyer_id: str, seller_id: str, listing_id: str, method: PaymentMethod,
                  quantity: int = 2, total: str = "200", currency: str | None = None,
                  final: bool = True) -> OrderRequest:
    currency = default_currency(method, currency)
    return OrderRequest(
        buyer_id=buyer_id,
        seller_id=seller_id,
        listing_id=listing_id,
        quantity=quantity,
        total_amount=Decimal(total),
        currency=currency,
        shipping_address=ShippingAddress(name="John Doe", street="123 Main St", city="New York",
                                         zip_code="10001", country="US", state="NY"),
        payment=payment(method, final=final, buyer_id=buyer_id, total=total, currency=currency),
    )


def checkout_body(*, buyer_id: str, seller_id: str, listing_id: str, method: str = "escrow",
                  quantity: object = 2, total: object = 200, currency: str | None = None) -> dict:
    """The JSON body of POST /api/orders, as in the specification's example."""
    currency = default_currency(method, currency)
    pay: dict = {"success": True, "paymentMethod": method}
    if method == "crypto":
        pay["transactionHash"] = tx_hash()
        pay["gasUsed"] = "0.00042"
    elif method == "fiat":
        pay["paymentIntentId"] = (card_payment(buyer_id=buyer_id, total=total, currency=currency)
                                  if currency in CARD_CURRENCIES else unique("pi"))
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
