"""order records: handover slips (拉修), cancellation requests (审核后删单), installation
and maintenance records, maintenance plans; who made an escalation's soothing call

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _order_id(unique: bool = False) -> sa.Column[int]:
    return sa.Column(
        "order_id", sa.Integer(), sa.ForeignKey("work_order.id"), nullable=False, unique=unique
    )


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("soothing_call_by", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("soothing_call_note", sa.Text(), nullable=False, server_default="")
        )
    op.create_table(
        "handover_slip",
        sa.Column("id", sa.Integer(), nullable=False),
        _order_id(),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("accessories", sa.Text(), nullable=False),
        sa.Column("handed_over_by", sa.String(length=200), nullable=False),
        sa.Column("expected_back", sa.Date(), nullable=True),
        sa.Column("taken_by", sa.String(length=200), nullable=False),
        _stamp("taken_at"),
        sa.Column("returned_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_by", sa.String(length=200), nullable=False),
        sa.Column("customer_feedback", sa.Text(), nullable=False),
        sa.Column("returned_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_handover_slip_order_id", "handover_slip", ["order_id"])
    op.create_table(
        "cancellation_request",
        sa.Column("id", sa.Integer(), nullable=False),
        _order_id(),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        _stamp("requested_at"),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("customer_confirmed", sa.Boolean(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=False),
        sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cancellation_request_order_id", "cancellation_request", ["order_id"])
    op.create_index("ix_cancellation_request_status", "cancellation_request", ["status"])
    op.create_table(
        "installation_record",
        sa.Column("id", sa.Integer(), nullable=False),
        _order_id(unique=True),
        sa.Column("unboxing_ok", sa.Boolean(), nullable=False),
        sa.Column("unboxing_notes", sa.Text(), nullable=False),
        sa.Column("commissioned", sa.Boolean(), nullable=False),
        sa.Column("training_given", sa.Boolean(), nullable=False),
        sa.Column("customer_confirmed_by", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        _stamp("recorded_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "maintenance_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appliance_id", sa.Integer(), sa.ForeignKey("appliance.id"), nullable=False),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("interval_months", sa.Integer(), nullable=False),
        sa.Column("next_due", sa.Date(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("open_order_id", sa.Integer(), sa.ForeignKey("work_order.id"), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _stamp("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_maintenance_plan_appliance_id", "maintenance_plan", ["appliance_id"])
    op.create_index("ix_maintenance_plan_next_due", "maintenance_plan", ["next_due"])
    op.create_table(
        "maintenance_record",
        sa.Column("id", sa.Integer(), nullable=False),
        _order_id(unique=True),
        sa.Column("plan_id", sa.Integer(), sa.ForeignKey("maintenance_plan.id"), nullable=True),
        sa.Column("work_done", sa.Text(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("customer_confirmed_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        _stamp("recorded_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_maintenance_record_plan_id", "maintenance_record", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_maintenance_record_plan_id", table_name="maintenance_record")
    op.drop_table("maintenance_record")
    op.drop_index("ix_maintenance_plan_next_due", table_name="maintenance_plan")
    op.drop_index("ix_maintenance_plan_appliance_id", table_name="maintenance_plan")
    op.drop_table("maintenance_plan")
    op.drop_table("installation_record")
    op.drop_index("ix_cancellation_request_status", table_name="cancellation_request")
    op.drop_index("ix_cancellation_request_order_id", table_name="cancellation_request")
    op.drop_table("cancellation_request")
    op.drop_index("ix_handover_slip_order_id", table_name="handover_slip")
    op.drop_table("handover_slip")
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_column("soothing_call_note")
        batch_op.drop_column("soothing_call_by")
