"""Tables of the parts domain: the catalogue, the stores, the ledger and what it feeds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from core.types import UTCDateTime, enum_type
from parts.enums import (
    IssueType,
    LoanStatus,
    MovementReason,
    PartOrderStatus,
    PartRequestStatus,
    ReturnCondition,
    WarehouseKind,
)


def _stamp(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class Part(SQLModel, table=True):
    """A catalogue entry. Prices are in fen (分), so sums are exact."""

    __table_args__ = (
        CheckConstraint("station_price_fen <= public_price_fen", name="station_below_public"),
        CheckConstraint("station_price_fen >= 0", name="price_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    models: list[str] = Field(default_factory=list, sa_type=JSON)
    """Appliance models the part fits; empty: any."""
    station_price_fen: int
    """What a station pays the parts group (维修站购买价格)."""
    public_price_fen: int
    """The published customer price (公开销售价格): no station charges above it."""
    sellable: bool = True
    """False: the parts group forbids selling it (不可销售备件)."""
    is_active: bool = True
    created_at: datetime = _stamp()


class Warehouse(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    kind: WarehouseKind = Field(sa_type=enum_type(WarehouseKind))
    station_id: int | None = Field(default=None, foreign_key="station.id", index=True)
    engineer_id: int | None = Field(default=None, foreign_key="engineer.id", index=True)
    is_active: bool = True
    created_at: datetime = _stamp()


class Stock(SQLModel, table=True):
    """What the ledger sums to per store and part, kept in the same transaction as every
    ledger row; the CHECK makes a negative balance impossible whatever the code does."""

    __table_args__ = (CheckConstraint("quantity >= 0", name="stock_not_negative"),)

    warehouse_id: int = Field(foreign_key="warehouse.id", primary_key=True)
    part_id: int = Field(foreign_key="part.id", primary_key=True, index=True)
    quantity: int = 0


class StockMovement(SQLModel, table=True):
    """One ledger row: ``quantity`` units of a part left ``from_warehouse_id`` (none: it
    came from outside, a supplier or a customer) for ``to_warehouse_id`` (none: it left
    the stores, into a customer's machine or hands)."""

    __tablename__ = "stock_movement"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="movement_positive"),
        Index("ix_stock_movement_part_id_id", "part_id", "id"),
        Index("ix_stock_movement_from", "from_warehouse_id", "id"),
        Index("ix_stock_movement_to", "to_warehouse_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _stamp()
    part_id: int = Field(foreign_key="part.id")
    quantity: int
    from_warehouse_id: int | None = Field(default=None, foreign_key="warehouse.id")
    to_warehouse_id: int | None = Field(default=None, foreign_key="warehouse.id")
    reason: MovementReason = Field(sa_type=enum_type(MovementReason))
    order_id: int | None = Field(default=None, foreign_key="work_order.id", index=True)
    material_line_id: int | None = Field(default=None, foreign_key="material_line.id")
    unit_price_fen: int | None = None
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    actor_name: str = Field(max_length=200)
    note: str = Field(default="", sa_type=Text)


class MaterialLine(SQLModel, table=True):
    """A part on a work order (材料清单): its stock left ``warehouse_id`` when the line was
    saved; a removed line keeps its row, with the return in the ledger."""

    __tablename__ = "material_line"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    part_id: int = Field(foreign_key="part.id")
    warehouse_id: int = Field(foreign_key="warehouse.id")
    quantity: int
    issue_type: IssueType = Field(sa_type=enum_type(IssueType))
    unit_price_fen: int
    """What the customer pays per unit: 0 unless the issue type is charged."""
    created_by: str = Field(max_length=200)
    created_at: datetime = _stamp()
    updated_at: datetime = _stamp()
    removed_at: datetime | None = _stamp(nullable=True)


class PartRequest(SQLModel, table=True):
    """A station's request to borrow parts from the central store (备件申请单), shipped
    once the hotline and the after-sales manager have both approved it."""

    __tablename__ = "part_request"

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="work_order.id")
    status: PartRequestStatus = Field(
        default=PartRequestStatus.PENDING, sa_type=enum_type(PartRequestStatus)
    )
    note: str = Field(default="", sa_type=Text)
    requested_by: str = Field(max_length=200)
    requested_at: datetime = _stamp()
    hotline_approved_by: str = Field(default="", max_length=200)
    hotline_approved_at: datetime | None = _stamp(nullable=True)
    manager_approved_by: str = Field(default="", max_length=200)
    manager_approved_at: datetime | None = _stamp(nullable=True)
    approved_at: datetime | None = _stamp(nullable=True)
    ship_on: date | None = None
    """The central store's ship day: the day of approval if before 12:00 on a working day,
    else the next working day (12:00之前当天发出, 之后次日发出)."""
    rejected_by: str = Field(default="", max_length=200)
    reject_reason: str = Field(default="", sa_type=Text)
    shipped_by: str = Field(default="", max_length=200)
    shipped_at: datetime | None = _stamp(nullable=True)


