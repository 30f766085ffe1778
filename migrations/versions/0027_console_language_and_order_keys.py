"""console language per user; an order's Idempotency-Key, unique per creating user

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("work_order") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_work_order_request_key", ["created_by", "request_key"])


def downgrade() -> None:
    with op.batch_alter_table("work_order") as batch:
        batch.drop_constraint("uq_work_order_request_key", type_="unique")
        batch.drop_column("request_key")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("language")
