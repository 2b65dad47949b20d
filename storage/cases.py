"""Importing and exporting the key-child ledger (xlsx with Chinese headers, openpyxl).

Import is all or nothing: every bad row is reported as ``sheet!row: column: reason`` and
nothing is written unless every row is good. Rows are matched by their code: a known code is
updated in place, a new one added."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import insert, select
from sqlmodel import Session

from obligations.cases import CODE, HEADERS, OPTIONAL_HEADERS, REQUIRED_HEADERS, CaseRow, validate_row
from obligations.errors import ProblemsError
from storage.tables import Case, Jurisdiction
from storage.workbook import read_rows


class LedgerError(ProblemsError, ValueError):
    head = "台账有误，未导入任何内容"


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


def read_ledger(path: Path) -> list[tuple[str, int, dict[str, Any]]]:
    """(sheet, row number, values by header) for every non-empty row of the first sheet."""
    return read_rows(path, required=REQUIRED_HEADERS, known=None, error=LedgerError,
                     header_hint=f"应为：{'、'.join(HEADERS)}")


def import_ledger(session: Session, path: Path, code_pattern: str | None = None) -> ImportReport:
    """Validate every row, resolve its township/village, then upsert. The caller owns the
    transaction; nothing is written when a LedgerError is raised. ``code_pattern``: the
    configured case-code pattern (cases.code_pattern), default obligations.cases.CODE."""
    pattern = re.compile(code_pattern) if code_pattern else CODE
    problems: list[str] = []
    good: list[tuple[CaseRow, int]] = []
    seen: dict[str, str] = {}
    units = _unit_index(session)
    for sheet, number, values in read_ledger(path):
        where = f"{sheet}!{number}"
        row, errors = validate_row(values, pattern)
        problems += [f"{where}: {col}: {reason}" for col, reason in errors]
        if row is None:
            continue
        if row.code in seen:
            problems.append(f"{where}: 编号: {row.code} 与 {seen[row.code]} 重复")
            continue
        seen[row.code] = where
        unit, reason = _place(row, units)
        if unit is None:
            problems.append(f"{where}: {reason[0]}: {reason[1]}")
            continue
        good.append((row, unit))
    if problems:
        raise LedgerError(problems)
    report = ImportReport()
    existing = {c.code: c for c in session.scalars(select(Case).where(Case.code.in_(list(seen))))} if seen else {}
    new_rows = []
    for row, unit in good:
        values = dict(jurisdiction_id=unit, categories=list(row.categories), director=row.director,
                      opened=row.opened, closed=row.closed, note=row.note)
        case = existing.get(row.code)
        if case is None:
            new_rows.append(dict(code=row.code, **values))
        elif any(getattr(case, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(case, k, v)
            report.updated += 1
        else:
            report.unchanged += 1
    if new_rows:
        session.execute(insert(Case), new_rows)
        report.added = len(new_rows)
    session.flush()
    return report


def _unit_index(session: Session) -> dict[str, Any]:
    by_code: dict[str, tuple[int, str, str]] = {}
    towns: dict[str, list[tuple[int, str]]] = {}
    villages: dict[tuple[str, str], int] = {}
    rows = session.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.level,
                                  Jurisdiction.path)).all()
    paths = {r.path: r for r in rows}
    for r in rows:
        by_code[r.code] = (r.id, r.level, r.path)
        if r.level == "township":
            towns.setdefault(r.name, []).append((r.id, r.path))
    for r in rows:
        if r.level == "village":
            parent = paths.get(r.path[: r.path.rstrip("/").rfind("/") + 1])
            if parent is not None:
                villages[(parent.path, r.name)] = r.id
    return {"code": by_code, "towns": towns, "villages": villages}


def _place(row: CaseRow, units: dict[str, Any]) -> tuple[int | None, tuple[str, str]]:
    if row.unit_code:
        found = units["code"].get(row.unit_code)
        if found is None or found[1] not in ("township", "village"):
            return None, ("区划代码", f"{row.unit_code} 不是已知的乡镇（街道）或村（社区）")
        return found[0], ("", "")
    towns = units["towns"].get(row.township, [])
    if not towns:
        return None, ("乡镇（街道）", f"{row.township} 不在行政区划中")
    if len(towns) > 1:
        return None, ("乡镇（街道）", f"{row.township} 不唯一，请填写区划代码")
    town_id, town_path = towns[0]
    if not row.village:
        return town_id, ("", "")
    village = units["villages"].get((town_path, row.village))
    if village is None:
        return None, ("村（社区）", f"{row.township} 下没有 {row.village}")
    return village, ("", "")


def export_ledger(session: Session, path: Path) -> int:
    """Write every case in the import layout (the same headers, one row per case)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "重点关爱服务对象"
    headers = HEADERS + OPTIONAL_HEADERS
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    units = {r.id: r for r in session.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name,
                                                     Jurisdiction.level, Jurisdiction.path))}
    by_path = {r.path: r for r in units.values()}
    n = 0
    for case in session.scalars(select(Case).order_by(Case.code)):
        unit = units[case.jurisdiction_id]
        town = unit if unit.level == "township" else by_path.get(unit.path[: unit.path.rstrip("/").rfind("/") + 1])
        village = unit.name if unit.level == "village" else None
        sheet.append([case.code, town.name if town else "", village, "、".join(case.categories), case.director,
                      case.opened, case.closed, case.note, unit.code])
        n += 1
    widths = (14, 14, 16, 24, 10, 12, 12, 20, 14)
    for i, w in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = w
    for row in sheet.iter_rows(min_row=2, min_col=6, max_col=7):
        for cell in row:
            cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return n


def list_cases(session: Session) -> list[dict[str, Any]]:
    units = dict(session.execute(select(Jurisdiction.id, Jurisdiction.name)).all())
    return [{"code": c.code, "jurisdiction": units.get(c.jurisdiction_id), "categories": c.categories,
             "director": c.director, "opened": c.opened.isoformat(), "closed": c.closed.isoformat() if c.closed else None}
            for c in session.scalars(select(Case).order_by(Case.code))]
