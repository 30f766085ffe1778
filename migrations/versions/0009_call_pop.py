"""call.pop: the screen-pop payload, built once per call and kept with it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Every later step of the call (the IVR's gathers, the queue's priority) reads it back
instead of looking the caller up again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pop", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_column("pop")
