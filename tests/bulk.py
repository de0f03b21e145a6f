"""Bulk rows for query-plan tests and benchmarks: many orders in one SQL statement.

PostgreSQL only (generate_series). The rows are realistic in shape (owners, statuses, amounts,
dates, search text) but skip the workflow: they exist to exercise the read model's queries.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# The shipping address every bulk order has, as a checkout stores it (the order's answer
# reads each of its fields).
ADDRESS = ('{"name": "Bulk Buyer", "street": "1 Main St", "city": "Springfield", '
           '"state": "IL", "zip_code": "62701", "country": "US"}')

STATUSES = ("payment_confirmed", "order_confirmed", "processing", "shipped", "delivered",
            "completed", "completed", "completed", "cancelled", "refunded")


async def insert_orders(conn: AsyncConnection, *, first: int, count: int, sellers: int,
                        buyers: int) -> None:
    """Orders number `first` .. `first + count - 1`, spread over sellers and buyers, one a
    minute going back from 2026-06-01, each with an item and a status history row."""
    params = {"first": first, "last": first + count - 1, "sellers": sellers, "buyers": buyers,
              "statuses": list(STATUSES), "address": ADDRESS}
    await conn.execute(text(
        "INSERT INTO listings (id, seller_id, title, unit_price, currency, inventory, active, "
        "created_at, updated_at) SELECT 'bulk-listing-' || s, 'bulk-seller-' || s, "
        "'Bulk product ' || s, 10, 'USD', 1000000000, true, now(), now() "
        "FROM generate_series(0, CAST(:sellers AS int) - 1) s ON CONFLICT DO NOTHING"), params)
    await conn.execute(text(
        "INSERT INTO users (id, name, email, store_name, created_at, updated_at) "
        "SELECT 'bulk-seller-' || s, 'Seller ' || s, 's' || s || '@example.com', "
        "'Store ' || s, now(), now() FROM generate_series(0, CAST(:sellers AS int) - 1) s "
        "UNION ALL SELECT 'bulk-buyer-' || b, 'Buyer ' || b, 'b' || b || '@example.com', "
        "NULL, now(), now() FROM generate_series(0, CAST(:buyers AS int) - 1) b "
        "ON CONFLICT DO NOTHING"),
        params)
    await conn.execute(text("""
        INSERT INTO orders (id, workflow_id, order_number, buyer_id, seller_id, listing_id,
            quantity, unit_price, total_amount, currency, payment_method, payment_status,
            payment_reference, status, status_updated_at, last_sequence, shipping_address,
            shipping_method, tracking_number, created_at, updated_at, total_units, search_text)
        SELECT md5('order' || n)::uuid::text, 'order-bulk-' || n,
            'ORD-2026-' || lpad(n::text, 7, '0'),
            'bulk-buyer-' || (n % :buyers), 'bulk-seller-' || (n % :sellers),
            'bulk-listing-' || (n % :sellers), 1 + n % 5, 10, 10 * (1 + n % 5), 'USD',
            (ARRAY['crypto', 'fiat', 'escrow'])[1 + n % 3], 'confirmed', 'bulk-' || n,
            (CAST(:statuses AS text[]))[1 + (n / 7) % 10], ts, 1, CAST(:address AS json),
            'standard',
            CASE WHEN n % 3 = 0 THEN '1ZBULK' || n END, ts, ts,
            (10 * (1 + n % 5))::bigint * 100000000,
            'ORD 2026 ' || lpad(n::text, 7, '0') || ' Bulk product ' || (n % :sellers)
                || ' Buyer ' || (n % :buyers) || ' Seller ' || (n % :sellers)
                || ' Store ' || (n % :sellers)
                || CASE WHEN n % 3 = 0 THEN ' 1ZBULK' || n ELSE '' END
        FROM generate_series(CAST(:first AS int), CAST(:last AS int)) n,
             LATERAL (SELECT timestamptz '2026-06-01' - n * interval '1 minute' AS ts) t
    """), params)
    await conn.execute(text("""
        INSERT INTO order_items (id, order_id, listing_id, product_name, quantity, unit_price,
            total_price, product_snapshot, created_at)
        SELECT md5('item' || n)::uuid::text, md5('order' || n)::uuid::text,
            'bulk-listing-' || (n % :sellers), 'Bulk product ' || (n % :sellers), 1 + n % 5,
            10, 10 * (1 + n % 5), '{}'::json, now()
        FROM generate_series(CAST(:first AS int), CAST(:last AS int)) n
    """), params)
    await insert_first_history(conn, params["first"], params["last"])


async def insert_first_history(conn: AsyncConnection, first: int, last: int) -> None:
    """The creation row of the status history of bulk orders first..last."""
    await conn.execute(text("""
        INSERT INTO order_status_history (id, order_id, sequence, previous_status, new_status,
            changed_by, actor_kind, created_at)
        SELECT md5('history' || n)::uuid::text, md5('order' || n)::uuid::text, 0, NULL,
            'payment_confirmed', 'system', 'system', now()
        FROM generate_series(CAST(:first AS int), CAST(:last AS int)) n
    """), {"first": first, "last": last})
