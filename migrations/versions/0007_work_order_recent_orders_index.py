"""work order index (customer_id, created_at, id) replaces (customer_id, created_at)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

The screen pop lists a customer's last ten orders (benchmarks/lookup.py). The new index
holds the whole sort key and the id, so the newest ten ids come from the index alone, in
order. The lookup's correlated subquery is planned for an average customer, and with only
(customer_id, created_at) PostgreSQL chose to fetch and sort every order of the customer:
milliseconds for one with a thousand. Every query the old index served, the new one
serves too.

Plain CREATE INDEX, not CONCURRENTLY, for the reason given in 0006.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_order", schema=None) as batch_op:
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
