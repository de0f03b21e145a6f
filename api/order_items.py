"""The order's items a request names by id (a parcel's content, a refund's), found in the read
model with the listing and the price each was sold at."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row

from api.errors import ApiError
from api.schemas import ItemUnitsIn
from db import queries
from db.engine import Database


async def items_asked(db: Database, order_id: str, asked: Sequence[ItemUnitsIn] | None
                      ) -> tuple[list[Row], list[tuple[Row, int]]]:
    """All of the order's items, and each asked one with its units; an id that is not an item
    of this order is a 422 naming its place in the request."""
    async with db.reader.connect() as conn:
        items = await queries.order_items(conn, order_id)
    by_id = {item.id: item for item in items}
    chosen = []
    for index, one in enumerate(asked or []):
        item = by_id.get(one.item_id)
        if item is None:
            raise ApiError.invalid_field(f"items.{index}.itemId", "not an item of this order")
        chosen.append((item, one.quantity))
    return items, chosen
