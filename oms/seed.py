"""Demo reference data for the dev stack: a buyer, a seller with a store, listings, an operator."""

from __future__ import annotations

from decimal import Decimal

from db import reference_repo
from db.engine import Database

DEMO_BUYER = "buyer123"
DEMO_SELLER = "seller456"
DEMO_OPERATOR = "ops1"
DEMO_SHIPPING_SYSTEM = "shipping-integration"
DEMO_SUPPORT = "support1"  # read-only; has no user row, like the carrier

USERS = [
    (DEMO_BUYER, "John Doe", "john@example.com", None),
    (DEMO_SELLER, "Alice Store", "alice@example.com", "Alice's Electronics"),
    (DEMO_OPERATOR, "Olivia Ops", "ops@example.com", None),
]
LISTINGS = [
    ("listing789", "Wireless Headphones", "Over-ear, noise cancelling", Decimal("100"), "USDC",
     1000),
    ("listing790", "USB-C Charger", "65 W, two ports", Decimal("39.99"), "USD", 1000),
    ("listing792", "USB-C Cable", "2 m, braided", Decimal("9.99"), "USD", 1000),
    ("listing791", "Mechanical Keyboard", "Hot-swappable switches", Decimal("0.05"), "ETH", 1000),
]


async def seed_demo(db: Database, wallets: dict[str, str] | None = None) -> None:
    """Upsert the demo users (with the `wallets` given, by user id) and listings; running it
    again changes nothing else."""
    wallets = wallets or {}
    async with db.transaction() as conn:
        for user_id, name, email, store in USERS:
            await reference_repo.upsert_user(conn, user_id, name=name, email=email,
                                             store_name=store, wallet_address=wallets.get(user_id))
        for listing_id, title, description, price, currency, inventory in LISTINGS:
            if await reference_repo.get_listing(conn, listing_id) is None:
                await reference_repo.upsert_listing(
                    conn, listing_id, seller_id=DEMO_SELLER, title=title,
                    description=description, unit_price=price, currency=currency,
                    inventory=inventory,
                )
