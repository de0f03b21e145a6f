"""The escrow event listener's cursor.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chain_listener_cursors',
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('contract_address', sa.String(length=42), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_hash', sa.String(length=66), nullable=True),
    sa.Column('recent_blocks', sa.JSON(), nullable=False),
    sa.Column('updated_at', db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'contract_address',
                            name=op.f('pk_chain_listener_cursors'))
    )


def downgrade() -> None:
    op.drop_table('chain_listener_cursors')
