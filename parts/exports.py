"""The parts lists as workbook sheets, with the same rows the JSON gives."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.xlsx import Sheet
from parts.models import Part, Warehouse
from parts.schemas import DueReturn, MovementPublic, PartPublic, PartRequestPublic, StockPublic


def parts_sheet(parts: list[PartPublic]) -> Sheet:
    return Sheet(
        "parts",
        ["code", "name", "models", "station price (fen)", "public price (fen)", "sellable"],
        [
            [
                p.code,
                p.name,
                ", ".join(p.models),
                p.station_price_fen,
                p.public_price_fen,
                p.sellable,
            ]
            for p in parts
        ],
    )


def requests_sheet(requests: list[PartRequestPublic]) -> Sheet:
    return Sheet(
        "part requests",
        [
            "request",
            "station",
            "status",
            "lines",
            "requested by",
            "requested at",
            "hotline",
            "manager",
            "ship on",
            "shipped at",
        ],
        [
            [
                r.id,
                r.station_id,
                r.status.value,
                ", ".join(f"{line.part_code} x {line.quantity}" for line in r.lines),
                r.requested_by,
                r.requested_at.isoformat(),
                r.hotline_approved_by,
                r.manager_approved_by,
                r.ship_on.isoformat() if r.ship_on else None,
                r.shipped_at.isoformat() if r.shipped_at else None,
            ]
            for r in requests
        ],
    )


def stock_sheet(stock: StockPublic) -> Sheet:
    return Sheet(
        f"stock {stock.warehouse.code}",
        ["part", "name", "quantity", "station price (fen)", "value (fen)"],
        [
            [line.code, line.name, line.quantity, line.station_price_fen, line.value_fen]
            for line in stock.lines
        ],
    )


def ledger_sheet(session: Session, rows: list[MovementPublic]) -> Sheet:
    parts = _codes(session, Part, {r.part_id for r in rows})
    stores = _codes(
        session,
        Warehouse,
        {w for r in rows for w in (r.from_warehouse_id, r.to_warehouse_id) if w is not None},
    )
    return Sheet(
        "ledger",
        [
            "id",
            "at",
            "part",
            "quantity",
            "from",
            "to",
            "reason",
            "order",
            "line",
            "unit price (fen)",
            "by",
            "note",
        ],
        [
            [
                r.id,
                r.at.isoformat(),
                parts.get(r.part_id, ""),
                r.quantity,
                stores.get(r.from_warehouse_id or 0, ""),
                stores.get(r.to_warehouse_id or 0, ""),
                r.reason.value,
                r.order_id,
                r.material_line_id,
                r.unit_price_fen,
                r.actor_name,
                r.note,
            ]
            for r in rows
        ],
    )


def due_returns_sheet(rows: list[DueReturn]) -> Sheet:
    return Sheet(
        "due returns",
        [
            "borrowed",
            "station",
            "part",
            "shipped at",
            "out",
            "working days out",
            "unused due",
            "billed on",
            "billed units",
            "billed (fen)",
            "state",
        ],
        [
            [
                r.borrowed_id,
                r.station_id,
                r.part_code,
                r.shipped_at.isoformat(),
                r.outstanding,
                r.working_days_out,
                r.unused_due_on.isoformat(),
                r.bill_on.isoformat(),
                r.billed_quantity,
                r.billed_fen,
                r.state,
            ]
            for r in rows
        ],
    )


def _codes(session: Session, table: type[Part] | type[Warehouse], ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = session.exec(select(table.id, table.code).where(col(table.id).in_(ids))).all()
    return {row_id or 0: code for row_id, code in found}
