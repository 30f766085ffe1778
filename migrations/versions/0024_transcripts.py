"""transcripts: what was said in each recording, by speaker, with word timings; and the
recordings' order, agent, kind, codec, size, legal hold and transcription state

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.types

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transcript",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["call.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recording.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recording_id"),
    )
    with op.batch_alter_table("transcript", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transcript_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_transcript_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transcript_order_id"), ["order_id"], unique=False)

    op.create_table(
        "transcript_segment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(length=16), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcript.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transcript_segment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transcript_segment_transcript_id"), ["transcript_id"], unique=False
        )

    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum(
                    "call", "fault", "voicemail", name="recordingkind", native_enum=False, length=32
                ),
                nullable=False,
                server_default="call",
            )
        )
        batch_op.add_column(
            sa.Column("codec", sa.String(length=32), nullable=False, server_default="pcm_s16le")
        )
        batch_op.add_column(
            sa.Column("size_bytes", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "transcript_state",
                sa.Enum(
                    "pending",
                    "done",
                    "failed",
                    name="transcriptstate",
                    native_enum=False,
                    length=32,
                ),
                nullable=False,
                server_default="pending",
            )
        )
        batch_op.add_column(
            sa.Column("transcript_error", sa.Text(), nullable=False, server_default="")
        )
        batch_op.create_index(batch_op.f("ix_recording_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recording_order_id"), ["order_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_recording_order_id_work_order", "work_order", ["order_id"], ["id"]
        )
        batch_op.create_foreign_key("fk_recording_agent_id_user", "user", ["agent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("recording", schema=None) as batch_op:
        batch_op.drop_constraint("fk_recording_agent_id_user", type_="foreignkey")
        batch_op.drop_constraint("fk_recording_order_id_work_order", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_recording_order_id"))
        batch_op.drop_index(batch_op.f("ix_recording_agent_id"))
        batch_op.drop_column("transcript_error")
        batch_op.drop_column("transcript_state")
        batch_op.drop_column("legal_hold")
        batch_op.drop_column("size_bytes")
        batch_op.drop_column("codec")
        batch_op.drop_column("kind")
        batch_op.drop_column("agent_id")
        batch_op.drop_column("order_id")

    with op.batch_alter_table("transcript_segment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcript_segment_transcript_id"))

    op.drop_table("transcript_segment")
    with op.batch_alter_table("transcript", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcript_order_id"))
        batch_op.drop_index(batch_op.f("ix_transcript_customer_id"))
        batch_op.drop_index(batch_op.f("ix_transcript_call_id"))

    op.drop_table("transcript")
