"""presale: one order per mainland mobile per campaign (the order keeps the mobile it was placed with)

Revision ID: presale_0002
Revises: presale_0001
Create Date: 2026-12-05 01:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "presale_0002"
down_revision: str | Sequence[str] | None = "presale_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("presale_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
    # Existing orders keep their shopper's mobile, except a later order of a campaign on a mobile an earlier order
    # already has (before this rule): that one keeps none, so the rule starts from the orders as they are.
    op.execute(
        """
        UPDATE presale_orders SET mobile = (SELECT phone FROM users WHERE users.id = presale_orders.user_id)
        WHERE NOT EXISTS (
            SELECT 1 FROM presale_orders AS earlier
            JOIN users AS earlier_user ON earlier_user.id = earlier.user_id
            JOIN users AS this_user ON this_user.id = presale_orders.user_id
            WHERE earlier.campaign_id = presale_orders.campaign_id
              AND earlier_user.phone = this_user.phone
              AND earlier.id < presale_orders.id
        )
        """
    )
    with op.batch_alter_table("presale_orders", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_presale_orders_campaign_mobile", ["campaign_id", "mobile"])


def downgrade() -> None:
    with op.batch_alter_table("presale_orders", schema=None) as batch_op:
        batch_op.drop_constraint("uq_presale_orders_campaign_mobile", type_="unique")
        batch_op.drop_column("mobile")
