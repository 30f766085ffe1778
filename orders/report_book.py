"""A report as an Excel workbook: one sheet per section, and what the report covers."""

from __future__ import annotations

from core.xlsx import Sheet, workbook
from orders.schemas import Report


def report_book(report: Report) -> bytes:
    return workbook(
        (Sheet(s.title, s.columns, s.rows) for s in report.sections),
        about=[
            ("report", report.name),
            ("from", report.start.isoformat()),
            ("to", report.end.isoformat()),
            ("generated at", report.generated_at.isoformat()),
        ],
    )
