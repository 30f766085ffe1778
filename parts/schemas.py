"""What the parts routes take and give."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from orders import Name, RowId, Strict
from parts.enums import (
    IssueType,
    LoanStatus,
    MovementReason,
    PartOrderStatus,
    PartRequestStatus,
    ReturnCondition,
    WarehouseKind,
)

Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$"
    ),
]
PartCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._/-]+$"
    ),
]
Fen = Annotated[int, Field(ge=0, le=100_000_000)]
"""Money in fen (分): 0 to one million yuan."""
Quantity = Annotated[int, Field(ge=1, le=10_000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class PartIn(Strict):
    code: PartCode
    name: Name
    models: Annotated[list[ModelName], Field(default_factory=list, max_length=200)]
    station_price_fen: Fen
    public_price_fen: Fen
    sellable: bool = True


class PartPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    models: list[str]
    station_price_fen: int
    public_price_fen: int
    sellable: bool
    is_active: bool


class WarehouseIn(Strict):
    code: Code
    name: Name
    kind: WarehouseKind
    station_id: RowId | None = None
    engineer_id: RowId | None = None


class WarehousePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: WarehouseKind
    station_id: int | None
    engineer_id: int | None


class StockLine(BaseModel):
    part_id: int
    code: str
    name: str
    quantity: int
    station_price_fen: int
    value_fen: int
    """Quantity at the station price: what the stock is worth to the brand."""


class StockPublic(BaseModel):
    warehouse: WarehousePublic
    lines: list[StockLine]
    value_fen: int


class ReceiptIn(Strict):
    """Parts that arrived from the supplier (入库), or a direct purchase at a station."""

    part_id: RowId
    quantity: Quantity
    note: Note = ""


class TransferIn(Strict):
    """From one store to another: an engineer taking parts (领料) or giving them back,
    scrapping into the damaged store (报损), a sample, a mall return."""

    part_id: RowId
    quantity: Quantity
    from_warehouse_id: RowId
    to_warehouse_id: RowId
    note: Note = ""


class MaterialIn(Strict):
    part_id: RowId
    quantity: Quantity
    issue_type: IssueType
    unit_price_fen: Fen | None = None
    """Charged issues: the price asked of the customer, at most the public price (the
    default). Free issues: leave out, or 0."""
    warehouse_id: RowId | None = None
    """Default: the station's parts store, or the engineer's own for an engineer's issue."""


class MaterialChange(Strict):
    quantity: Quantity


class MaterialPublic(BaseModel):
    id: int
    order_id: int
    part_id: int
    part_code: str
    part_name: str
    warehouse_id: int
    quantity: int
    issue_type: IssueType
    unit_price_fen: int
    total_fen: int
    created_by: str
    created_at: datetime
    removed_at: datetime | None


class MovementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    part_id: int
    quantity: int
    from_warehouse_id: int | None
    to_warehouse_id: int | None
    reason: MovementReason
    order_id: int | None
    material_line_id: int | None
    unit_price_fen: int | None
    actor_name: str
    note: str


class PartRequestLineIn(Strict):
    part_id: RowId
    quantity: Quantity


class PartRequestIn(Strict):
    station_id: RowId | None = None
    """Station staff ask for their own station; the hotline names one."""
    order_id: RowId | None = None
    lines: Annotated[list[PartRequestLineIn], Field(min_length=1, max_length=50)]
    note: Note = ""


class PartRequestDecision(Strict):
    approve: bool
    reason: Note = ""


class PartRequestLinePublic(BaseModel):
    part_id: int
    part_code: str
    quantity: int


class PartRequestPublic(BaseModel):
    id: int
    station_id: int
    order_id: int | None
    status: PartRequestStatus
    note: str
    requested_by: str
    requested_at: datetime
    hotline_approved_by: str
    manager_approved_by: str
    ship_on: date | None
    shipped_at: datetime | None
    rejected_by: str
    reject_reason: str
    lines: list[PartRequestLinePublic]


class ReturnIn(Strict):
    quantity: Quantity
    condition: ReturnCondition
    voucher_order_id: RowId | None = None
    """Faulty parts: the work order the part came out of (返件凭证)."""


class DueReturn(BaseModel):
    """A borrowed line with units still out, counted on the station's calendar."""

    borrowed_id: int
    station_id: int
    part_id: int
    part_code: str
    shipped_at: datetime
    outstanding: int
    working_days_out: int
    unused_due_on: date
    bill_on: date
    billed_quantity: int
    billed_fen: int
    state: str
    """``ok``, ``overdue`` (past the 10 working days for unused parts) or ``billed``."""


class ReturnPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    borrowed_id: int
    quantity: int
    condition: ReturnCondition
    voucher_order_id: int | None
    due_on: date
    late: bool
    returned_at: datetime


class LoanIn(Strict):
    part_id: RowId
    warehouse_id: RowId | None = None
    """Default: the order's station's loaner store."""


class LoanPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    order_id: int
    part_id: int
    warehouse_id: int
    status: LoanStatus
    lent_by: str
    lent_at: datetime
    returned_at: datetime | None


class PartOrderIn(Strict):
    part_id: RowId
    quantity: Quantity
    unit_price_fen: Fen | None = None
    """At most, and by default, the public price."""


class PartOrderPublic(BaseModel):
    id: int
    order_id: int
    part_id: int
    part_code: str
    quantity: int
    unit_price_fen: int
    total_fen: int
    status: PartOrderStatus
    arrived: bool
    """The station's store holds enough for it now (到货)."""
    ordered_by: str
    ordered_at: datetime
    picked_up_at: datetime | None
