"""complaints' owner, due time and escalation; contact records with their topic

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "owner_id",
                sa.Integer(),
                sa.ForeignKey("user.id", name="fk_complaint_owner_id"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("due_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("raised_by_rule", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.create_index("ix_complaint_status_due", ["status", "due_at"])
    op.create_table(
        "contact_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("content", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=True),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("work_order.id"), nullable=True),
        sa.Column("complaint_id", sa.Integer(), sa.ForeignKey("complaint.id"), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_record_customer_id", "contact_record", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_contact_record_customer_id", table_name="contact_record")
    op.drop_table("contact_record")
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_status_due")
        batch_op.drop_column("raised_by_rule")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("due_at")
        batch_op.drop_column("owner_id")
