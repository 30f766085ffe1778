"""billing: the fee schedule, commission rates, reward and penalty items, late
deductions, quotes, confirmation codes, completion slips and their audit adjustments

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commission_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "service_kind",
            sa.Enum(
                "installation",
                "repair_minor",
                "repair_medium",
                "repair_major",
                "delivery",
                "exchange",
                "mall_return_repair",
                "cleaning_packing",
                "gas_conversion",
                name="servicekind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("outsourced", sa.Boolean(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_kind", "outsourced"),
    )
    op.create_table(
        "fee_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("labour", "travel", name="feekind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "service_kind",
            sa.Enum(
                "installation",
                "repair_minor",
                "repair_medium",
                "repair_major",
                "delivery",
                "exchange",
                "mall_return_repair",
                "cleaning_packing",
                "gas_conversion",
                name="servicekind",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("urban", sa.Boolean(), nullable=True),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "service_kind", "category", "urban"),
    )
    op.create_table(
        "late_deduction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("milestone", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column(
            "charged_to",
            sa.Enum("station", "engineer", name="chargedto", native_enum=False, length=32),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("milestone"),
    )
    op.create_table(
        "reward_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "completion_slip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("engineer_id", sa.Integer(), nullable=True),
        sa.Column(
            "service_kind",
            sa.Enum(
                "installation",
                "repair_minor",
                "repair_medium",
                "repair_major",
                "delivery",
                "exchange",
                "mall_return_repair",
                "cleaning_packing",
                "gas_conversion",
                name="servicekind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("outsourced", sa.Boolean(), nullable=False),
        sa.Column("work_done", sa.Text(), nullable=False),
        sa.Column("labour_fen", sa.Integer(), nullable=False),
        sa.Column("travel_fen", sa.Integer(), nullable=False),
        sa.Column(
            "confirmation",
            sa.Enum("signature", "code", name="confirmation", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("signature_png", sa.Text(), nullable=False),
        sa.Column("engineer_score", sa.Integer(), nullable=False),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("filed_by", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "submitted", "returned", "approved", name="slipstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("auditor", sa.String(length=200), nullable=False),
        sa.Column("audited_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("quality_score", sa.Integer(), nullable=True),
        sa.Column("audit_note", sa.Text(), nullable=False),
        sa.Column("base_commission_fen", sa.Integer(), nullable=False),
        sa.Column("rewards_fen", sa.Integer(), nullable=False),
        sa.Column("engineer_deductions_fen", sa.Integer(), nullable=False),
        sa.Column("station_deductions_fen", sa.Integer(), nullable=False),
        sa.Column("commission_fen", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_index(
        op.f("ix_completion_slip_engineer_id"), "completion_slip", ["engineer_id"], unique=False
    )
    op.create_index(
        op.f("ix_completion_slip_station_id"), "completion_slip", ["station_id"], unique=False
    )
    op.create_table(
        "confirmation_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    op.create_table(
        "quote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column(
            "service_kind",
            sa.Enum(
                "installation",
                "repair_minor",
                "repair_medium",
                "repair_major",
                "delivery",
                "exchange",
                "mall_return_repair",
                "cleaning_packing",
                "gas_conversion",
                name="servicekind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("labour_fen", sa.Integer(), nullable=False),
        sa.Column("parts_fen", sa.Integer(), nullable=False),
        sa.Column("travel_fen", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "approved", "declined", name="quotestatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "method",
            sa.Enum(
                "in_person", "phone", "sms", name="approvalmethod", native_enum=False, length=32
            ),
            nullable=True,
        ),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_quote_order_id"), "quote", ["order_id"], unique=False)
    op.create_table(
        "slip_adjustment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slip_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column(
            "charged_to",
            sa.Enum("station", "engineer", name="chargedto", native_enum=False, length=32),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["slip_id"],
            ["completion_slip.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_slip_adjustment_slip_id"), "slip_adjustment", ["slip_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_slip_adjustment_slip_id"), table_name="slip_adjustment")
    op.drop_table("slip_adjustment")
    op.drop_index(op.f("ix_quote_order_id"), table_name="quote")
    op.drop_table("quote")
    op.drop_table("confirmation_code")
    op.drop_index(op.f("ix_completion_slip_station_id"), table_name="completion_slip")
    op.drop_index(op.f("ix_completion_slip_engineer_id"), table_name="completion_slip")
    op.drop_table("completion_slip")
    op.drop_table("reward_item")
    op.drop_table("late_deduction")
    op.drop_table("fee_rate")
    op.drop_table("commission_rate")
