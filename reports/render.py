"""One entry point for every format: ReportData → document → file."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

from obligations.scoring import ScoringRules, rescore
from reports.data import ReportData
from reports.document import Document, build_document
from storage.atomic import atomic_path, write_atomic

FORMATS = ("html", "pdf", "xlsx", "docx")


@dataclass(frozen=True)
class ReportOptions:
    issuer: str = "流动儿童关爱保护工作督查室"
    number: str = ""
    issued_on: dt.date | None = None          # default: the report day
    font: str = "WenQuanYi Zen Hei"
    docx_template: Path | None = None
    requirements: tuple[str, ...] = field(default_factory=tuple)
    overdue_rows: int = 50
    grace_days: int = 3                       # schedule.completion_grace_days: stated in the method note
    series: str = "督查通报"
    issue_no: int | None = None               # 期号, allotted by storage.report_issues.issue (none: a draft)
    cc: tuple[str, ...] = field(default_factory=tuple)
    printer: str = ""
    unit_sheets: bool = False                 # the workbook: one more sheet per unit level
    scoring: ScoringRules | None = None       # report.scoring: the data's scores are given again under these


def scored(data: ReportData, rules: ScoringRules | None) -> ReportData:
    """``data`` with its scores under ``rules`` (figures shared from reports.cache carry the
    default rules' scores and every count behind them); ``data`` itself when they are already."""
    if rules is None or not data.scores or data.scores.get("settings") == rules.as_dict():
        return data
    titles = {r["plan"]: r["plan_title"] for r in data.by_clause}
    return replace(data, scores=rescore(data.scores, rules, titles))


def document(data: ReportData, options: ReportOptions = ReportOptions()) -> Document:
    data = scored(data, options.scoring)
    return build_document(data, issuer=options.issuer, issued_on=options.issued_on or data.as_of,
                          number=options.number, requirements=list(options.requirements) or None,
                          overdue_rows=options.overdue_rows, grace_days=options.grace_days,
                          issue_no=options.issue_no, series=options.series, cc=list(options.cc),
                          printer=options.printer)


def write_json(data: ReportData, path: Path) -> Path:
    """The report data itself, for other programs (the same numbers as every format)."""
    import dataclasses
    import json

    return write_atomic(path, json.dumps(dataclasses.asdict(data), ensure_ascii=False, indent=2, default=str))


def write(data: ReportData, fmt: str, path: Path, options: ReportOptions = ReportOptions()) -> Path:
    """Write the report in ``fmt`` to ``path`` (through a temporary file: no half-written report)."""
    if fmt not in FORMATS:
        raise ValueError(f"未知的报告格式 {fmt}（可用：{'、'.join(FORMATS)}）")
    doc = document(data, options)
    with atomic_path(path) as tmp:
        if fmt in ("html", "pdf"):
            from reports.html import render_html

            html = render_html(doc, font=options.font)
            if fmt == "html":
                tmp.write_text(html, encoding="utf-8")
            else:
                from reports.pdf import write_pdf

                write_pdf(html, tmp, font=options.font)
        elif fmt == "xlsx":
            from reports.xlsx import write_xlsx

            write_xlsx(doc, tmp, unit_sheets=options.unit_sheets)
        else:
            from reports.docx import write_docx

            write_docx(doc, tmp, options.docx_template)
    return Path(path)
