"""The report as a workbook (openpyxl): a summary sheet, then one sheet per table with Chinese
headers, frozen header row, filters and fitted column widths. Cells hold numbers (rates as
fractions with a percent format), so a supervisor can sort and sum them."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from reports.document import Document, Table

HEAD_FILL = PatternFill("solid", fgColor="DDE4EE")
LOW_FONT = Font(color="B52B27", bold=True)
THIN = Side(style="thin", color="A0A0A0")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
SHEET_NAMES = {"summary": "概要", "departments": "各部门", "heat": "部门分月", "units": "各地区", "clauses": "各条款",
               "origins": "任务类别", "overdue": "逾期事项", "coverage": "关爱覆盖", "coverage_units": "关爱覆盖（地区）", "notices": "提醒催办"}


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _cell_value(table: Table, row: dict, col) -> object:
    v = row.get(col.key)
    if col.kind == "text":
        return "" if v is None else str(v)
    return v        # int, or a fraction for rate/delta (None stays empty)


def _write_table(ws, table: Table, first_row: int = 1, freeze: bool = True) -> None:
    for j, col in enumerate(table.columns, 1):
        c = ws.cell(first_row, j, col.label)
        c.font, c.fill, c.border = Font(bold=True), HEAD_FILL, BORDER
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    widths = [max(_width(c.label) + 2, c.width) for c in table.columns]
    for i, row in enumerate(table.rows, first_row + 1):
        for j, col in enumerate(table.columns, 1):
            value = _cell_value(table, row, col)
            c = ws.cell(i, j, value)
            c.border = BORDER
            if col.kind == "rate":
                c.number_format = "0.0%"
                if isinstance(value, float) and value < 0.6:
                    c.font = LOW_FONT
            elif col.kind == "delta":
                c.number_format = '+0.0%;-0.0%;0.0%'
            elif col.kind == "int":
                c.number_format = "#,##0"
            else:
                c.alignment = Alignment(wrap_text=True, vertical="top")
            widths[j - 1] = max(widths[j - 1], min(_width(table.text(row, col)) + 2, 48))
    for j, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(j)].width = w
    last = first_row + len(table.rows)
    if freeze:
        ws.freeze_panes = ws.cell(first_row + 1, 1)
    if table.rows:
        ws.auto_filter.ref = f"A{first_row}:{get_column_letter(len(table.columns))}{last}"
    if table.note:
        ws.cell(last + 2, 1, table.note).font = Font(italic=True, color="666666")


def write_xlsx(doc: Document, path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAMES["summary"]
    ws["A1"] = doc.title
    ws["A1"].font = Font(bold=True, size=14)
    meta = [("发文单位", doc.issuer), ("文号", doc.number or "—"), ("统计期间", f"{doc.period}（{doc.data.start} 至 {doc.data.end}）"),
            ("统计范围", doc.scope), ("状态截至", str(doc.data.as_of)), ("发布日期", doc.issued_text)]
    for i, (k, v) in enumerate(meta, 2):
        ws.cell(i, 1, k).font = Font(bold=True)
        ws.cell(i, 2, v)
    ws.cell(len(meta) + 3, 1, doc.summary).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=len(meta) + 3, start_column=1, end_row=len(meta) + 3, end_column=6)
    ws.row_dimensions[len(meta) + 3].height = 96
    summary = doc.sections[0].tables[0]
    _write_table(ws, summary, first_row=len(meta) + 5, freeze=False)
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 36
    for table in doc.tables() + doc.detail_tables:
        if table.key == "summary":
            continue
        sheet = wb.create_sheet(SHEET_NAMES.get(table.key, table.key)[:31])
        _write_table(sheet, table)
    wb.properties.title = doc.title
    wb.properties.creator = doc.issuer
    wb.save(str(path))
