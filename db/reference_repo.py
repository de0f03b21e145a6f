"""Reference data the marketplace owns and copies to us: users and listings.

These are not order state, so the API writes them directly; orders snapshot what they need.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db import tables as t
from db.upsert import upsert


async def upsert_user(conn: AsyncConnection, user_id: str, *, name: str, email: str,
                      store_name: str | None, wallet_address: str | None = None) -> None:
    now = datetime.now(UTC)
    await upsert(
        conn, t.users,
        {"id": user_id, "name": name, "email": email, "store_name": store_name,
         "wallet_address": wallet_address, "created_at": now, "updated_at": now},
        key=["id"], keep=["created_at"],
    )


async def upsert_listing(conn: AsyncConnection, listing_id: str, *, seller_id: str, title: str,
                         description: str | None, unit_price: Decimal, currency: str,
                         inventory: int, active: bool = True) -> None:
    now = datetime.now(UTC)
    await upsert(
        conn, t.listings,
        {"id": listing_id, "seller_id": seller_id, "title": title, "description": description,
         "unit_price": unit_price, "currency": currency, "inventory": inventory,
         "active": active, "created_at": now, "updated_at": now},
        key=["id"], keep=["created_at"],
    )


async def get_listing(conn: AsyncConnection, listing_id: str) -> Row | None:
    return (await conn.execute(select(t.listings).where(t.listings.c.id == listing_id))).first()


async def wallet_of(conn: AsyncConnection, user_id: str) -> str | None:
    """The user's registered wallet address (checksummed), or None."""
    return (await conn.execute(select(t.users.c.wallet_address)
                               .where(t.users.c.id == user_id))).scalar_one_or_none()
