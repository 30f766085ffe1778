"""The parts routes, mounted under /api: the catalogue, stores and their stock, the
ledger, material lines on orders, borrowing from the central store, loaner units. Lists
answer JSON, or with ``format=xlsx`` the same rows as a workbook."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from core import xlsx
from core.deps import ClockDep, SessionDep
from core.xlsx import ExportFormat
from orders import NoNul, Report
from orders.http import AnyUser, IdFilter, Limit, Offset, PathId, Supervisor, report_answer
from parts.enums import PartRequestStatus
from parts.exports import (
    due_returns_sheet,
    ledger_sheet,
    parts_sheet,
    requests_sheet,
    stock_sheet,
)
from parts.schemas import (
    DueReturn,
    LoanIn,
    LoanPublic,
    MaterialChange,
    MaterialIn,
    MaterialPublic,
    MovementPublic,
    PartIn,
    PartOrderIn,
    PartOrderPublic,
    PartPublic,
    PartRequestDecision,
    PartRequestIn,
    PartRequestPublic,
    ReceiptIn,
    ReturnIn,
    ReturnPublic,
    StockPublic,
    TransferIn,
    WarehouseIn,
    WarehousePublic,
)
from parts.services import (
    borrowing,
    catalogue,
    loans,
    materials,
    part_orders,
    reports,
    warehouses,
)

router = APIRouter(tags=["parts"], responses=xlsx.RESPONSES)
Format = Annotated[ExportFormat, Query()]


@router.get("/parts", response_model=list[PartPublic])
def list_parts(
    session: SessionDep,
    _actor: AnyUser,
    q: Annotated[str, Query(max_length=100), NoNul] = "",
    model: Annotated[str, Query(max_length=64), NoNul] = "",
    limit: Limit = 100,
    offset: Offset = 0,
    format: Format = ExportFormat.JSON,
) -> list[PartPublic] | Response:
    """The catalogue: parts whose code or name holds ``q``; with ``model``, those fitting it."""
    parts = catalogue.list_parts(session, q=q, model=model, limit=limit, offset=offset)[0]
    if format is ExportFormat.JSON:
        return parts
    return xlsx.attachment(xlsx.workbook([parts_sheet(parts)]), "parts.xlsx")


@router.post("/parts", status_code=201)
def create_part(
    session: SessionDep, actor: Supervisor, clock: ClockDep, data: PartIn
) -> PartPublic:
    return catalogue.create_part(session, data=data, actor=actor, clock=clock)


@router.get("/warehouses")
def list_warehouses(
    session: SessionDep, actor: AnyUser, station_id: IdFilter = None
) -> list[WarehousePublic]:
    return warehouses.list_warehouses(session, viewer=actor, station_id=station_id)


@router.post("/warehouses", status_code=201)
def create_warehouse(
    session: SessionDep, actor: Supervisor, clock: ClockDep, data: WarehouseIn
) -> WarehousePublic:
    return warehouses.create_warehouse(session, data=data, actor=actor, clock=clock)


@router.get("/warehouses/{warehouse_id}/stock", response_model=StockPublic)
def stock(
    warehouse_id: PathId, session: SessionDep, actor: AnyUser, format: Format = ExportFormat.JSON
) -> StockPublic | Response:
    """What the store holds, part by part, with its value at the station price."""
    found = warehouses.stock(session, warehouse_id=warehouse_id, viewer=actor)
    if format is ExportFormat.JSON:
        return found
    return xlsx.attachment(
        xlsx.workbook([stock_sheet(found)]), f"stock-{found.warehouse.code}.xlsx"
    )


@router.post("/warehouses/{warehouse_id}/receipts", status_code=201)
def receive(
    warehouse_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep, data: ReceiptIn
) -> MovementPublic:
    """Parts arrived at the store (入库)."""
    return warehouses.receive(
        session, warehouse_id=warehouse_id, data=data, actor=actor, clock=clock
    )


@router.post("/stock/transfers", status_code=201)
def transfer(
    session: SessionDep, actor: AnyUser, clock: ClockDep, data: TransferIn
) -> MovementPublic:
    """From store to store: an engineer's 领料, scrapping (报损), samples, mall returns."""
    return warehouses.transfer(session, data=data, actor=actor, clock=clock)


@router.get("/ledger", response_model=list[MovementPublic])
def ledger(
    session: SessionDep,
    actor: AnyUser,
    part: IdFilter = None,
    warehouse: IdFilter = None,
    order: IdFilter = None,
    limit: Limit = 100,
    offset: Offset = 0,
    format: Format = ExportFormat.JSON,
) -> list[MovementPublic] | Response:
    """Ledger rows, newest first, of a part, a store (in or out) or an order."""
    rows = [
        MovementPublic.model_validate(row)
        for row in warehouses.movements(
            session,
            viewer=actor,
            part_id=part,
            warehouse_id=warehouse,
            order_id=order,
            limit=limit,
            offset=offset,
        )
    ]
    if format is ExportFormat.JSON:
        return rows
    return xlsx.attachment(xlsx.workbook([ledger_sheet(session, rows)]), "ledger.xlsx")


@router.get("/orders/{order_id}/materials")
def material_lines(
    order_id: PathId, session: SessionDep, actor: AnyUser, removed: bool = False
) -> list[MaterialPublic]:
    return materials.lines(session, order_id=order_id, viewer=actor, removed=removed)


