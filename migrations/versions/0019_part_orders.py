"""customers' part orders (客户预订购件) and their pick-up (取件)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "part_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_fen", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ordered",
                "picked_up",
                "cancelled",
                name="partorderstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("ordered_by", sa.String(length=200), nullable=False),
        sa.Column("ordered_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("material_line_id", sa.Integer(), nullable=True),
        sa.Column("picked_up_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["material_line_id"],
            ["material_line.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["part.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_part_order_order_id"), "part_order", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_part_order_order_id"), table_name="part_order")
    op.drop_table("part_order")
