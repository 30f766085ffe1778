"""appointments: visit windows, reschedules and missed visits

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("work_order.id"), nullable=False),
        sa.Column("station_id", sa.Integer(), sa.ForeignKey("station.id"), nullable=True),
        sa.Column("window_start", UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_appointment_order_id", "appointment", ["order_id"])
    op.create_index("ix_appointment_station_id", "appointment", ["station_id"])


def downgrade() -> None:
    op.drop_index("ix_appointment_station_id", table_name="appointment")
    op.drop_index("ix_appointment_order_id", table_name="appointment")
    op.drop_table("appointment")
