"""work_order.repair_warranty_of: the earlier repair whose 90-day guarantee covers it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "repair_warranty_of",
                sa.Integer(),
                sa.ForeignKey("work_order.id", name="fk_work_order_repair_warranty_of"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.drop_column("repair_warranty_of")
