"""user.token_version and user.extension

token_version: tokens issued before a password reset or deactivation stop working.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Every token carries the version it was issued under; every request compares it with the
user's. A password change, a role change and a deactivation bump it.

extension: where an agent's calls are rung, assigned by an admin (an agent could once
name any SIP address and have customers' calls diverted there).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("extension", sa.String(length=130), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("extension")
        batch_op.drop_column("token_version")
