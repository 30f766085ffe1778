"""call.held_at and call.agent_leg: hold and transfer on every channel

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Twilio calls are held and transferred by steering the agent's leg (its CallSid is kept),
and a caller who leaves the agent's bridge is put back on hold music while ``held_at`` is set.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("agent_leg", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_column("agent_leg")
        batch_op.drop_column("held_at")