@router.post("/orders/{order_id}/materials", status_code=201)
def add_material(
    order_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep, data: MaterialIn
) -> MaterialPublic:
    """A part onto the order: its stock leaves the store now (409 ``out_of_stock`` with
    ``details.available`` when the store holds fewer)."""
    return materials.add_line(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.patch("/orders/{order_id}/materials/{line_id}")
def change_material(
    order_id: PathId,
    line_id: PathId,
    session: SessionDep,
    actor: AnyUser,
    clock: ClockDep,
    data: MaterialChange,
) -> MaterialPublic:
    """A new quantity: the difference leaves the store, or goes back to it."""
    return materials.change_line(
        session, order_id=order_id, line_id=line_id, data=data, actor=actor, clock=clock
    )


@router.delete("/orders/{order_id}/materials/{line_id}")
def remove_material(
    order_id: PathId, line_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> MaterialPublic:
    """The line is struck off and its stock goes back to the store."""
    return materials.remove_line(
        session, order_id=order_id, line_id=line_id, actor=actor, clock=clock
    )


@router.get("/part-requests", response_model=list[PartRequestPublic])
def part_requests(
    session: SessionDep,
    actor: AnyUser,
    status: PartRequestStatus | None = None,
    format: Format = ExportFormat.JSON,
) -> list[PartRequestPublic] | Response:
    requests = borrowing.list_requests(session, viewer=actor, status=status)
    if format is ExportFormat.JSON:
        return requests
    return xlsx.attachment(xlsx.workbook([requests_sheet(requests)]), "part-requests.xlsx")


@router.post("/part-requests", status_code=201)
def request_parts(
    session: SessionDep, actor: AnyUser, clock: ClockDep, data: PartRequestIn
) -> PartRequestPublic:
    """A station asks to borrow parts from the central store (备件申请单)."""
    return borrowing.request_parts(session, data=data, actor=actor, clock=clock)


@router.post("/part-requests/{request_id}/decision")
def decide(
    request_id: PathId,
    session: SessionDep,
    actor: Supervisor,
    clock: ClockDep,
    data: PartRequestDecision,
) -> PartRequestPublic:
    """The hotline's (supervisor) or the after-sales manager's (admin) approval or refusal."""
    return borrowing.decide(session, request_id=request_id, data=data, actor=actor, clock=clock)


@router.post("/part-requests/{request_id}/ship")
def ship(
    request_id: PathId, session: SessionDep, actor: Supervisor, clock: ClockDep
) -> PartRequestPublic:
    return borrowing.ship(session, request_id=request_id, actor=actor, clock=clock)


@router.post("/borrowed-parts/{borrowed_id}/returns", status_code=201)
def give_back(
    borrowed_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep, data: ReturnIn
) -> ReturnPublic:
    """Borrowed parts back to the central store: faulty (with the repair's voucher) or unused."""
    return borrowing.give_back(
        session, borrowed_id=borrowed_id, data=data, actor=actor, clock=clock
    )


@router.get("/due-returns", response_model=list[DueReturn])
def due_returns(
    session: SessionDep,
    actor: AnyUser,
    clock: ClockDep,
    station_id: IdFilter = None,
    format: Format = ExportFormat.JSON,
) -> list[DueReturn] | Response:
    """Borrowed parts still out (or billed), with working days out on the station's calendar."""
    rows = borrowing.due_returns(session, viewer=actor, clock=clock, station_id=station_id)
    if format is ExportFormat.JSON:
        return rows
    return xlsx.attachment(xlsx.workbook([due_returns_sheet(rows)]), "due-returns.xlsx")


@router.get("/orders/{order_id}/part-orders")
def customer_part_orders(
    order_id: PathId, session: SessionDep, actor: AnyUser
) -> list[PartOrderPublic]:
    """Parts the customer ordered (客户预订购件), each with whether it has arrived."""
    return part_orders.part_orders(session, order_id=order_id, viewer=actor)


@router.post("/orders/{order_id}/part-orders", status_code=201)
def order_part(
    order_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep, data: PartOrderIn
) -> PartOrderPublic:
    return part_orders.order_part(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.post("/part-orders/{part_order_id}/pickup")
def pick_up(
    part_order_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep
) -> PartOrderPublic:
    """取件: the customer collects it; its stock leaves as a charged line of the order."""
    return part_orders.pick_up(session, part_order_id=part_order_id, actor=actor, clock=clock)


@router.get("/orders/{order_id}/loans")
def order_loans(order_id: PathId, session: SessionDep, actor: AnyUser) -> list[LoanPublic]:
    return loans.loans_of(session, order_id=order_id, viewer=actor)


@router.post("/orders/{order_id}/loans", status_code=201)
def lend(
    order_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep, data: LoanIn
) -> LoanPublic:
    """A loaner unit (备用机) to the customer while their machine is repaired."""
    return loans.lend(session, order_id=order_id, data=data, actor=actor, clock=clock)


@router.post("/loans/{loan_id}/return")
def loan_back(loan_id: PathId, session: SessionDep, actor: AnyUser, clock: ClockDep) -> LoanPublic:
    return loans.take_back(session, loan_id=loan_id, actor=actor, clock=clock)


@router.get("/reports/parts", response_model=Report)
def parts_usage(
    session: SessionDep,
    _actor: Supervisor,
    clock: ClockDep,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    format: Format = ExportFormat.JSON,
) -> Report | Response:
    """Parts consumed and scrapped, with the scrap rate, by part, station and month."""
    return report_answer(reports.parts_report(session, start=start, end=end, now=clock()), format)


@router.get("/reports/stock-value", response_model=Report)
def stock_value(
    session: SessionDep, _actor: Supervisor, clock: ClockDep, format: Format = ExportFormat.JSON
) -> Report | Response:
    return report_answer(reports.stock_value_report(session, now=clock()), format)
