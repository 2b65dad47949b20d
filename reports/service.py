"""Producing reports from settings: what `duban report` and the `report` flow call."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from sqlmodel import Session

from obligations.periods import last_complete, period_key
from reports import render
from reports.data import ReportData, build
from storage import report_issues


@dataclass
class ReportRequest:
    start: dt.date
    end: dt.date
    today: dt.date
    plan: str | None = None
    jurisdiction: str | None = None
    children: bool = True


def options(settings, *, number: str | None = None, issuer: str | None = None) -> render.ReportOptions:
    r = settings.report
    return render.ReportOptions(issuer=issuer or r.issuer, number=r.number if number is None else number,
                                font=r.font, docx_template=Path(r.docx_template) if r.docx_template else None,
                                requirements=tuple(r.requirements), overdue_rows=r.overdue_rows,
                                grace_days=settings.completion_grace_days, series=r.series,
                                cc=tuple(r.cc), printer=r.printer, scoring=r.scoring.rules())


def issue(session: Session, data: ReportData, opts: render.ReportOptions, *, actor: str,
          issue_no: int | str | None = None, cc: list[str] | None = None,
          issued_on: dt.date | None = None) -> render.ReportOptions:
    """Issue the report (storage.report_issues: its 期号 allotted or confirmed, an audit row) and
    return the options that print it; the caller commits."""
    day = issued_on or opts.issued_on or data.as_of
    row = report_issues.issue(session, issuer=opts.issuer, series=opts.series, issued_on=day, start=data.start,
                              end=data.end, plan=data.plan, jurisdiction=data.jurisdiction, children=data.children,
                              actor=actor, number=issue_no, cc=list(cc) if cc is not None else list(opts.cc))
    return replace(opts, issue_no=row.number, issued_on=row.issued_on, cc=tuple(row.cc))


def report_data(engine, settings, req: ReportRequest, *, every_overdue: bool = False, levels: bool = False) -> ReportData:
    """``every_overdue``: the data holds every overdue item (the workbook's ledger), not only the
    printed list's first ``report.overdue_rows``."""
    with Session(engine) as s, s.begin():
        return build(s, start=req.start, end=req.end, today=req.today, plan=req.plan,
                     jurisdiction=req.jurisdiction, children=req.children, soon_days=settings.due_soon_days,
                     top=None if every_overdue else settings.report.overdue_rows, levels=levels,
                     scoring=settings.report.scoring.rules())


def default_name(data: ReportData, fmt: str) -> str:
    parts = ["督查通报", data.plan or "全部计划", period_key(data.start, data.end), data.jurisdiction or "全部地区"]
    return "-".join(parts) + f".{fmt}"


def write_all(data: ReportData, formats: list[str], folder: Path, opts: render.ReportOptions) -> list[Path]:
    return [render.write(data, fmt, folder / default_name(data, fmt), opts) for fmt in formats]


def scheduled(engine, settings, day: dt.date) -> list[Path]:
    """The scheduled report: the last complete period (report.period) before ``day``, for the
    configured jurisdiction, in the configured formats, into data_dir/reports."""
    r = settings.report
    start, end = last_complete(r.period, day)
    data = report_data(engine, settings, ReportRequest(start, end, day, None, r.jurisdiction, r.children),
                       every_overdue="xlsx" in r.formats)
    with Session(engine) as s, s.begin():
        opts = issue(s, data, options(settings), actor="定时任务")
    return write_all(data, list(r.formats), settings.data_dir / "reports", opts)
