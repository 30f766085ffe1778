"""work order index on (customer_id, status), for the open orders of a screen pop

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

The caller lookup lists a customer's open orders. With only (customer_id, created_at) to go
by, it read every order the customer ever had and filtered on status: for a landlord with
1,200 orders that was most of the lookup's time (benchmarks/lookup.py, heaviest caller).

A plain CREATE INDEX, not CONCURRENTLY: the concurrent build waits for every older
transaction in the database, which on a shared database (the test suite's) can be any
number of them. On a live table of a million orders the plain build blocks writes to
work_order for about a second.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.create_index(
            "ix_work_order_customer_status", ["customer_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.drop_index("ix_work_order_customer_status")
