"""Reports (draft and issued) and the audit log."""
from __future__ import annotations

import datetime as dt
import mimetypes
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response
from sqlmodel import Session

from obligations.periods import PeriodSyntaxError, parse_period
from reports import render as report_render
from reports import service as reports
from reports.cache import figures as build_report
from storage import audit, report_issues, views
from storage.access import Principal
from storage.occurrences import OccurrenceError
from web import listing
from web.deps import check_csrf, db, page_user, unit_in_area
from web.pages.common import last_quarter, period_choices
from web.templating import render, today

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- reports and audit

@router.get("/reports")
def reports_page(request: Request, p: Principal = Depends(page_user), session: Session = db):
    if not p.can_report:
        raise HTTPException(403, "报告仅供协调员和督查人员使用")
    r = request.app.state.settings.report
    day = today(request)
    return render(request, "reports.html", {"user": p, "plans": views.plan_choices(session, p),
                                            "formats": report_render.FORMATS, "year": day.year,
                                            "periods": period_choices(day), "chosen": last_quarter(day),
                                            "series": r.series, "cc": "、".join(r.cc)})


@router.get("/reports/download")
def report_download(request: Request, period: str, format: str = "pdf", plan: str = "", jurisdiction: str = "",
                    p: Principal = Depends(page_user), session: Session = db):
    """A draft: the report without a number (nothing recorded)."""
    return _report_file(request, p, session, period=period, fmt=format, plan=plan, jurisdiction=jurisdiction)


@router.post("/reports/download")
def report_issue(request: Request, period: str = Form(...), custom: str = Form(""), format: str = Form("pdf"),
                 plan: str = Form(""),
                 jurisdiction: str = Form(""), issue_no: str = Form(""), issued_on: str = Form(""), cc: str = Form(""),
                 draft: str = Form(""), p: Principal = Depends(page_user), session: Session = db,
                 _: None = Depends(check_csrf)):
    """The form: the report issued (its 期号 allotted or the one typed, 抄送, the date of issue)."""
    return _report_file(request, p, session, period=custom.strip() or period, fmt=format, plan=plan,
                        jurisdiction=jurisdiction, issue=not draft, issue_no=issue_no, issued_on=issued_on, cc=cc)


def _report_file(request: Request, p: Principal, session: Session, *, period: str, fmt: str, plan: str,
                 jurisdiction: str, issue: bool = False, issue_no: str = "", issued_on: str = "", cc: str = ""):
    if not p.can_report:
        raise HTTPException(403, "报告仅供协调员和督查人员使用")
    if fmt not in report_render.FORMATS:
        raise HTTPException(400, f"未知的格式 {fmt}")
    try:
        start, end = parse_period(period)
        day = dt.date.fromisoformat(issued_on) if issued_on.strip() else None
    except PeriodSyntaxError as exc:
        raise HTTPException(400, str(exc)) from None
    except ValueError:
        raise HTTPException(400, f"印发日期“{issued_on[:20]}”不是日期（如 2025-04-10）") from None
    unit = unit_in_area(session, p, jurisdiction)
    settings = request.app.state.settings
    try:
        data = build_report(session, start=start, end=end, today=today(request), plan=plan or None,
                            jurisdiction=unit.code, soon_days=settings.due_soon_days,
                            top=None if fmt == "xlsx" else settings.report.overdue_rows,
                            scoring=settings.report.scoring.rules())
        opts = reports.options(settings)
        if issue:
            opts = reports.issue(session, data, opts, actor=p.username, issue_no=issue_no,
                                 cc=report_issues.parse_cc(cc) if cc.strip() else None, issued_on=day)
        elif day:
            opts = replace(opts, issued_on=day)
    except (OccurrenceError, report_issues.ReportIssueError) as exc:
        raise HTTPException(400, str(exc)) from None
    name = reports.default_name(data, fmt)
    # rendered in a temporary folder removed before the response goes out (the bytes are sent
    # from memory): nothing is left behind, whether rendering fails or the client goes away
    with tempfile.TemporaryDirectory(prefix="duban-report-") as folder:
        content = report_render.write(data, fmt, Path(folder) / name, opts).read_bytes()
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(content, media_type=kind,
                    headers={"Content-Disposition": f"attachment; filename*=utf-8''{quote(name)}"})


@router.get("/audit")
def audit_page(request: Request, action: str = "", since: str = "", until: str = "", p: Principal = Depends(page_user),
               session: Session = db):
    """The audit trail of the coordinator's area as sentences: counted, paged, searched (people,
    actions, items), filtered by action and dates in the URL, exported as filtered."""
    if not p.can_review:
        raise HTTPException(403, "审计记录仅供协调员查看")
    lst = listing.read(request, sorts=audit.SORTS, default_sort="at", default_desc=True)
    zone = ZoneInfo(request.app.state.settings.timezone)
    first, last = _day_or_none(since), _day_or_none(until)
    filters = dict(area_path=p.jurisdiction_path, q=lst.q, actions=(action,) if action in audit.ACTIONS else None,
                   since=_start_of(first, zone), until=_start_of(last + dt.timedelta(days=1), zone) if last else None)
    total = audit.count(session, **filters)
    if lst.export:
        listing.check_export(total)
        rows = audit.entries(session, **filters, limit=None, sort=lst.sort, desc=lst.desc)
        names = audit.names_for(session, rows)
        return listing.xlsx_response("审计记录", AUDIT_COLUMNS, ({"entry": e, "names": names} for e in rows), zone=zone,
                                     day=today(request))
    lst.count(total)
    rows = audit.entries(session, **filters, limit=lst.limit, offset=lst.offset, sort=lst.sort, desc=lst.desc)
    names = audit.names_for(session, rows)
    shown = [{"at": e.at, "who": e.actor, "action": audit.ACTIONS.get(e.action, "其他操作"), "item":
              e.object_id if e.object_type == "occurrence" else None, "text": audit.audit_sentence(e, names)}
             for e in rows]
    return render(request, "audit.html", {"user": p, "rows": shown, "lst": lst, "actions": audit.ACTIONS,
                                          "filters": {"action": action if action in audit.ACTIONS else "",
                                                      "since": first.isoformat() if first else "",
                                                      "until": last.isoformat() if last else ""}})


def _day_or_none(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        raise HTTPException(400, f"日期“{text[:20]}”有误，请写成 2025-06-30 的形式") from None


def _start_of(day: dt.date | None, zone: ZoneInfo) -> dt.datetime | None:
    """The first moment of a local day, in UTC (the entries' times are stored in UTC)."""
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.timezone.utc)


AUDIT_COLUMNS = [listing.Column("时间", lambda r: r["entry"].at, "datetime"),
                 listing.Column("操作", lambda r: audit.ACTIONS.get(r["entry"].action, "其他操作"), width=14),
                 listing.Column("操作人", lambda r: audit.actor_name(r["entry"].actor, None, r["names"]["people"])),
                 listing.Column("记录", lambda r: audit.audit_sentence(r["entry"], r["names"]), width=90)]
