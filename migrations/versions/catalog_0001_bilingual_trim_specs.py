"""catalog: trims carry engine, gearbox and connectivity in Chinese as well as English

Revision ID: catalog_0001
Revises: 0002_shared
Create Date: 2026-12-04 21:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'catalog_0001'
down_revision: str | Sequence[str] | None = '0002_shared'
branch_labels: str | Sequence[str] | None = ('catalog',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled in by `flask seed` (storefront/catalog/data/china-lineup-zh.csv), which also updates trims seeded before.
    with op.batch_alter_table('trims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engine_zh', sa.String(length=120), server_default='', nullable=False))
        batch_op.add_column(sa.Column('transmission_zh', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('connectivity_zh', sa.String(length=200), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('trims', schema=None) as batch_op:
        batch_op.drop_column('connectivity_zh')
        batch_op.drop_column('transmission_zh')
        batch_op.drop_column('engine_zh')
