"""Figures from the ledger: parts consumed and scrapped by part, station and month, and the
stock's value per store. One aggregate over the ledger per period, whatever its size."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import Session, col, select

from orders import HOTLINE_ZONE as HOTLINE
from orders import Report, ReportSection, Station, check_period, month_starts
from parts.enums import MovementReason
from parts.models import Part, Stock, StockMovement, Warehouse

_USED = (
    MovementReason.ISSUE,
    MovementReason.ISSUE_CHANGE,
    MovementReason.ISSUE_RETURN,
    MovementReason.SCRAP,
)


def usage(
    session: Session, *, start: datetime, end: datetime
) -> dict[tuple[int | None, int], tuple[int, int]]:
    """(station, part) → (units consumed on orders, units scrapped) in [start, end)."""
    moved = col(StockMovement.quantity)
    reason = col(StockMovement.reason)
    outgoing = col(StockMovement.from_warehouse_id).is_not(None)
    consumed = case(
        (reason == MovementReason.ISSUE, moved),
        (and_(reason == MovementReason.ISSUE_CHANGE, outgoing), moved),
        (
            col(StockMovement.reason).in_(
                [MovementReason.ISSUE_CHANGE, MovementReason.ISSUE_RETURN]
            ),
            -moved,
        ),
        else_=0,
    )
    scrapped = case((reason == MovementReason.SCRAP, moved), else_=0)
    store = func.coalesce(StockMovement.from_warehouse_id, StockMovement.to_warehouse_id)
    rows = session.exec(
        select(Warehouse.station_id, StockMovement.part_id, func.sum(consumed), func.sum(scrapped))
        .join(Warehouse, col(Warehouse.id) == store)
        .where(
            col(StockMovement.at) >= start,
            col(StockMovement.at) < end,
            col(StockMovement.reason).in_(_USED),
        )
        .group_by(col(Warehouse.station_id), col(StockMovement.part_id))
    ).all()
    return {
        (station, part): (int(used or 0), int(scrap or 0)) for station, part, used, scrap in rows
    }


def consumed_value_by_station(
    session: Session, *, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """Station → (units consumed on orders, their value at the station price)."""
    prices = dict(session.exec(select(Part.id, Part.station_price_fen)).all())
    found: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for (station, part), (used, _scrap) in usage(session, start=start, end=end).items():
        if station is None:
            continue
        found[station][0] += used
        found[station][1] += used * prices.get(part, 0)
    return {station: (units, value) for station, (units, value) in found.items()}


def parts_report(session: Session, *, start: datetime, end: datetime, now: datetime) -> Report:
    """Consumption and scrap rate (scrapped / (consumed + scrapped)) by part, by station
    and by month."""
    check_period(start, end)
    parts = {p.id: p for p in session.exec(select(Part)).all()}
    stations = dict(session.exec(select(Station.id, Station.code)).all())
    by_part: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    by_station: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    months: list[list[str | int | float | None]] = []
    edges = [*month_starts(start, end), end]
    for low, high in pairwise(edges):
        total = [0, 0]
        for (station, part), (used, scrap) in usage(session, start=low, end=high).items():
            for bucket in (by_part[part], by_station[station], total):
                bucket[0] += used
                bucket[1] += scrap
        months.append([f"{low.astimezone(HOTLINE):%Y-%m}", total[0], total[1], _rate(*total)])

    def code(part: int) -> Any:
        return parts[part].code if part in parts else part

    return Report(
        name="parts",
        start=start,
        end=end,
        generated_at=now,
        sections=[
            ReportSection(
                title="by part",
                columns=["part", "name", "consumed", "scrapped", "scrap rate"],
                rows=[
                    [code(p), parts[p].name if p in parts else "", u, s, _rate(u, s)]
                    for p, (u, s) in sorted(by_part.items(), key=lambda kv: str(code(kv[0])))
                ],
            ),
            ReportSection(
                title="by station",
                columns=["station", "consumed", "scrapped", "scrap rate"],
                rows=[
                    [stations.get(st, "central") if st else "central", u, s, _rate(u, s)]
                    for st, (u, s) in sorted(
                        by_station.items(), key=lambda kv: str(stations.get(kv[0], ""))
                    )
                ],
            ),
            ReportSection(
                title="by month",
                columns=["month", "consumed", "scrapped", "scrap rate"],
                rows=months,
            ),
        ],
    )


def stock_value_report(session: Session, *, now: datetime) -> Report:
    rows = session.exec(
        select(
            Warehouse,
            func.coalesce(func.sum(Stock.quantity), 0),
            func.coalesce(func.sum(Stock.quantity * Part.station_price_fen), 0),
        )
        .join(Stock, col(Stock.warehouse_id) == col(Warehouse.id), isouter=True)
        .join(Part, col(Part.id) == col(Stock.part_id), isouter=True)
        .group_by(col(Warehouse.id))
        .order_by(col(Warehouse.code))
    ).all()
    stations = dict(session.exec(select(Station.id, Station.code)).all())
    return Report(
        name="stock value",
        start=now,
        end=now,
        generated_at=now,
        sections=[
            ReportSection(
                title="by store",
                columns=["store", "kind", "station", "units", "value (fen)"],
                rows=[
                    [
                        w.code,
                        w.kind.value,
                        stations.get(w.station_id, "") if w.station_id else "",
                        int(units),
                        int(value),
                    ]
                    for w, units, value in rows
                ],
            )
        ],
    )


def _rate(used: int, scrapped: int) -> float | None:
    return round(scrapped / (used + scrapped), 4) if used + scrapped > 0 else None
