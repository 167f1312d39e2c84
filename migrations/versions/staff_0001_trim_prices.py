"""staff: trim price history with effective dates

Revision ID: staff_0001
Revises: 0002_shared
Create Date: 2026-11-23 19:59:45.508495
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'staff_0001'
down_revision: str | Sequence[str] | None = '0002_shared'
branch_labels: str | Sequence[str] | None = ('staff',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('trim_prices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trim_id', sa.Integer(), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('applied_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('price > 0', name=op.f('ck_trim_prices_price_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_trim_prices_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['trim_id'], ['trims.id'], name=op.f('fk_trim_prices_trim_id_trims'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trim_prices'))
    )
    with op.batch_alter_table('trim_prices', schema=None) as batch_op:
        batch_op.create_index('ix_trim_prices_pending', ['applied_at', 'effective_from'], unique=False)
        batch_op.create_index('ix_trim_prices_trim_effective', ['trim_id', 'effective_from'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('trim_prices', schema=None) as batch_op:
        batch_op.drop_index('ix_trim_prices_trim_effective')
        batch_op.drop_index('ix_trim_prices_pending')

    op.drop_table('trim_prices')
