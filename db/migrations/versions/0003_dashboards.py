"""Dashboards: keyset indexes, a partial index on active orders, full-text search, status
counters, and the sort/search/fulfilment columns, back-filled for existing orders.

Revision ID: 0003
Revises: 0002
"""

import re
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

import db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ACTIVE = sa.text("status NOT IN ('completed', 'cancelled', 'refunded', 'failed')")
KEYSET_INDEXES = {
    "ix_orders_buyer_created": ["buyer_id", "created_at", "id"],
    "ix_orders_seller_created": ["seller_id", "created_at", "id"],
    "ix_orders_buyer_status_created": ["buyer_id", "status", "created_at", "id"],
    "ix_orders_seller_status_created": ["seller_id", "status", "created_at", "id"],
    "ix_orders_buyer_total": ["buyer_id", "total_units", "id"],
    "ix_orders_seller_total": ["seller_id", "total_units", "id"],
    "ix_orders_created": ["created_at", "id"],
    "ix_orders_status_created": ["status", "created_at", "id"],
    "ix_orders_total": ["total_units", "id"],
}


def upgrade() -> None:
    op.create_table(
        "order_status_counts",
        sa.Column("seller_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seller_id", "status", name=op.f("pk_order_status_counts")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("total_units", sa.BigInteger(),
                                      server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("shipped_at", db.types.UtcDateTime(timezone=True)))
        batch_op.add_column(sa.Column("cancelled_from", sa.String(length=30)))
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default=sa.text("''"),
                                      nullable=False))
        # The specification's (owner, status) indexes become prefixes of the keyset ones.
        batch_op.drop_index("ix_orders_buyer_status")
        batch_op.drop_index("ix_orders_seller_status")
        batch_op.drop_index("ix_orders_created_at")
        for name, columns in KEYSET_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
        batch_op.create_index("ix_orders_seller_active", ["seller_id", "created_at", "id"],
                              unique=False, sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_orders_search ON orders "
                   "USING gin (to_tsvector('simple', search_text))")
    else:
        op.execute("CREATE VIRTUAL TABLE orders_fts USING fts5(order_id UNINDEXED, body)")
    _backfill(bind)


def _backfill(bind) -> None:
    """Fill the new columns and counters for orders made before this revision."""
    rows = bind.execute(sa.text(
        "SELECT o.id, o.order_number, o.total_amount, o.tracking_number, "
        "       i.product_name, b.name AS buyer, s.name AS seller, s.store_name AS store "
        "FROM orders o LEFT JOIN order_items i ON i.order_id = o.id "
        "LEFT JOIN users b ON b.id = o.buyer_id LEFT JOIN users s ON s.id = o.seller_id"
    )).all()
    for row in rows:
        joined = " ".join(str(p) for p in (row.order_number, row.product_name, row.buyer,
                                           row.seller, row.store, row.tracking_number) if p)
        text = re.sub(r"[\W_]+", " ", joined).strip()  # as db.search_index.compose
        units = int(Decimal(str(row.total_amount)) * 100_000_000)
        bind.execute(sa.text("UPDATE orders SET total_units = :u, search_text = :t "
                             "WHERE id = :id"), {"u": units, "t": text, "id": row.id})
        if bind.dialect.name == "sqlite":
            bind.execute(sa.text("INSERT INTO orders_fts (order_id, body) VALUES (:id, :t)"),
                         {"id": row.id, "t": text})
    bind.execute(sa.text(
        "UPDATE orders SET shipped_at = (SELECT min(h.created_at) FROM order_status_history h "
        "WHERE h.order_id = orders.id AND h.new_status = 'shipped')"))
    bind.execute(sa.text(
        "UPDATE orders SET cancelled_from = (SELECT min(h.previous_status) "
        "FROM order_status_history h WHERE h.order_id = orders.id "
        "AND h.new_status = 'cancelled') WHERE status = 'cancelled'"))
    bind.execute(sa.text(
        "INSERT INTO order_status_counts (seller_id, status, count) "
        "SELECT seller_id, status, count(*) FROM orders GROUP BY seller_id, status"))
    bind.execute(sa.text(
        "INSERT INTO order_status_counts (seller_id, status, count) "
        "SELECT '', status, count(*) FROM orders GROUP BY status"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_orders_search")
    else:
        op.execute("DROP TABLE orders_fts")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_seller_active")
        for name in reversed(KEYSET_INDEXES):
            batch_op.drop_index(name)
        batch_op.create_index("ix_orders_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_orders_seller_status", ["seller_id", "status"], unique=False)
        batch_op.create_index("ix_orders_buyer_status", ["buyer_id", "status"], unique=False)
        batch_op.drop_column("search_text")
        batch_op.drop_column("cancelled_from")
        batch_op.drop_column("shipped_at")
        batch_op.drop_column("total_units")
    op.drop_table("order_status_counts")
