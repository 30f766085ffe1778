"""commission rates may be a share of the job's labour fee (提成比例)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rates stay fixed amounts: their share is 0.
    with op.batch_alter_table("commission_rate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("share_bp", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("commission_rate", schema=None) as batch_op:
        batch_op.alter_column("share_bp", server_default=None)
        batch_op.create_check_constraint("commission_share_range", "share_bp BETWEEN 0 AND 10000")


def downgrade() -> None:
    with op.batch_alter_table("commission_rate", schema=None) as batch_op:
        batch_op.drop_constraint("commission_share_range", type_="check")
        batch_op.drop_column("share_bp")
