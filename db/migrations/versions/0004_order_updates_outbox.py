"""Outbox of order updates that API processes tail to push live updates to clients, and an
index for counting stuck orders.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_updates',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_key', sa.String(length=80), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('order_number', sa.String(length=20), nullable=False),
    sa.Column('buyer_id', sa.String(length=64), nullable=False),
    sa.Column('seller_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('previous_status', sa.String(length=30), nullable=True),
    sa.Column('timeline_entry', sa.JSON(), nullable=False),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_order_updates')),
    sa.UniqueConstraint('event_key', name=op.f('uq_order_updates_event_key'))
    )
    with op.batch_alter_table('order_updates', schema=None) as batch_op:
        batch_op.create_index('ix_order_updates_buyer_seq', ['buyer_id', 'seq'], unique=False)
        batch_op.create_index('ix_order_updates_seller_seq', ['seller_id', 'seq'], unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_status_updated', ['status', 'status_updated_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_status_updated')
    with op.batch_alter_table('order_updates', schema=None) as batch_op:
        batch_op.drop_index('ix_order_updates_seller_seq')
        batch_op.drop_index('ix_order_updates_buyer_seq')

    op.drop_table('order_updates')
