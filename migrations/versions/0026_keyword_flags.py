"""keyword flags: watched words said in calls, waiting for a supervisor's review

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.types

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "keyword_flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("keyword", sa.String(length=64), nullable=False),
        sa.Column("speaker", sa.String(length=16), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("crisis_level", sa.Integer(), nullable=False),
        sa.Column("flagged_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["call.id"]),
        sa.ForeignKeyConstraint(["segment_id"], ["transcript_segment.id"]),
        sa.ForeignKeyConstraint(["transcript_id"], ["transcript.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("transcript_id", "keyword"),
    )
    op.create_index("ix_keyword_flag_call_id", "keyword_flag", ["call_id"])
    op.create_index("ix_keyword_flag_flagged_at", "keyword_flag", ["flagged_at"])


def downgrade() -> None:
    op.drop_index("ix_keyword_flag_flagged_at", table_name="keyword_flag")
    op.drop_index("ix_keyword_flag_call_id", table_name="keyword_flag")
    op.drop_table("keyword_flag")
