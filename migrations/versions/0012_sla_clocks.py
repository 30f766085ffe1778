"""SLA policies, per-order milestone clocks and escalations

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

Each order keeps one row per SLA milestone (due, met, paused, state); the sweep reads only
the rows whose next moment has come (``next_check_at``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool = True) -> sa.Column[UTCDateTime]:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sla_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_type", sa.String(length=32), nullable=True),
        sa.Column("urgency", sa.String(length=32), nullable=True),
        sa.Column("customer_grade", sa.String(length=32), nullable=True),
        sa.Column("milestones", sa.JSON(), nullable=False),
        sa.Column("warn_share", sa.Float(), nullable=False),
        _time("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_type", "urgency", "customer_grade"),
    )
    op.create_table(
        "sla_milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("work_order.id"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("basis", sa.String(length=32), nullable=False),
        sa.Column("pauses_in", sa.JSON(), nullable=False),
        _time("started_at", nullable=False),
        _time("due_at", nullable=False),
        _time("warn_at", nullable=False),
        _time("met_at"),
        _time("paused_since"),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("left_when_paused", sa.Float(), nullable=True),
        sa.Column("warn_left_when_paused", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        _time("warned_at"),
        _time("breached_at"),
        _time("next_check_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "kind"),
    )
    op.create_index("ix_sla_milestone_next_check_at", "sla_milestone", ["next_check_at"])
    op.create_index("ix_sla_milestone_open_due", "sla_milestone", ["met_at", "due_at"])
    op.create_table(
        "escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("work_order.id"), nullable=False),
        sa.Column("station_id", sa.Integer(), sa.ForeignKey("station.id"), nullable=True),
        _time("opened_at", nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _time("reason_filed_at"),
        sa.Column("reason_filed_by", sa.String(length=200), nullable=False),
        _time("soothing_call_due_at", nullable=False),
        _time("soothing_call_done_at"),
        _time("loaner_offered_at"),
        sa.Column("loaner_accepted", sa.Boolean(), nullable=True),
        sa.Column("loaner_note", sa.Text(), nullable=False),
        _time("closed_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_index("ix_escalation_station_id", "escalation", ["station_id"])


def downgrade() -> None:
    op.drop_index("ix_escalation_station_id", table_name="escalation")
    op.drop_table("escalation")
    op.drop_index("ix_sla_milestone_open_due", table_name="sla_milestone")
    op.drop_index("ix_sla_milestone_next_check_at", table_name="sla_milestone")
    op.drop_table("sla_milestone")
    op.drop_table("sla_policy")
