"""Partial refunds, the units of each order line whose stock went back, and parcels.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_refunds',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('refund_id', sa.String(length=100), nullable=False),
    sa.Column('amount', db.types.Money(length=40), nullable=False),
    sa.Column('currency', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('actor_kind', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('payment_key', sa.String(length=300), nullable=True),
    sa.Column('restocked_at', db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'],
                            name=op.f('fk_order_refunds_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_refunds')),
    sa.UniqueConstraint('order_id', 'refund_id', name=op.f('uq_order_refunds_order_id_refund_id'))
    )
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restocked_quantity', sa.Integer(),
                                      server_default=sa.text('0'), nullable=False))
    op.create_table('shipments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('tracking_number', sa.String(length=100), nullable=False),
    sa.Column('carrier', sa.String(length=50), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('estimated_delivery', sa.Date(), nullable=True),
    sa.Column('shipped_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', db.types.UtcDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'],
                            name=op.f('fk_shipments_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('order_id', 'tracking_number',
                        name=op.f('uq_shipments_order_id_tracking_number'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fulfilment', sa.String(length=30), nullable=True))
    # Orders whose stock already went back had all of it back.
    op.execute("UPDATE order_items SET restocked_quantity = quantity WHERE order_id IN "
               "(SELECT id FROM orders WHERE inventory_restored_at IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('fulfilment')
    op.drop_table('shipments')
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_column('restocked_quantity')
    op.drop_table('order_refunds')
