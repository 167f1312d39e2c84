"""api keys, their showrooms and idempotent responses

Revision ID: api_0001
Revises: 0002_shared
Create Date: 2026-12-04 21:32:26.145684
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'api_0001'
down_revision: str | Sequence[str] | None = '0002_shared'
branch_labels: str | Sequence[str] | None = ('api',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('rate_limit_per_minute', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('last_used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_api_keys_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('api_idempotent_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('etag', sa.String(length=40), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_api_idempotent_responses_api_key_id_api_keys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotent_responses')),
    sa.UniqueConstraint('api_key_id', 'idempotency_key', name='uq_api_idempotent_responses_key')
    )
    with op.batch_alter_table('api_idempotent_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_idempotent_responses_created_at'), ['created_at'], unique=False)

    op.create_table('api_key_dealers',
    sa.Column('api_key_id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_api_key_dealers_api_key_id_api_keys'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_api_key_dealers_dealer_id_dealers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('api_key_id', 'dealer_id', name=op.f('pk_api_key_dealers'))
    )


def downgrade() -> None:
    op.drop_table('api_key_dealers')
    with op.batch_alter_table('api_idempotent_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_idempotent_responses_created_at'))

    op.drop_table('api_idempotent_responses')
    op.drop_table('api_keys')
