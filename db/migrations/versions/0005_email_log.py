"""Log of order emails sent, so each is sent at most once per recipient.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('email_log',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('sent_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_email_log'))
    )
    with op.batch_alter_table('email_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_log_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('email_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_log_order_id'))

    op.drop_table('email_log')
