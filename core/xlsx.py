"""Excel workbooks of lists and reports: one sheet per section, a header row, the rows.

Text that begins with ``=``, ``+``, ``-`` or ``@`` would be taken for a formula by a
spreadsheet (a customer named ``=HYPERLINK(...)`` runs when the export is opened), so
every string goes in as a string cell, marked to be shown as typed (Excel's quote
prefix), whatever it begins with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from io import BytesIO
from typing import Any
from urllib.parse import quote

from fastapi import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

SHEET_TITLE_MAX = 31
"""Excel refuses longer sheet names."""
FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


def workbook(sheets: Iterable[Sheet], about: Sequence[tuple[str, str]] = ()) -> bytes:
    # write_only: no default sheet to remove, and rows stream out instead of piling up.
    book = Workbook(write_only=True)
    for section in sheets:
        sheet = book.create_sheet(section.title[:SHEET_TITLE_MAX])
        sheet.freeze_panes = "A2"
        # Column widths must be set before the first row of a write-only sheet.
        for index, column in enumerate(section.columns, start=1):
            widest = max([len(str(column)), *(len(str(r[index - 1] or "")) for r in section.rows)])
            sheet.column_dimensions[get_column_letter(index)].width = min(60, widest + 2)
        sheet.append([_cell(sheet, value) for value in section.columns])
        for row in section.rows:
            sheet.append([_cell(sheet, value) for value in row])
    if about:
        info = book.create_sheet("about")
        for key, value in about:
            info.append([_cell(info, key), _cell(info, value)])
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    cell.style = "Normal"
    cell.quotePrefix = True
    return cell


class ExportFormat(StrEnum):
    JSON = "json"
    XLSX = "xlsx"


MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
}
"""OpenAPI: routes that answer JSON or, asked for ``format=xlsx``, a workbook."""


def attachment(content: bytes, filename: str) -> Response:
    """The workbook as a download. A name that is not plain ASCII (a campaign called 回访)
    goes in RFC 6266's ``filename*`` with an ASCII stand-in beside it: HTTP headers are
    Latin-1, and a Chinese name there would fail the response."""
    plain = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f'attachment; filename="{plain}"'
    if plain != filename:
        disposition += f"; filename*=UTF-8''{quote(filename)}"
    return Response(content, media_type=MEDIA_TYPE, headers={"Content-Disposition": disposition})
