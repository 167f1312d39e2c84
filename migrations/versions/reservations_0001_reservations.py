"""reservations: deposit policies per car model and reservations holding a vehicle

Revision ID: reservations_0001
Revises: 0002_shared
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'reservations_0001'
down_revision: str | Sequence[str] | None = '0002_shared'
branch_labels: str | Sequence[str] | None = ('reservations',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('deposit_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('car_model_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('kind', sa.Enum('refundable', 'binding', name='depositkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('refund_window_days', sa.Integer(), nullable=False),
    sa.Column('price_credit', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_deposit_policies_amount_positive')),
    sa.CheckConstraint('price_credit >= amount', name=op.f('ck_deposit_policies_credit_covers_amount')),
    sa.CheckConstraint('refund_window_days >= 0 AND refund_window_days <= 365', name=op.f('ck_deposit_policies_window_range')),
    sa.ForeignKeyConstraint(['car_model_id'], ['car_models.id'], name=op.f('fk_deposit_policies_car_model_id_car_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposit_policies')),
    sa.UniqueConstraint('car_model_id', name=op.f('uq_deposit_policies_car_model_id'))
    )

    op.create_table('reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=12), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('vehicle_id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('car_model_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('pending_payment', 'confirmed', 'completed', 'cancelled', 'expired', 'refunded', name='reservationstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('deposit_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('deposit_kind', sa.Enum('refundable', 'binding', name='depositkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('refund_window_days', sa.Integer(), nullable=False),
    sa.Column('price_credit', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('vehicle_price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('hold_expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expired_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refunded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=500), nullable=False),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('deposit_amount > 0', name=op.f('ck_reservations_deposit_positive')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_reservations_cancelled_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['car_model_id'], ['car_models.id'], name=op.f('fk_reservations_car_model_id_car_models')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_reservations_completed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], name=op.f('fk_reservations_dealer_id_dealers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reservations_user_id_users')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_reservations_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_reservations_idempotency_key')),
    sa.UniqueConstraint('reference', name=op.f('uq_reservations_reference'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservations_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index('ix_reservations_dealer_status', ['dealer_id', 'status'], unique=False)
        batch_op.create_index('ix_reservations_status_hold', ['status', 'hold_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_vehicle_id'), ['vehicle_id'], unique=False)
        batch_op.create_index('uq_reservations_active_vehicle', ['vehicle_id'], unique=True, postgresql_where=sa.text("status IN ('pending_payment', 'confirmed')"), sqlite_where=sa.text("status IN ('pending_payment', 'confirmed')"))


def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('uq_reservations_active_vehicle', postgresql_where=sa.text("status IN ('pending_payment', 'confirmed')"), sqlite_where=sa.text("status IN ('pending_payment', 'confirmed')"))
        batch_op.drop_index(batch_op.f('ix_reservations_vehicle_id'))
        batch_op.drop_index(batch_op.f('ix_reservations_user_id'))
        batch_op.drop_index('ix_reservations_status_hold')
        batch_op.drop_index('ix_reservations_dealer_status')
        batch_op.drop_index(batch_op.f('ix_reservations_dealer_id'))

    op.drop_table('reservations')
    op.drop_table('deposit_policies')
