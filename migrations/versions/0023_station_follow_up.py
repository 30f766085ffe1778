"""station follow-up: outbound tasks a service station's staff make (§3.4.7)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_task") as batch:
        batch.add_column(sa.Column("station_id", sa.Integer(), nullable=True))
        batch.create_index("ix_outbound_task_station_id", ["station_id"])
        batch.create_foreign_key(
            "fk_outbound_task_station_id_station", "station", ["station_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_task") as batch:
        batch.drop_constraint("fk_outbound_task_station_id_station", type_="foreignkey")
        batch.drop_index("ix_outbound_task_station_id")
        batch.drop_column("station_id")
