"""What the money comes to: a fee statement per order, engineers' commission per month,
and stations' monthly settlements."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import Session, col, select

from billing.enums import FeeKind, QuoteStatus, SlipStatus
from billing.exceptions import InvalidFeeSchedule, InvalidStatementRequest
from billing.models import CompletionSlip, FeeRate, Quote
from billing.schemas import FeeLine, FeeStatement
from billing.services.quotes import approved_quote, needs_quote
from billing.services.rates import labour_fee, travel_fee
from orders import (
    Actor,
    Appliance,
    CallbackState,
    Engineer,
    Report,
    ReportSection,
    Station,
    WorkOrder,
    month_range,
    visible_order,
)
from parts import (
    CHARGED,
    IssueType,
    billed_by_station,
    consumed_value_by_station,
    get_part,
    material_lines,
    overdue_by_station,
)

COVERED_ISSUES = frozenset({IssueType.IN_WARRANTY, IssueType.ENGINEER})
"""Issues that are free to the customer because the warranty pays (an engineer's issue is
free only when the order is covered, and then priced 0)."""


def fee_statement(session: Session, *, order_id: int, viewer: Actor) -> FeeStatement:
    """Parts, labour and travel: what the customer pays, and what the warranty covered."""
    order = visible_order(session, order_id, viewer)
    slip = session.exec(select(CompletionSlip).where(CompletionSlip.order_id == order_id)).first()
    quote = approved_quote(session, order_id)
    charged = needs_quote(order) or (quote is not None and quote.labour_fen > 0)
    lines: list[FeeLine] = []
    for line in material_lines(session, order_id=order_id, viewer=viewer):
        public = get_part(session, line.part_id).public_price_fen
        free = line.issue_type in COVERED_ISSUES and line.unit_price_fen == 0
        lines.append(
            FeeLine(
                item="part",
                code=line.part_code,
                name=line.part_name,
                quantity=line.quantity,
                unit_price_fen=line.unit_price_fen,
                charged_fen=line.total_fen if line.issue_type in CHARGED or not free else 0,
                covered_fen=line.quantity * public if free else 0,
            )
        )
    kind = slip.service_kind if slip else quote.service_kind if quote else None
    if kind is not None:
        appliance = session.get(Appliance, order.appliance_id) if order.appliance_id else None
        try:
            labour = labour_fee(session, kind, appliance.category.value if appliance else None)
        except InvalidFeeSchedule:
            labour = 0
        travel = (
            travel_fee(session, order.urban is not False)
            if order.service_mode.value == "on_site"
            else 0
        )
        labour_charged = (
            (slip.labour_fen if slip else quote.labour_fen if quote else 0) if charged else 0
        )
        travel_charged = (
            (slip.travel_fen if slip else quote.travel_fen if quote else 0) if charged else 0
        )
        lines.append(
            FeeLine(
                item="labour",
                code=kind.value,
                name=kind.value,
                quantity=1,
                unit_price_fen=labour,
                charged_fen=labour_charged,
                covered_fen=0 if charged else labour,
            )
        )
        if travel or travel_charged:
            lines.append(
                FeeLine(
                    item="travel",
                    code="travel",
                    name="travel",
                    quantity=1,
                    unit_price_fen=travel,
                    charged_fen=travel_charged,
                    covered_fen=0 if charged else travel,
                )
            )

    def total(item: str) -> int:
        return sum(line.charged_fen for line in lines if line.item == item)

    return FeeStatement(
        order_id=order_id,
        order_number=order.number or "",
        warranty_status=order.warranty_status.value,
        lines=lines,
        parts_fen=total("part"),
        labour_fen=total("labour"),
        travel_fen=total("travel"),
        total_fen=sum(line.charged_fen for line in lines),
        covered_fen=sum(line.covered_fen for line in lines),
    )


def _month(month: str) -> tuple[datetime, datetime]:
    try:
        return month_range(month)
    except ValueError as exc:
        raise InvalidStatementRequest(
            f"month must be YYYY-MM, not {month!r}", details={"month": month}
        ) from exc


def _audited(session: Session, start: datetime, end: datetime) -> list[CompletionSlip]:
    return list(
        session.exec(
            select(CompletionSlip)
            .where(
                CompletionSlip.status == SlipStatus.APPROVED,
                col(CompletionSlip.audited_at) >= start,
                col(CompletionSlip.audited_at) < end,
            )
            .order_by(col(CompletionSlip.audited_at), col(CompletionSlip.id))
        ).all()
    )


def commission_report(
    session: Session, *, month: str, now: datetime, engineer_id: int | None = None
) -> Report:
    """Each engineer's commission for the slips audited in the month, then every slip;
    with ``engineer_id``, that engineer's statement only."""
    start, end = _month(month)
    slips = _audited(session, start, end)
    if engineer_id is not None:
        slips = [s for s in slips if s.engineer_id == engineer_id]
    engineers = {e.id: e for e in session.exec(select(Engineer)).all()}
    stations = dict(session.exec(select(Station.id, Station.code)).all())
    totals: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for slip in slips:
        row = totals[slip.engineer_id]
        for index, value in enumerate(
            (
                1,
                slip.base_commission_fen,
                slip.rewards_fen,
                slip.engineer_deductions_fen,
                slip.commission_fen,
            )
        ):
            row[index] += value

    def name(engineer_id: int | None) -> str:
        engineer = engineers.get(engineer_id)
        return engineer.name if engineer else "(no engineer)"

    def station(engineer_id: int | None) -> str:
        engineer = engineers.get(engineer_id)
        return str(stations.get(engineer.station_id, "")) if engineer else ""

    return Report(
        name=f"commission {month}",
        start=start,
        end=end,
        generated_at=now,
        sections=[
            ReportSection(
                title="by engineer",
                columns=[
                    "engineer",
                    "station",
                    "jobs",
                    "base (fen)",
                    "rewards (fen)",
                    "late deductions (fen)",
                    "commission (fen)",
                ],
                rows=[
                    [name(e), station(e), *values]
                    for e, values in sorted(totals.items(), key=lambda kv: name(kv[0]))
                ],
            ),
            ReportSection(
                title="slips",
                columns=[
                    "slip",
                    "order",
                    "engineer",
                    "service kind",
                    "outsourced",
                    "audited at",
                    "quality",
                    "base (fen)",
                    "rewards (fen)",
                    "late deductions (fen)",
                    "commission (fen)",
                ],
                rows=[
                    [
                        s.id,
                        s.order_id,
                        name(s.engineer_id),
                        s.service_kind.value,
                        s.outsourced,
                        s.audited_at.isoformat() if s.audited_at else None,
                        s.quality_score,
                        s.base_commission_fen,
                        s.rewards_fen,
                        s.engineer_deductions_fen,
                        s.commission_fen,
                    ]
                    for s in slips
                ],
            ),
        ],
    )


