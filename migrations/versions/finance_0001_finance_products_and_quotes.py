"""finance: versioned finance products and saved quotes

Revision ID: finance_0001
Revises: 0002_shared
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'finance_0001'
down_revision: str | Sequence[str] | None = '0002_shared'
branch_labels: str | Sequence[str] | None = ('finance',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('finance_products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('kind', sa.Enum('full_payment', 'loan', 'lease_to_own', 'operating_lease', name='financekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('lender_en', sa.String(length=120), nullable=False),
    sa.Column('lender_zh', sa.String(length=120), nullable=False),
    sa.Column('description_en', sa.String(length=500), nullable=False),
    sa.Column('description_zh', sa.String(length=500), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('annual_rate_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('subsidised', sa.Boolean(), nullable=False),
    sa.Column('terms_months', sa.JSON(), nullable=False),
    sa.Column('min_down_payment_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('max_down_payment_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('balloon_allowed', sa.Boolean(), nullable=False),
    sa.Column('max_balloon_pct', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('fees', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('residual_by_term', sa.JSON(), nullable=False),
    sa.Column('balance_rate_pct', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('balance_finance_months', sa.Integer(), nullable=True),
    sa.Column('included_km_per_year', sa.Integer(), nullable=True),
    sa.Column('km_step', sa.Integer(), nullable=True),
    sa.Column('residual_reduction_pct_per_step', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('min_residual_pct', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('mileage_overage_per_km', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('mileage_options_km', sa.JSON(), nullable=False),
    sa.Column('valid_from', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('annual_rate_pct >= 0 AND annual_rate_pct <= 100', name=op.f('ck_finance_products_rate_range')),
    sa.CheckConstraint('fees >= 0', name=op.f('ck_finance_products_fees_not_negative')),
    sa.CheckConstraint('max_balloon_pct >= 0 AND max_balloon_pct < 100', name=op.f('ck_finance_products_balloon_range')),
    sa.CheckConstraint('min_down_payment_pct >= 0 AND min_down_payment_pct <= max_down_payment_pct AND max_down_payment_pct <= 100', name=op.f('ck_finance_products_down_payment_range')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_finance_products_version_positive')),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_finance_products_brand_id_brands')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_finance_products_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_products')),
    sa.UniqueConstraint('code', 'version', name='uq_finance_products_code_version')
    )
    with op.batch_alter_table('finance_products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_products_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index('ix_finance_products_current', ['is_current', 'kind'], unique=False)

    op.create_table('quotes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=12), nullable=False),
    sa.Column('trim_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('product_version', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('valid_until', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['finance_products.id'], name=op.f('fk_quotes_product_id_finance_products')),
    sa.ForeignKeyConstraint(['trim_id'], ['trims.id'], name=op.f('fk_quotes_trim_id_trims')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_quotes_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes')),
    sa.UniqueConstraint('reference', name=op.f('uq_quotes_reference'))
    )
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quotes_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quotes_trim_id'), ['trim_id'], unique=False)
        batch_op.create_index('ix_quotes_user_created', ['user_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index('ix_quotes_user_created')
        batch_op.drop_index(batch_op.f('ix_quotes_trim_id'))
        batch_op.drop_index(batch_op.f('ix_quotes_product_id'))

    op.drop_table('quotes')
    with op.batch_alter_table('finance_products', schema=None) as batch_op:
        batch_op.drop_index('ix_finance_products_current')
        batch_op.drop_index(batch_op.f('ix_finance_products_brand_id'))

    op.drop_table('finance_products')
