"""parts: the catalogue, stores, the stock and its ledger, material lines on orders,
parts requests to the central store with what is lent and returned, loaner units

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.types import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("station_price_fen", sa.Integer(), nullable=False),
        sa.Column("public_price_fen", sa.Integer(), nullable=False),
        sa.Column("sellable", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("station_price_fen <= public_price_fen", name="station_below_public"),
        sa.CheckConstraint("station_price_fen >= 0", name="price_not_negative"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "warehouse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "central",
                "station",
                "engineer",
                "repair_waiting",
                "sample",
                "damaged",
                "mall_return",
                "loaner",
                name="warehousekind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("engineer_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(op.f("ix_warehouse_engineer_id"), "warehouse", ["engineer_id"], unique=False)
    op.create_index(op.f("ix_warehouse_station_id"), "warehouse", ["station_id"], unique=False)
    op.create_table(
        "loan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("out", "returned", name="loanstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("lent_by", sa.String(length=200), nullable=False),
        sa.Column("lent_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("returned_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["part.id"],
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouse.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_loan_order_id"), "loan", ["order_id"], unique=False)
    op.create_table(
        "material_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "issue_type",
            sa.Enum(
                "in_warranty",
                "out_of_warranty",
                "mall_return",
                "station",
                "engineer",
                "customer_sale",
                "customer_order",
                name="issuetype",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("unit_price_fen", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["part.id"],
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouse.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_material_line_order_id"), "material_line", ["order_id"], unique=False)
    op.create_table(
        "part_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "shipped",
                "rejected",
                name="partrequeststatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("hotline_approved_by", sa.String(length=200), nullable=False),
        sa.Column("hotline_approved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("manager_approved_by", sa.String(length=200), nullable=False),
        sa.Column("manager_approved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ship_on", sa.Date(), nullable=True),
        sa.Column("rejected_by", sa.String(length=200), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=False),
        sa.Column("shipped_by", sa.String(length=200), nullable=False),
        sa.Column("shipped_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_part_request_station_id"), "part_request", ["station_id"], unique=False
    )
    op.create_table(
        "stock",
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name="stock_not_negative"),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["part.id"],
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouse.id"],
        ),
        sa.PrimaryKeyConstraint("warehouse_id", "part_id"),
    )
    op.create_index(op.f("ix_stock_part_id"), "stock", ["part_id"], unique=False)
    op.create_table(
        "part_request_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["part.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["part_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_part_request_line_request_id"), "part_request_line", ["request_id"], unique=False
    )
    op.create_table(
        "stock_movement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("from_warehouse_id", sa.Integer(), nullable=True),
        sa.Column("to_warehouse_id", sa.Integer(), nullable=True),
        sa.Column(
            "reason",
            sa.Enum(
                "receipt",
                "transfer",
                "issue",
                "issue_change",
                "issue_return",
                "scrap",
                "adjustment",
                "shipment",
                "return",
                "loan",
                "loan_return",
                name="movementreason",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("material_line_id", sa.Integer(), nullable=True),
        sa.Column("unit_price_fen", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="movement_positive"),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["from_warehouse_id"],
            ["warehouse.id"],
        ),
        sa.ForeignKeyConstraint(
            ["material_line_id"],
            ["material_line.id"],
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_order.id"],
        ),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["part.id"],
        ),
        sa.ForeignKeyConstraint(
            ["to_warehouse_id"],
            ["warehouse.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_stock_movement_from", "stock_movement", ["from_warehouse_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_stock_movement_order_id"), "stock_movement", ["order_id"], unique=False
    )
    op.create_index(
        "ix_stock_movement_part_id_id", "stock_movement", ["part_id", "id"], unique=False
    )
    op.create_index(
        "ix_stock_movement_to", "stock_movement", ["to_warehouse_id", "id"], unique=False
    )
    op.create_table(
        "borrowed_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_line_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("shipped_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("returned_faulty", sa.Integer(), nullable=False),
        sa.Column("returned_unused", sa.Integer(), nullable=False),
        sa.Column("billed_quantity", sa.Integer(), nullable=False),
        sa.Column("billed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("billed_fen", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["part_id"],
            ["part.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_line_id"],
            ["part_request_line.id"],
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_line_id"),
    )
    op.create_index(
        op.f("ix_borrowed_part_station_id"), "borrowed_part", ["station_id"], unique=False
    )
    op.create_table(
        "part_return",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrowed_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "condition",
            sa.Enum("faulty", "unused", name="returncondition", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("voucher_order_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("returned_by", sa.String(length=200), nullable=False),
        sa.Column("returned_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrowed_id"],
            ["borrowed_part.id"],
        ),
        sa.ForeignKeyConstraint(
            ["voucher_order_id"],
            ["work_order.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_part_return_borrowed_id"), "part_return", ["borrowed_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_part_return_borrowed_id"), table_name="part_return")
    op.drop_table("part_return")
    op.drop_index(op.f("ix_borrowed_part_station_id"), table_name="borrowed_part")
    op.drop_table("borrowed_part")
    op.drop_index("ix_stock_movement_to", table_name="stock_movement")
    op.drop_index("ix_stock_movement_part_id_id", table_name="stock_movement")
    op.drop_index(op.f("ix_stock_movement_order_id"), table_name="stock_movement")
    op.drop_index("ix_stock_movement_from", table_name="stock_movement")
    op.drop_table("stock_movement")
    op.drop_index(op.f("ix_part_request_line_request_id"), table_name="part_request_line")
    op.drop_table("part_request_line")
    op.drop_index(op.f("ix_stock_part_id"), table_name="stock")
    op.drop_table("stock")
    op.drop_index(op.f("ix_part_request_station_id"), table_name="part_request")
    op.drop_table("part_request")
    op.drop_index(op.f("ix_material_line_order_id"), table_name="material_line")
    op.drop_table("material_line")
    op.drop_index(op.f("ix_loan_order_id"), table_name="loan")
    op.drop_table("loan")
    op.drop_index(op.f("ix_warehouse_station_id"), table_name="warehouse")
    op.drop_index(op.f("ix_warehouse_engineer_id"), table_name="warehouse")
    op.drop_table("warehouse")
    op.drop_table("part")
