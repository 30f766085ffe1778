"""an index of the calls going on, for the worker's sweeps

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("state <> 'ended'")


def upgrade() -> None:
    op.create_index(
        "ix_call_live", "call", ["state"], unique=False, postgresql_where=LIVE, sqlite_where=LIVE
    )


def downgrade() -> None:
    op.drop_index("ix_call_live", table_name="call")
