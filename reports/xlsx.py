"""The report as a workbook (openpyxl), the ledger behind the printed 通报: a summary sheet, then
one sheet per table with Chinese headers, frozen header row, filters and fitted column widths.
Every row is there (the overdue sheet lists every overdue item, where the printed formats stop
at report.overdue_rows). Cells are typed: counts are numbers, rates fractions with a percent
format, due dates real dates, so a supervisor can sort, filter and sum them. Each sheet prints
on A4 fitted to the page width (landscape when wide), its header row repeated on every page,
with page numbers in the footer."""
from __future__ import annotations

import datetime as dt
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
               "origins": "任务类别", "overdue": "逾期事项", "coverage": "关爱覆盖", "coverage_units": "关爱覆盖（地区）", "notices": "提醒催办",
               "progress": "进度反馈",
               "scores": "考核", "scores_units": "考核（地区）"}


MAX_ROWS = 1_048_575          # a sheet's rows below its header


def unit_level_tables(doc: Document) -> list[Table]:
    """One table per unit level (县级, 乡镇（街道）, 村（社区）…): every unit of that level in the
    report's area with its counts and rates (from data.by_level)."""
    from obligations.words import UNIT_LEVEL_NAMES
    from reports.document import COUNT_COLUMNS, Column, _count_row

    out = []
    for level, rows in doc.data.by_level.items():
        name = UNIT_LEVEL_NAMES.get(level, level)
        out.append(Table(f"level-{level}", f"按{name}", [Column("unit", name, "text", 18), Column("parent", "上级地区", "text", 16),
                                                        *COUNT_COLUMNS],
                         [_count_row(r, unit=r["unit"], parent=r["parent"]) for r in rows]))
    return out


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _cell_value(table: Table, row: dict, col) -> object:
    v = row.get(col.key)
    if col.kind == "text":
        return "" if v is None else str(v)
    if col.kind == "date" and isinstance(v, str):
        return dt.date.fromisoformat(v)
    return v        # int, date, or a fraction for rate/delta (None stays empty)


def _print_setup(ws, widths: list[int], title_row: int, title: str) -> None:
    """A4, fitted to one page wide (as many pages long as it takes), landscape when the columns
    are wider than a portrait page holds, the header row repeated, page numbers in the footer."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if sum(widths) > 100 else "portrait"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top, ws.page_margins.bottom = 0.7, 0.7
    ws.print_title_rows = f"{title_row}:{title_row}"
    ws.oddHeader.center.text = title[:80]
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"


def _write_table(ws, table: Table, first_row: int = 1, freeze: bool = True) -> None:
    for j, col in enumerate(table.columns, 1):
        c = ws.cell(first_row, j, col.label)
        c.font, c.fill, c.border = Font(bold=True), HEAD_FILL, BORDER
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    widths = [max(_width(c.label) + 2, c.width) for c in table.columns]
    for i, row in enumerate(table.rows, first_row + 1):     # every row, not the printed ones only
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
            elif col.kind == "score":
                c.number_format = "0.0"
            elif col.kind == "int":
                c.number_format = "#,##0"
            elif col.kind == "date":
                c.number_format = "yyyy-mm-dd"
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
    _print_setup(ws, widths, first_row, table.title)


def write_xlsx(doc: Document, path: Path, *, unit_sheets: bool = False) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAMES["summary"]
    ws["A1"] = doc.title
    ws["A1"].font = Font(bold=True, size=14)
    meta = [("发文单位", doc.issuer), ("期号", doc.issue_text or "—（草稿）"), ("文号", doc.number or "—"),
            ("统计期间", f"{doc.period}（{doc.data.start} 至 {doc.data.end}）"),
            ("统计范围", doc.scope), ("状态截至", doc.data.as_of), ("印发日期", doc.issued_on), ("抄送", doc.cc_text or "—")]
    for i, (k, v) in enumerate(meta, 2):
        ws.cell(i, 1, k).font = Font(bold=True)
        c = ws.cell(i, 2, v)
        if isinstance(v, dt.date):
            c.number_format = "yyyy-mm-dd"
            c.alignment = Alignment(horizontal="left")
    ws.cell(len(meta) + 3, 1, doc.summary).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=len(meta) + 3, start_column=1, end_row=len(meta) + 3, end_column=6)
    ws.row_dimensions[len(meta) + 3].height = 96
    summary = doc.sections[0].tables[0]
    _write_table(ws, summary, first_row=len(meta) + 5, freeze=False)
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 36
    for table in doc.tables() + doc.detail_tables + (unit_level_tables(doc) if unit_sheets else []):
        if table.key == "summary":
            continue
        if len(table.rows) > MAX_ROWS:
            raise ValueError(f"“{table.title}”有 {len(table.rows):,} 行，超过 Excel 单表上限 {MAX_ROWS:,} 行；请缩小期间或地区")
        sheet = wb.create_sheet(SHEET_NAMES.get(table.key, table.title)[:31])
        _write_table(sheet, table)
    wb.properties.title = doc.title
    wb.properties.creator = doc.issuer
    wb.save(str(path))
