"""call notes: an agent's notes and disposition on a call

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import core.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = (
    "order_created",
    "status_enquiry",
    "resolved",
    "callback_needed",
    "complaint",
    "wrong_number",
    "other",
)


def upgrade() -> None:
    op.create_table(
        "call_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column(
            "disposition",
            sa.Enum(*OUTCOMES, name="calloutcome", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["call_id"], ["call.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", "agent_id"),
    )
    with op.batch_alter_table("call_note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_note_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_note_call_id"))
    op.drop_table("call_note")
