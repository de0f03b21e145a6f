"""Users' wallet addresses, and the chain transactions this service signs.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wallet_address', sa.String(length=42), nullable=True))
    op.create_table('chain_transactions',
    sa.Column('idempotency_key', sa.String(length=300), nullable=False),
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('signer', sa.String(length=42), nullable=False),
    sa.Column('nonce', sa.BigInteger(), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('raw_tx', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('idempotency_key', name=op.f('pk_chain_transactions')),
    sa.UniqueConstraint('chain_id', 'signer', 'nonce',
                        name=op.f('uq_chain_transactions_chain_id_signer_nonce')),
    sa.UniqueConstraint('tx_hash', name=op.f('uq_chain_transactions_tx_hash'))
    )


def downgrade() -> None:
    op.drop_table('chain_transactions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('wallet_address')
