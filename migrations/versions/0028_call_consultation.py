"""attended transfer: the colleague a call's agent consults, and their leg

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call") as batch:
        batch.add_column(sa.Column("consult_agent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("consult_leg", sa.String(length=64), nullable=True))
        batch.create_foreign_key("fk_call_consult_agent_id", "user", ["consult_agent_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("call") as batch:
        batch.drop_constraint("fk_call_consult_agent_id", type_="foreignkey")
        batch.drop_column("consult_leg")
        batch.drop_column("consult_agent_id")
