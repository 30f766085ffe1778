"""outbound: campaigns and their decisions, tasks, agents' calendars, the do-not-call
list, customers' calling hours, and satisfaction scores on orders and customers

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import core.types

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "satisfaction",
                "station_follow_up",
                "notice_repaired",
                "notice_parts_arrived",
                "notice_repair_extended",
                "notice_waiting_parts",
                "notice_ordered_part_arrived",
                "appointment_reminder",
                "booked_callback",
                "promised_callback",
                name="taskpurpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("trigger_statuses", sa.JSON(), nullable=False),
        sa.Column("order_types", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("station_ids", sa.JSON(), nullable=False),
        sa.Column("grades", sa.JSON(), nullable=False),
        sa.Column("window_from_hours", sa.Float(), nullable=False),
        sa.Column("window_to_hours", sa.Float(), nullable=False),
        sa.Column("sampling_ratio", sa.Float(), nullable=False),
        sa.Column("stratify_by", sa.JSON(), nullable=False),
        sa.Column("exclude_called_days", sa.Integer(), nullable=False),
        sa.Column(
            "mode",
            sa.Enum(
                "agent_call",
                "survey_call",
                "sms_survey",
                "sms_notice",
                name="campaignmode",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("survey_flow", sa.String(length=64), nullable=False),
        sa.Column("skill", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("starts_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "dnc_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("e164"),
    )
    op.create_table(
        "campaign_stratum",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(length=120), nullable=False),
        sa.Column("seen", sa.Integer(), nullable=False),
        sa.Column("selected", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("campaign_id", "stratum"),
    )
    op.create_table(
        "contact_preference",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("call_from", sa.String(length=5), nullable=False),
        sa.Column("call_to", sa.String(length=5), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("updated_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "agent_calendar",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("weekly_hours", sa.JSON(), nullable=False),
        sa.Column("capacity_per_hour", sa.Integer(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("updated_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
        ),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "agent_calendar_exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("leave", "sick", "shift", name="exceptionkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["agent_calendar.user_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "day"),
    )
    op.create_table(
        "campaign_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("triggered_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stratum", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column(
            "decision",
            sa.Enum(
                "selected",
                "selected_for_complaint_owner",
                "not_sampled",
                "do_not_call",
                "opted_out",
                "recently_called",
                "no_phone",
                name="decision",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("decided_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "order_id"),
    )
    op.create_table(
        "outbound_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "satisfaction",
                "station_follow_up",
                "notice_repaired",
                "notice_parts_arrived",
                "notice_repair_extended",
                "notice_waiting_parts",
                "notice_ordered_part_arrived",
                "appointment_reminder",
                "booked_callback",
                "promised_callback",
                name="taskpurpose",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=True),
        sa.Column("earliest_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "assignee_kind",
            sa.Enum("agent", "team", "dialer", name="assigneekind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "mode",
            sa.Enum(
                "agent_call",
                "survey_call",
                "sms_survey",
                "sms_notice",
                name="campaignmode",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("skill", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "scheduled",
                "unplaced",
                "in_progress",
                "done",
                "failed",
                "cancelled",
                name="taskstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("due_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("slot_end", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unplaced_reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "order_id"),
    )
    with op.batch_alter_table("outbound_task", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_task_assignee_due", ["assignee_id", "due_at"], unique=False
        )
        batch_op.create_index(
            "ix_outbound_task_customer_attempted", ["customer_id", "last_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbound_task_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbound_task_call_id"), ["call_id"], unique=False)
        batch_op.create_index("ix_outbound_task_status_due", ["status", "due_at"], unique=False)

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_satisfaction_score", sa.Integer(), nullable=True))

    with op.batch_alter_table("order_transition", schema=None) as batch_op:
        batch_op.create_index("ix_order_transition_to_status_at", ["to_status", "at"], unique=False)

    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "callback_state",
                sa.Enum(
                    "not_sampled",
                    "due",
                    "done",
                    name="callbackstate",
                    native_enum=False,
                    length=32,
                ),
                nullable=False,
                server_default="not_sampled",
            )
        )
        batch_op.add_column(sa.Column("satisfaction_score", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("satisfaction_comment", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("surveyed_at", core.types.UTCDateTime(timezone=True), nullable=True)
        )
    # Existing orders have no comment and were never sampled; new ones get both from the
    # model.
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.alter_column("satisfaction_comment", server_default=None)
        batch_op.alter_column("callback_state", server_default=None)
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_call_task_id"), ["task_id"], unique=False)
        batch_op.create_foreign_key("fk_call_task_id", "outbound_task", ["task_id"], ["id"])
    _callback_requests_become_tasks()


def _callback_requests_become_tasks() -> None:
    """Callbacks booked before the outbound engine become its tasks, to be placed in the
    agents' calendars: due from their booking to a day after it (the band is kept in the
    note; its day was never stored)."""
    old = sa.table(
        "callback_request",
        sa.column("customer_id", sa.Integer()),
        sa.column("phone", sa.String()),
        sa.column("call_id", sa.String()),
        sa.column("band", sa.String()),
        sa.column("status", sa.String()),
        sa.column("requested_at", core.types.UTCDateTime()),
    )
    new = sa.table(
        "outbound_task",
        sa.column("purpose", sa.String()),
        sa.column("customer_id", sa.Integer()),
        sa.column("phone", sa.String()),
        sa.column("call_id", sa.String()),
        sa.column("earliest_at", core.types.UTCDateTime()),
        sa.column("deadline_at", core.types.UTCDateTime()),
        sa.column("assignee_kind", sa.String()),
        sa.column("mode", sa.String()),
        sa.column("priority", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("unplaced_reason", sa.Text()),
        sa.column("attempts", sa.Integer()),
        sa.column("max_attempts", sa.Integer()),
        sa.column("note", sa.Text()),
        sa.column("created_by", sa.String()),
        sa.column("created_at", core.types.UTCDateTime()),
        sa.column("updated_at", core.types.UTCDateTime()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(old).where(old.c.status == "requested")).all()
    if rows:
        connection.execute(
            new.insert(),
            [
                {
                    "purpose": "booked_callback",
                    "customer_id": row.customer_id,
                    "phone": row.phone[:20],
                    "call_id": row.call_id,
                    "earliest_at": row.requested_at,
                    "deadline_at": row.requested_at + timedelta(days=1),
                    "assignee_kind": "team",
                    "mode": "agent_call",
                    "priority": 10,
                    "status": "pending",
                    "unplaced_reason": "",
                    "attempts": 0,
                    "max_attempts": 3,
                    "note": f"booked for {row.band}",
                    "created_by": "ivr",
                    "created_at": row.requested_at,
                    "updated_at": row.requested_at,
                }
                for row in rows
            ],
        )
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_request_customer_id"))
    op.drop_table("callback_request")


def downgrade() -> None:
    op.create_table(
        "callback_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=True),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("callback_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_request_customer_id"), ["customer_id"], unique=False
        )
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_constraint("fk_call_task_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_call_task_id"))
        batch_op.drop_column("task_id")

    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.drop_column("surveyed_at")
        batch_op.drop_column("satisfaction_comment")
        batch_op.drop_column("satisfaction_score")
        batch_op.drop_column("callback_state")

    with op.batch_alter_table("order_transition", schema=None) as batch_op:
        batch_op.drop_index("ix_order_transition_to_status_at")

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("last_satisfaction_score")

    with op.batch_alter_table("outbound_task", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_task_status_due")
        batch_op.drop_index(batch_op.f("ix_outbound_task_order_id"))
        batch_op.drop_index(batch_op.f("ix_outbound_task_call_id"))
        batch_op.drop_index("ix_outbound_task_customer_attempted")
        batch_op.drop_index("ix_outbound_task_assignee_due")

    op.drop_table("outbound_task")
    op.drop_table("campaign_decision")
    op.drop_table("agent_calendar_exception")
    op.drop_table("agent_calendar")
    op.drop_table("contact_preference")
    op.drop_table("campaign_stratum")
    op.drop_table("dnc_entry")
    op.drop_table("campaign")
