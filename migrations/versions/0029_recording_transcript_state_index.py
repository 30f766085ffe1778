"""an index for the transcription sweep: recordings by transcript state, oldest first

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_recording_transcript_state_id", "recording", ["transcript_state", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_recording_transcript_state_id", table_name="recording")
