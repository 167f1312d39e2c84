"""payments: payments taken online and the provider webhook events already applied

Revision ID: payments_0001
Revises: 0002_shared
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = 'payments_0001'
down_revision: str | Sequence[str] | None = '0002_shared'
branch_labels: str | Sequence[str] | None = ('payments',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Enum('reservation_deposit', 'test_drive_deposit', name='paymentpurpose', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.Enum('stripe', 'demo', name='paymentprovider', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('provider_session_id', sa.String(length=255), nullable=True),
    sa.Column('provider_payment_id', sa.String(length=255), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.Enum('pending', 'paid', 'failed', 'expired', 'refunded', 'partially_refunded', name='paymentstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('refunded_amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('customer_email', sa.String(length=254), nullable=False),
    sa.Column('redirect_url', sa.String(length=2000), nullable=False),
    sa.Column('success_url', sa.String(length=2000), nullable=False),
    sa.Column('cancel_url', sa.String(length=2000), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('refunded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.CheckConstraint('refunded_amount >= 0 AND refunded_amount <= amount', name=op.f('ck_payments_refund_within_amount')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payments_idempotency_key')),
    sa.UniqueConstraint('provider_session_id', name=op.f('uq_payments_provider_session_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_provider_payment_id'), ['provider_payment_id'], unique=False)
        batch_op.create_index('ix_payments_purpose_subject', ['purpose', 'subject_id'], unique=False)

    op.create_table('webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.Enum('stripe', 'demo', name='paymentprovider', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('provider_event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('received_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=60), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('provider_event_id', name=op.f('uq_webhook_events_provider_event_id'))
    )


def downgrade() -> None:
    op.drop_table('webhook_events')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_purpose_subject')
        batch_op.drop_index(batch_op.f('ix_payments_provider_payment_id'))

    op.drop_table('payments')
