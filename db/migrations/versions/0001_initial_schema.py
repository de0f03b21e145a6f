"""Initial schema: reference data, orders and their history, notifications, payment ledger.

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('listings',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('seller_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('unit_price', db.types.Money(length=40), nullable=False),
    sa.Column('currency', sa.String(length=10), nullable=False),
    sa.Column('inventory', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.text('(true)'), nullable=False),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listings'))
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listings_seller_id'), ['seller_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('read_at', db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_created', ['user_id', 'created_at'], unique=False)

    op.create_table('order_number_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_order_number_counters'))
    )
    op.create_table('payment_operations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('payment_method', sa.String(length=20), nullable=False),
    sa.Column('payment_reference', sa.String(length=255), nullable=False),
    sa.Column('workflow_id', sa.String(length=300), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('amount', db.types.Money(length=40), nullable=False),
    sa.Column('currency', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_operations')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payment_operations_idempotency_key'))
    )
    with op.batch_alter_table('payment_operations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_operations_payment_reference'), ['payment_reference'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('store_name', sa.String(length=200), nullable=True),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_table('orders',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('workflow_id', sa.String(length=300), nullable=False),
    sa.Column('order_number', sa.String(length=20), nullable=False),
    sa.Column('buyer_id', sa.String(length=64), nullable=False),
    sa.Column('seller_id', sa.String(length=64), nullable=False),
    sa.Column('listing_id', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', db.types.Money(length=40), nullable=False),
    sa.Column('total_amount', db.types.Money(length=40), nullable=False),
    sa.Column('currency', sa.String(length=10), nullable=False),
    sa.Column('payment_method', sa.String(length=20), nullable=False),
    sa.Column('payment_status', sa.String(length=20), nullable=False),
    sa.Column('payment_reference', sa.String(length=255), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('transaction_hash', sa.String(length=66), nullable=True),
    sa.Column('escrow_id', sa.String(length=255), nullable=True),
    sa.Column('processing_fees', db.types.Money(length=40), nullable=True),
    sa.Column('gas_fees', db.types.Money(length=40), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('status_updated_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.Column('shipping_address', sa.JSON(), nullable=False),
    sa.Column('shipping_method', sa.String(length=50), nullable=False),
    sa.Column('tracking_number', sa.String(length=100), nullable=True),
    sa.Column('carrier', sa.String(length=50), nullable=True),
    sa.Column('estimated_delivery', sa.Date(), nullable=True),
    sa.Column('actual_delivery_date', db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('order_notes', sa.Text(), nullable=True),
    sa.Column('special_instructions', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=True),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', db.types.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_orders_listing_id_listings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('order_number', name=op.f('uq_orders_order_number')),
    sa.UniqueConstraint('workflow_id', name=op.f('uq_orders_workflow_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_buyer_status', ['buyer_id', 'status'], unique=False)
        batch_op.create_index('ix_orders_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_orders_payment_method_status', ['payment_method', 'status'], unique=False)
        batch_op.create_index('ix_orders_seller_status', ['seller_id', 'status'], unique=False)

    op.create_table('order_items',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('listing_id', sa.String(length=64), nullable=False),
    sa.Column('product_name', sa.String(length=255), nullable=False),
    sa.Column('product_description', sa.Text(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', db.types.Money(length=40), nullable=False),
    sa.Column('total_price', db.types.Money(length=40), nullable=False),
    sa.Column('product_snapshot', sa.JSON(), nullable=False),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_items_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_items'))
    )
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_items_order_id'), ['order_id'], unique=False)

    op.create_table('order_status_history',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('previous_status', sa.String(length=30), nullable=True),
    sa.Column('new_status', sa.String(length=30), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('actor_kind', sa.String(length=20), nullable=False),
    sa.Column('change_reason', sa.String(length=100), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_status_history_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_status_history')),
    sa.UniqueConstraint('order_id', 'sequence', name=op.f('uq_order_status_history_order_id_sequence'))
    )
    with op.batch_alter_table('order_status_history', schema=None) as batch_op:
        batch_op.create_index('ix_order_status_history_order_created', ['order_id', 'created_at'], unique=False)
        batch_op.create_index('ix_order_status_history_status_created', ['new_status', 'created_at'], unique=False)

    op.create_table('order_tracking_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=True),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('event_data', sa.JSON(), nullable=True),
    sa.Column('event_source', sa.String(length=50), nullable=False),
    sa.Column('location', sa.String(length=255), nullable=True),
    sa.Column('occurred_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_tracking_events_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_tracking_events'))
    )
    with op.batch_alter_table('order_tracking_events', schema=None) as batch_op:
        batch_op.create_index('ix_order_tracking_events_order_occurred', ['order_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_order_tracking_events_type_occurred', ['event_type', 'occurred_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('order_tracking_events', schema=None) as batch_op:
        batch_op.drop_index('ix_order_tracking_events_type_occurred')
        batch_op.drop_index('ix_order_tracking_events_order_occurred')

    op.drop_table('order_tracking_events')
    with op.batch_alter_table('order_status_history', schema=None) as batch_op:
        batch_op.drop_index('ix_order_status_history_status_created')
        batch_op.drop_index('ix_order_status_history_order_created')

    op.drop_table('order_status_history')
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_items_order_id'))

    op.drop_table('order_items')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_seller_status')
        batch_op.drop_index('ix_orders_payment_method_status')
        batch_op.drop_index('ix_orders_created_at')
        batch_op.drop_index('ix_orders_buyer_status')

    op.drop_table('orders')
    op.drop_table('users')
    with op.batch_alter_table('payment_operations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_operations_payment_reference'))

    op.drop_table('payment_operations')
    op.drop_table('order_number_counters')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_created')

    op.drop_table('notifications')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listings_seller_id'))

    op.drop_table('listings')
