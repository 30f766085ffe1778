"""stations' regions, calendars and engineers; order assignments; customer grades

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Dispatch goes by the region a station covers and the skills of its engineers; SLA clocks
run on the station's zone and business calendar; policies may differ by customer grade.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORKING_HOURS = json.dumps(
    {str(day): [["08:30", "12:00"], ["13:30", "18:00"]] for day in range(1, 6)}
)


def upgrade() -> None:
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("phone", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "time_zone", sa.String(length=64), nullable=False, server_default="Asia/Shanghai"
            )
        )
        batch_op.add_column(
            sa.Column("working_hours", sa.JSON(), nullable=False, server_default=_WORKING_HOURS)
        )
        batch_op.add_column(
            sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "station_region",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), sa.ForeignKey("station.id"), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("urban", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "province", "city", "district"),
    )
    op.create_index("ix_station_region_station_id", "station_region", ["station_id"])
    op.create_index("ix_station_region_place", "station_region", ["province", "city", "district"])
    op.create_table(
        "station_closure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), sa.ForeignKey("station.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "day"),
    )
    op.create_index("ix_station_closure_station_id", "station_closure", ["station_id"])
    op.create_table(
        "engineer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), sa.ForeignKey("station.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("service_types", sa.JSON(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("certificate_no", sa.String(length=64), nullable=False),
        sa.Column("certificate_expires", sa.Date(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id"),
    )
    op.create_index("ix_engineer_station_id", "engineer", ["station_id"])
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("grade", sa.String(length=32), nullable=False, server_default="individual")
        )
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "engineer_id",
                sa.Integer(),
                sa.ForeignKey("engineer.id", name="fk_work_order_engineer_id"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("station_reported", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("urban", sa.Boolean(), nullable=True))
        batch_op.create_index("ix_work_order_engineer_id", ["engineer_id"])
    op.create_table(
        "order_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("work_order.id"), nullable=False),
        sa.Column("station_id", sa.Integer(), sa.ForeignKey("station.id"), nullable=True),
        sa.Column("engineer_id", sa.Integer(), sa.ForeignKey("engineer.id"), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_order_assignment_order_id", "order_assignment", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_order_assignment_order_id", table_name="order_assignment")
    op.drop_table("order_assignment")
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.drop_index("ix_work_order_engineer_id")
        batch_op.drop_column("urban")
        batch_op.drop_column("station_reported")
        batch_op.drop_column("engineer_id")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("grade")
    op.drop_index("ix_engineer_station_id", table_name="engineer")
    op.drop_table("engineer")
    op.drop_index("ix_station_closure_station_id", table_name="station_closure")
    op.drop_table("station_closure")
    op.drop_index("ix_station_region_place", table_name="station_region")
    op.drop_index("ix_station_region_station_id", table_name="station_region")
    op.drop_table("station_region")
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.drop_column("is_active")
        batch_op.drop_column("working_hours")
        batch_op.drop_column("time_zone")
        batch_op.drop_column("phone")
