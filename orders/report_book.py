"""A report as an Excel workbook: one sheet per section, a header row, then the rows."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from orders.schemas import Report

SHEET_TITLE_MAX = 31
"""Excel refuses longer sheet names."""


def report_book(report: Report) -> bytes:
    # write_only: no default sheet to remove, and rows stream out instead of piling up.
    book = Workbook(write_only=True)
    for section in report.sections:
        sheet = book.create_sheet(section.title[:SHEET_TITLE_MAX])
        sheet.freeze_panes = "A2"
        # Column widths must be set before the first row of a write-only sheet.
        for index, column in enumerate(section.columns, start=1):
            widest = max([len(str(column)), *(len(str(r[index - 1] or "")) for r in section.rows)])
            sheet.column_dimensions[get_column_letter(index)].width = min(60, widest + 2)
        sheet.append(section.columns)
        for row in section.rows:
            sheet.append(row)
    about = book.create_sheet("about")
    about.append(["report", report.name])
    about.append(["from", report.start.isoformat()])
    about.append(["to", report.end.isoformat()])
    about.append(["generated at", report.generated_at.isoformat()])
    out = BytesIO()
    book.save(out)
    return out.getvalue()
