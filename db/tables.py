"""The read model's tables (SQLAlchemy Core). Alembic migrations in db/migrations build the same.

Ids are text: order ids are UUIDs made from the payment reference; user and listing ids come
from the marketplace and are whatever it uses.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)

from db.types import Money, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 64  # length of marketplace ids (users, listings)
FINAL = ("completed", "cancelled", "refunded", "failed")
ACTIVE_PREDICATE = "status NOT IN ('completed', 'cancelled', 'refunded', 'failed')"

users = Table(
    "users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("store_name", String(200)),
    # EIP-55 checksummed: the wallet a buyer pays from and a seller is paid to on chain.
    Column("wallet_address", String(42)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

listings = Table(
    "listings",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("seller_id", String(ID), nullable=False, index=True),
    Column("title", String(255), nullable=False),
    Column("description", Text),
    Column("unit_price", Money, nullable=False),
    Column("currency", String(10), nullable=False),
    Column("inventory", Integer, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

order_number_counters = Table(
    "order_number_counters",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("last_value", Integer, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workflow_id", String(300), nullable=False, unique=True),
    Column("order_number", String(20), nullable=False, unique=True),
    Column("buyer_id", String(ID), nullable=False),
    Column("seller_id", String(ID), nullable=False),
    Column("listing_id", String(ID), ForeignKey("listings.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("total_amount", Money, nullable=False),
    Column("currency", String(10), nullable=False),
    Column("payment_method", String(20), nullable=False),
    Column("payment_status", String(20), nullable=False),
    Column("payment_reference", String(255), nullable=False),
    Column("payment_intent_id", String(255)),
    Column("transaction_hash", String(66)),
    Column("escrow_id", String(255)),
    Column("processing_fees", Money),
    Column("gas_fees", Money),
    Column("status", String(30), nullable=False),
    Column("status_updated_at", UtcDateTime, nullable=False),
    # Sequence of the last status change applied: retried or late writes never go backwards.
    Column("last_sequence", Integer, nullable=False),
    Column("shipping_address", JSON, nullable=False),
    Column("shipping_method", String(50), nullable=False),
    Column("tracking_number", String(100)),
    Column("carrier", String(50)),
    Column("estimated_delivery", Date),
    Column("actual_delivery_date", UtcDateTime),
    Column("order_notes", Text),
    Column("special_instructions", Text),
    Column("metadata", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    # Set once the stock of a cancelled order went back to its listing (at most once).
    Column("inventory_restored_at", UtcDateTime),
    # For dashboards: an exact integer sort key for the total (units of 1e-8), when the parcel
    # left, the status an order was cancelled from, and the text search looks in.
    Column("total_units", BigInteger, nullable=False, server_default=text("0")),
    Column("shipped_at", UtcDateTime),
    Column("cancelled_from", String(30)),
    Column("search_text", Text, nullable=False, server_default=text("''")),
    # partially_shipped / partially_delivered while its parcels are (domain/parcels.py).
    Column("fulfilment", String(30)),
    # Lists are keyset-paginated on (sort key, id): each scope and sort has its index.
    Index("ix_orders_buyer_created", "buyer_id", "created_at", "id"),
    Index("ix_orders_seller_created", "seller_id", "created_at", "id"),
    Index("ix_orders_buyer_status_created", "buyer_id", "status", "created_at", "id"),
    Index("ix_orders_seller_status_created", "seller_id", "status", "created_at", "id"),
    Index("ix_orders_buyer_total", "buyer_id", "total_units", "id"),
    Index("ix_orders_seller_total", "seller_id", "total_units", "id"),
    Index("ix_orders_created", "created_at", "id"),
    Index("ix_orders_status_created", "status", "created_at", "id"),
    Index("ix_orders_total", "total_units", "id"),
    Index("ix_orders_payment_method_status", "payment_method", "status"),
    # Stuck orders per status, for the metrics gauge: (status, since when).
    Index("ix_orders_status_updated", "status", "status_updated_at"),
    # A seller's work queue: only orders still in progress, a small part of all orders.
    Index("ix_orders_seller_active", "seller_id", "created_at", "id",
          sqlite_where=text(ACTIVE_PREDICATE), postgresql_where=text(ACTIVE_PREDICATE)),
)

# Full-text search over orders.search_text. PostgreSQL: a GIN index on its tsvector (queries
# must use the same expression, SEARCH_VECTOR). SQLite: the FTS5 table `orders_fts` kept by the
# projection (created in migration 0003; not described here because it is SQLite-only).
SEARCH_VECTOR = func.to_tsvector(literal_column("'simple'"), orders.c.search_text)
Index("ix_orders_search", SEARCH_VECTOR, postgresql_using="gin").ddl_if(dialect="postgresql")

# Order counts per status, per seller and platform-wide (seller_id ''), kept by the projection
# as orders are created and change status, so dashboards that poll them never count rows.
order_status_counts = Table(
    "order_status_counts",
    metadata,
    Column("seller_id", String(ID), primary_key=True),
    Column("status", String(30), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

order_items = Table(
    "order_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), ForeignKey("orders.id"), nullable=False, index=True),
    Column("listing_id", String(ID), nullable=False),
    Column("product_name", String(255), nullable=False),
    Column("product_description", Text),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Money, nullable=False),
    Column("total_price", Money, nullable=False),
    Column("product_snapshot", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Units of the line whose stock went back to the listing (a partial refund, a cancel).
    Column("restocked_quantity", Integer, nullable=False, server_default=text("0")),
)

# Parcels (domain/parcels.py), one row per tracking number of an order, as the workflow last
# wrote it (`version` only grows: a late retry never takes a parcel back).
shipments = Table(
    "shipments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), ForeignKey("orders.id"), nullable=False),
    Column("tracking_number", String(100), nullable=False),
    Column("carrier", String(50)),
    Column("status", String(30), nullable=False),
    Column("lines", JSON, nullable=False),  # [{"listingId", "quantity"}]
    Column("estimated_delivery", Date),
    Column("shipped_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("order_id", "tracking_number"),
)

# Partial refunds (domain/refunds.py), one row per refund id. Card and crypto refunds have
# their provider operation in payment_operations under `payment_key`; an escrow's are paid when
# it is settled (payment_key null).
order_refunds = Table(
    "order_refunds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), ForeignKey("orders.id"), nullable=False),
    Column("refund_id", String(100), nullable=False),
    Column("amount", Money, nullable=False),
    Column("currency", String(10), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("lines", JSON, nullable=False),  # [{"listingId", "quantity"}]
    Column("actor_kind", String(20), nullable=False),
    Column("requested_by", String(ID), nullable=False),
    Column("payment_key", String(300)),
    Column("restocked_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("order_id", "refund_id"),
)

order_status_history = Table(
    "order_status_history",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), ForeignKey("orders.id"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("previous_status", String(30)),
    Column("new_status", String(30), nullable=False),
    Column("changed_by", String(ID), nullable=False),
    Column("actor_kind", String(20), nullable=False),
    Column("change_reason", String(100)),
    Column("metadata", JSON),
    Column("notes", Text),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("order_id", "sequence"),
    Index("ix_order_status_history_order_created", "order_id", "created_at"),
    Index("ix_order_status_history_status_created", "new_status", "created_at"),
)

order_tracking_events = Table(
    "order_tracking_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), ForeignKey("orders.id"), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("status", String(30)),
    Column("description", String(500), nullable=False),
    Column("event_data", JSON),
    Column("event_source", String(50), nullable=False),
    Column("location", String(255)),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_order_tracking_events_order_occurred", "order_id", "occurred_at"),
    Index("ix_order_tracking_events_type_occurred", "event_type", "occurred_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(ID), nullable=False),
    Column("order_id", String(36)),
    Column("type", String(50), nullable=False),
    Column("title", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSON),
    Column("read_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_notifications_user_created", "user_id", "created_at"),
)

payment_operations = Table(
    "payment_operations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("idempotency_key", String(300), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),  # refund | release
    Column("payment_method", String(20), nullable=False),
    Column("payment_reference", String(255), nullable=False, index=True),
    Column("workflow_id", String(300), nullable=False),
    Column("order_id", String(36)),
    Column("amount", Money, nullable=False),
    Column("currency", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Transactions this service signs on chain (escrow settlements, crypto refunds), each stored
# before it is broadcast so that a retry after a crash resends the same bytes (a transaction
# spends its nonce once, so it cannot pay twice). One signer's nonces never repeat.
chain_transactions = Table(
    "chain_transactions",
    metadata,
    Column("idempotency_key", String(300), primary_key=True),
    Column("chain_id", BigInteger, nullable=False),
    Column("signer", String(42), nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("tx_hash", String(66), nullable=False, unique=True),
    Column("raw_tx", Text, nullable=False),  # the signed transaction, 0x hex
    Column("status", String(20), nullable=False),  # signed | mined | failed
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("chain_id", "signer", "nonce"),
)

# Where the escrow event listener (chain_events/) has got to on a chain: the last block it
# scanned (start block - 1 before the first) and the hashes of the latest blocks it scanned,
# with the events it delivered from each, to find a reorg by. Saved with the inbox rows of
# the events it delivered, in one transaction.
chain_listener_cursors = Table(
    "chain_listener_cursors",
    metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("contract_address", String(42), primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", String(66)),
    Column("recent_blocks", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Inbox of signed webhook events: a provider's retry hits the unique key and changes nothing.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(20), nullable=False),  # shipping | escrow
    Column("event_id", String(100), nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("order_id", String(36)),
    Column("workflow_id", String(300)),
    Column("payload", JSON, nullable=False),
    # accepted (signalled to the workflow) | pending (the order has not started) -> claimed
    # | accepted; or unknown_order, unknown_type, order_closed: acknowledged so the provider
    # stops retrying, never applied.
    Column("status", String(20), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    UniqueConstraint("source", "event_id"),
    Index("ix_webhook_events_workflow_status", "workflow_id", "status"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("order_id", String(36), ForeignKey("orders.id"), nullable=False),
    Column("order_number", String(20), nullable=False),
    Column("seller_id", String(ID), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("order_status", String(30), nullable=False),
    Column("message", String(500), nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Index("ix_alerts_raised", "raised_at"),
    Index("ix_alerts_seller_raised", "seller_id", "raised_at"),
)

# Outbox of order updates for live clients, written in the same transaction as the change it
# announces. `seq` orders every update platform-wide: API processes tail it, and a client that
# reconnects asks for what came after the last `seq` it saw.
order_updates = Table(
    "order_updates",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_key", String(80), nullable=False, unique=True),  # order id : sequence
    Column("order_id", String(36), nullable=False),
    Column("order_number", String(20), nullable=False),
    Column("buyer_id", String(ID), nullable=False),
    Column("seller_id", String(ID), nullable=False),
    Column("status", String(30), nullable=False),
    Column("previous_status", String(30)),
    Column("timeline_entry", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_order_updates_buyer_seq", "buyer_id", "seq"),
    Index("ix_order_updates_seller_seq", "seller_id", "seq"),
)

# Emails sent, one row per (order, event, occurrence, recipient): a retried activity finds the
# row and does not send again.
email_log = Table(
    "email_log",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("order_id", String(36), nullable=False, index=True),
    Column("event", String(40), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
)

# Idempotency keys the API has seen: who sent each, a digest of what it asked and, once done,
# the answer. A key means one request: the same key with another body or from another caller
# is refused. Rows older than a day are dropped (api/idempotency.py).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(100), primary_key=True),  # what the key acts on, e.g. order:<id>
    Column("key", String(100), primary_key=True),
    Column("caller", String(100), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("answer", JSON(none_as_null=True)),  # null until the request has been answered
    Column("created_at", UtcDateTime, nullable=False, index=True),
)
