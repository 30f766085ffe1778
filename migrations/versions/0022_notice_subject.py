"""notice subject: what a notice is about when an order has several of its kind

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_task") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
        batch.create_index("ix_outbound_task_subject", ["subject"])


def downgrade() -> None:
    with op.batch_alter_table("outbound_task") as batch:
        batch.drop_index("ix_outbound_task_subject")
        batch.drop_column("subject")
