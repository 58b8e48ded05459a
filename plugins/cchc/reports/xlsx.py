"""An official report file as XLSX (openpyxl): the layout of the form.

Title lines (merged across the table), two header rows (the form's column groups merged over their
columns; a column without a group spans both), one row per data row numbered in "STT", the
province's roll-up row in bold, and the footer lines under the table. Counts are integers with a
thousands format, rates the fraction 0..1 with a percentage format (0.00 %), dates real dates.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from cchc.reports.layouts import Layout

INT_FORMAT = "#,##0"
RATE_FORMAT = "0.00%"
DATE_FORMAT = "DD/MM/YYYY"
_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEAD_FILL = PatternFill("solid", fgColor="DDE6F0")
_TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")


def _cell_value(kind: str, value):
    if value is None:
        return None
    if kind == "int":
        return int(value)
    if kind == "rate":
        return float(value) if isinstance(value, Decimal) else value
    return value


def write_xlsx(layout: Layout, rows: list[dict], *, title_lines: list[str], footer_lines: list[str],
               created: dt.datetime | None = None) -> bytes:
    """The workbook's bytes: one sheet in the layout of ``layout``."""
    columns = layout.xlsx_columns()
    width = len(columns) + 1  # + STT
    wb = Workbook()
    ws = wb.active
    ws.title = layout.sheet[:31]
    wb.properties.title = layout.title
    wb.properties.creator = "cchc"
    if created is not None:  # the same publication gives the same properties
        stamp = created.replace(tzinfo=None, microsecond=0)
        wb.properties.created = wb.properties.modified = stamp

    lines = [layout.title, *title_lines]
    for i, text in enumerate(lines, start=1):
        ws.cell(row=i, column=1, value=text)
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=width)
        c = ws.cell(row=i, column=1)
        c.font = Font(bold=(i == 1), size=14 if i == 1 else 11, italic=(i > 1 and text.startswith("(")))
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    head1 = len(lines) + 2
    head2 = head1 + 1

    def header(cell, text):
        cell.value = text
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.fill = _HEAD_FILL
        cell.border = _BORDER

    header(ws.cell(row=head1, column=1), "STT")
    ws.merge_cells(start_row=head1, start_column=1, end_row=head2, end_column=1)
    col = 2
    while col - 2 < len(columns):
        column = columns[col - 2]
        if column.group is None:
            header(ws.cell(row=head1, column=col), column.label)
            ws.merge_cells(start_row=head1, start_column=col, end_row=head2, end_column=col)
            col += 1
            continue
        span = 1
        while col - 2 + span < len(columns) and columns[col - 2 + span].group == column.group:
            span += 1
        header(ws.cell(row=head1, column=col), column.group)
        if span > 1:
            ws.merge_cells(start_row=head1, start_column=col, end_row=head1, end_column=col + span - 1)
        for k in range(span):
            header(ws.cell(row=head2, column=col + k), columns[col - 2 + k].label)
        col += span
    for c in range(1, width + 1):  # borders of merged header cells
        for r in (head1, head2):
            ws.cell(row=r, column=c).border = _BORDER
    # the form's column numbers under the headers: (1), (2), ...
    numbers = head2 + 1
    for c in range(1, width + 1):
        cell = ws.cell(row=numbers, column=c, value=f"({c})")
        cell.font = Font(italic=True, size=9)
        cell.alignment = Alignment(horizontal="center")
        cell.border = _BORDER

    first = numbers + 1
    for i, row in enumerate(rows):
        r = first + i
        total = bool(row.get("is_province"))
        ws.cell(row=r, column=1, value=i + 1)
        for j, column in enumerate(columns, start=2):
            cell = ws.cell(row=r, column=j, value=_cell_value(column.kind, row.get(column.key)))
            if column.kind == "int":
                cell.number_format = INT_FORMAT
            elif column.kind == "rate":
                cell.number_format = RATE_FORMAT
            elif column.kind == "date":
                cell.number_format = DATE_FORMAT
        for j in range(1, width + 1):
            cell = ws.cell(row=r, column=j)
            cell.border = _BORDER
            if total:
                cell.font = Font(bold=True)
                cell.fill = _TOTAL_FILL
    if not rows:
        ws.cell(row=first, column=1, value="(không có đơn vị nào)")
        ws.merge_cells(start_row=first, start_column=1, end_row=first, end_column=width)
    foot = first + max(len(rows), 1) + 1
    for k, text in enumerate(footer_lines):
        ws.cell(row=foot + k, column=1, value=text).font = Font(italic=True, size=9)
        ws.merge_cells(start_row=foot + k, start_column=1, end_row=foot + k, end_column=width)
        ws.cell(row=foot + k, column=1).alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[foot + k].height = 28

    ws.column_dimensions["A"].width = 6
    for j, column in enumerate(columns, start=2):
        ws.column_dimensions[get_column_letter(j)].width = column.width or 12
    ws.row_dimensions[head2].height = 60
    ws.freeze_panes = ws.cell(row=first, column=4 if columns[0].key == "unit_id" else 2)
    ws.print_title_rows = f"{head1}:{head2}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToHeight = 0
    ws.oddFooter.center.text = footer_lines[0][:250] if footer_lines else ""
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def data_start_row(title_line_count: int) -> int:
    """The first data row of a sheet written with ``title_line_count`` title lines (besides the
    layout's title): title, lines, a blank row, two header rows, the column numbers."""
    return title_line_count + 1 + 2 + 2 + 1
