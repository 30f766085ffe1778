"""work order indexes for the caller lookup: (customer_id, status), (customer_id, created_at, id)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

The screen pop lists a customer's open orders and their last ten (benchmarks/lookup.py).

- Open orders: with only (customer_id, created_at) to go by, the lookup read every order the
  customer ever had and filtered on status; for a landlord with 1,200 orders that was most
  of the lookup's time. (customer_id, status) finds the open ones directly.
- Last ten: (customer_id, created_at, id) replaces (customer_id, created_at). It holds the
  whole sort key and the id, so the newest ten ids come from the index alone, in order; the
  lookup's correlated subquery is planned for an average customer, and PostgreSQL otherwise
  chose to fetch and sort all of a heavy customer's orders. Every query the old index
  served, the new one serves too.

Plain CREATE INDEX, not CONCURRENTLY: a concurrent build waits for every older transaction in
the database, which on a shared database (the test suite's) can be any number of them. On a
live table of a million orders each build blocks writes to work_order for about a second.
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
        batch_op.create_index(
            "ix_work_order_customer_created_id", ["customer_id", "created_at", "id"], unique=False
        )
        batch_op.drop_index("ix_work_order_customer_created")


def downgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
        batch_op.create_index(
            "ix_work_order_customer_created", ["customer_id", "created_at"], unique=False
        )
        batch_op.drop_index("ix_work_order_customer_created_id")
        batch_op.drop_index("ix_work_order_customer_status")