class PartRequestLine(SQLModel, table=True):
    __tablename__ = "part_request_line"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="part_request.id", index=True)
    part_id: int = Field(foreign_key="part.id")
    quantity: int


class BorrowedPart(SQLModel, table=True):
    """Parts a station holds on loan from the central store, from one shipped request
    line: each unit comes back (faulty or unused) or is billed to the station."""

    __tablename__ = "borrowed_part"

    id: int | None = Field(default=None, primary_key=True)
    request_line_id: int = Field(foreign_key="part_request_line.id", unique=True)
    station_id: int = Field(foreign_key="station.id", index=True)
    part_id: int = Field(foreign_key="part.id")
    quantity: int
    shipped_at: datetime = _stamp()
    returned_faulty: int = 0
    returned_unused: int = 0
    billed_quantity: int = 0
    billed_at: datetime | None = _stamp(nullable=True)
    billed_fen: int = 0
    """What the station was billed, at its price when billed (以维修站购买价格进行销售)."""


class PartReturn(SQLModel, table=True):
    __tablename__ = "part_return"

    id: int | None = Field(default=None, primary_key=True)
    borrowed_id: int = Field(foreign_key="borrowed_part.id", index=True)
    quantity: int
    condition: ReturnCondition = Field(sa_type=enum_type(ReturnCondition))
    voucher_order_id: int | None = Field(default=None, foreign_key="work_order.id")
    """A faulty part comes back with the voucher of the repair it came out of."""
    due_on: date
    late: bool
    returned_by: str = Field(max_length=200)
    returned_at: datetime = _stamp()


class Loan(SQLModel, table=True):
    """A loaner unit (备用机) with a customer while their machine is repaired."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    part_id: int = Field(foreign_key="part.id")
    warehouse_id: int = Field(foreign_key="warehouse.id")
    status: LoanStatus = Field(default=LoanStatus.OUT, sa_type=enum_type(LoanStatus))
    lent_by: str = Field(max_length=200)
    lent_at: datetime = _stamp()
    returned_at: datetime | None = _stamp(nullable=True)


class PartOrder(SQLModel, table=True):
    """A part a customer ordered through a work order, at a price fixed when ordered, handed
    over at the station once its store holds it (the stock leaves then, as a material
    line of the order)."""

    __tablename__ = "part_order"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    part_id: int = Field(foreign_key="part.id")
    quantity: int
    unit_price_fen: int
    status: PartOrderStatus = Field(
        default=PartOrderStatus.ORDERED, sa_type=enum_type(PartOrderStatus)
    )
    ordered_by: str = Field(max_length=200)
    ordered_at: datetime = _stamp()
    material_line_id: int | None = Field(default=None, foreign_key="material_line.id")
    picked_up_at: datetime | None = _stamp(nullable=True)
