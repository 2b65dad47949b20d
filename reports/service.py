"""Producing reports from settings: what `duban report` and the `report` flow call."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from obligations.periods import last_complete, period_key
from reports import render
from reports.data import ReportData, build


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
                                grace_days=settings.completion_grace_days)


def report_data(engine, settings, req: ReportRequest) -> ReportData:
    with Session(engine) as s, s.begin():
        return build(s, start=req.start, end=req.end, today=req.today, plan=req.plan,
                     jurisdiction=req.jurisdiction, children=req.children, soon_days=settings.due_soon_days,
                     top=settings.report.overdue_rows)


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
    data = report_data(engine, settings, ReportRequest(start, end, day, None, r.jurisdiction, r.children))
    return write_all(data, list(r.formats), settings.data_dir / "reports", options(settings))
