"""Report routes: each answers JSON, or the same rows as an Excel workbook."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from core import xlsx
from core.deps import ClockDep, SessionDep
from core.xlsx import ExportFormat
from orders.enums import ReportPeriod
from orders.http.deps import Supervisor
from orders.report_book import report_book
from orders.schemas import Report
from orders.services import reports

router = APIRouter(prefix="/reports", tags=["reports"], responses=xlsx.RESPONSES)


From = Annotated[datetime, Query(alias="from", description="Inclusive, ISO 8601 with offset")]
To = Annotated[datetime, Query(alias="to", description="Exclusive, ISO 8601 with offset")]
Format = Annotated[ExportFormat, Query()]


def report_answer(report: Report, form: ExportFormat) -> Report | Response:
    """The report as JSON, or as a workbook to download."""
    if form is ExportFormat.JSON:
        return report
    name = f"{report.name.replace(' ', '-')}-{report.start:%Y%m%d}.xlsx"
    return xlsx.attachment(report_book(report), name)


@router.get("/sla", response_model=Report)
def sla(
    session: SessionDep,
    _actor: Supervisor,
    clock: ClockDep,
    start: From,
    end: To,
    format: Format = ExportFormat.JSON,
) -> Report | Response:
    """SLA attainment per milestone (of those due in the range), then response and
    resolution times by station, engineer and appliance category."""
    return report_answer(reports.sla_report(session, start=start, end=end, now=clock()), format)


@router.get("/times", response_model=Report)
def times(
    session: SessionDep,
    _actor: Supervisor,
    clock: ClockDep,
    start: From,
    end: To,
    period: ReportPeriod | None = None,
    format: Format = ExportFormat.JSON,
) -> Report | Response:
    """Mean response and resolution hours by station, engineer and appliance category."""
    report = reports.times_report(session, start=start, end=end, period=period, now=clock())
    return report_answer(report, format)


@router.get("/open-orders", response_model=Report)
def open_orders(
    session: SessionDep, _actor: Supervisor, clock: ClockDep, format: Format = ExportFormat.JSON
) -> Report | Response:
    """Open orders per station by age since the report."""
    return report_answer(reports.open_orders_report(session, now=clock()), format)


@router.get("/complaints", response_model=Report)
def complaints(
    session: SessionDep,
    _actor: Supervisor,
    clock: ClockDep,
    start: From,
    end: To,
    format: Format = ExportFormat.JSON,
) -> Report | Response:
    """Complaints by topic and crisis level, with how many are still open."""
    report = reports.complaints_report(session, start=start, end=end, now=clock())
    return report_answer(report, format)