def settlement_report(session: Session, *, month: str, now: datetime) -> Report:
    """Each station's month: the orders completed and audited, what the brand owes for the
    warranty work, the parts consumed (at the station price), the parts billed for being
    kept too long, the late deductions, and the balance.

    An order is settled once its satisfaction callback has ended or it was not sampled for
    one; an order whose callback is still due is counted as awaiting it."""
    start, end = _month(month)
    slips = _audited(session, start, end)
    stations = {s.id: s for s in session.exec(select(Station).order_by(col(Station.code))).all()}
    consumed = consumed_value_by_station(session, start=start, end=end)
    billed = billed_by_station(session, start=start, end=end)
    overdue = overdue_by_station(session, at=end)
    owed = _warranty_fees(session, slips)
    awaiting = set(
        session.exec(
            select(WorkOrder.id).where(
                col(WorkOrder.id).in_([s.order_id for s in slips]),
                WorkOrder.callback_state == CallbackState.DUE,
            )
        ).all()
    )
    rows: list[list[str | int | float | None]] = []
    for station_id, station in stations.items():
        own = [s for s in slips if s.station_id == station_id]
        fees = sum(owed[s.id or 0] for s in own)
        deductions = sum(s.station_deductions_fen for s in own)
        units, value = consumed.get(station_id or 0, (0, 0))
        parts_billed = billed.get(station_id or 0, 0)
        if not (own or units or parts_billed or overdue.get(station_id or 0)):
            continue
        rows.append(
            [
                station.code,
                station.name,
                len(own),
                sum(1 for s in own if s.order_id not in awaiting),
                sum(1 for s in own if s.order_id in awaiting),
                fees,
                units,
                value,
                parts_billed,
                overdue.get(station_id or 0, 0),
                deductions,
                fees - deductions - parts_billed,
            ]
        )
    return Report(
        name=f"settlement {month}",
        start=start,
        end=end,
        generated_at=now,
        sections=[
            ReportSection(
                title="by station",
                columns=[
                    "station",
                    "name",
                    "audited orders",
                    "settled",
                    "awaiting callback",
                    "warranty service fees (fen)",
                    "parts consumed",
                    "parts consumed (fen)",
                    "parts billed (fen)",
                    "returns overdue",
                    "late deductions (fen)",
                    "balance (fen)",
                ],
                rows=rows,
            )
        ],
    )


def _warranty_fees(session: Session, slips: list[CompletionSlip]) -> dict[int, int]:
    """Slip → what the brand owes the station for the job when the customer paid nothing
    for it: the fee schedule's labour and travel, as the order's fee statement covers
    them. Read in bulk: a month has thousands of slips."""
    orders = {slip.order_id for slip in slips}
    found = session.exec(
        select(WorkOrder, Appliance.category)
        .join(Appliance, col(Appliance.id) == col(WorkOrder.appliance_id), isouter=True)
        .where(col(WorkOrder.id).in_(orders))
    ).all()
    facts = {order.id: (order, category) for order, category in found}
    quoted = set(
        session.exec(
            select(Quote.order_id).where(
                col(Quote.order_id).in_(orders),
                Quote.status == QuoteStatus.APPROVED,
                col(Quote.labour_fen) > 0,
            )
        ).all()
    )
    schedule = session.exec(select(FeeRate)).all()
    labour = {
        (r.service_kind, r.category): r.amount_fen for r in schedule if r.kind is FeeKind.LABOUR
    }
    travel = {r.urban: r.amount_fen for r in schedule if r.kind is FeeKind.TRAVEL}
    fees = {}
    for slip in slips:
        order, category = facts[slip.order_id]
        if needs_quote(order) or slip.order_id in quoted:
            fees[slip.id or 0] = 0
            continue
        kind = str(category) if category else None
        work = labour.get((slip.service_kind, kind), labour.get((slip.service_kind, None), 0))
        trip = (
            travel.get(order.urban is not False, 0) if order.service_mode.value == "on_site" else 0
        )
        fees[slip.id or 0] = work + trip
    return fees
