"""The pages people use: sign-in, dashboard, inbox, item, requests, completion links, reports, audit.

Every action goes through ``storage.workflow`` (the rules and the audit row live there); a page
only turns a refusal into a message on the same page."""
from __future__ import annotations

import datetime as dt
import mimetypes
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session

from notifications.links import LinkError, read_token
from obligations.errors import DubanError
from obligations.periods import PeriodSyntaxError, parse_period
from obligations.words import period_words
from reports import charts
from reports import render as report_render
from reports import service as reports
from reports.cache import figures as build_report
from storage import accounts, audit, report_issues, views, workflow
from storage import evidence as evidence_files
from storage import occurrences as occ
from storage.access import Principal, occurrence_filter
from storage.evidence import Evidence
from storage.occurrences import OccurrenceError
from web.deps import check_csrf, client_address, db, page_user, signed_in, unit_in_area
from web.ics import feed_url
from web.templating import render, today

router = APIRouter(include_in_schema=False)
ItemId = PathParam(..., ge=1, le=2**62)
OPEN = ("overdue", "due_soon", "open")


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _setting(request: Request) -> workflow.Setting:
    settings = request.app.state.settings
    return workflow.Setting.of(settings, today(request))


def _date(text: str, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise workflow.InvalidInput(f"{field}应为日期（如 2025-06-30）") from None


def _refused(session: Session, exc: DubanError, occurrence_id: int) -> RedirectResponse:
    """A refusal shown on the item's page (nothing was written); an item the person may not see
    or act on gets its error page instead."""
    session.rollback()
    if exc.http_status in (403, 404):
        raise exc
    return _redirect(f"/items/{occurrence_id}?error={quote(str(exc))}")


async def _evidence(upload: UploadFile | None) -> Evidence | None:
    if upload is None or not upload.filename:
        return None
    return Evidence(upload.filename, await upload.read(evidence_files.MAX_BYTES + 1))


# ---------------------------------------------------------------- sign-in

@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", {"user": None, "next": _safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/"),
          session: Session = db, _: None = Depends(check_csrf)):
    signed = accounts.sign_in(session, username, password, client=client_address(request),
                              throttle=accounts.Throttle.of(request.app.state.settings.web))
    if signed is None:
        return render(request, "login.html", {"user": None, "next": _safe_next(next),
                                              "error": accounts.SIGN_IN_REFUSED}, status_code=401)
    if isinstance(request.session.get("sid"), str):      # signing in again: the earlier session ends
        accounts.sign_out(session, request.session["sid"])
    request.session.clear()
    request.session["sid"] = signed.key
    return _redirect(_safe_next(next))


@router.post("/logout")
def logout(request: Request, session: Session = db, _: None = Depends(check_csrf)):
    key = request.session.get("sid")
    if isinstance(key, str):
        accounts.sign_out(session, key)
    request.session.clear()
    return _redirect("/login")


def _safe_next(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/"


@router.get("/")
def home(p: Principal | None = Depends(signed_in)):
    if p is None:
        return _redirect("/login")
    return _redirect("/dashboard" if p.sees_area else "/inbox")


# ---------------------------------------------------------------- dashboard

@router.get("/dashboard")
def dashboard(request: Request, plan: str = "", clause: str = "", department: str = "", jurisdiction: str = "",
              period: str = "", p: Principal = Depends(page_user), session: Session = db):
    if not p.sees_area:
        raise HTTPException(403, "工作台仅供协调员和督查人员使用")
    day = today(request)
    period = period or str(day.year)
    try:
        start, end = parse_period(period)
    except PeriodSyntaxError as exc:
        raise HTTPException(400, str(exc)) from None
    unit = unit_in_area(session, p, jurisdiction)
    try:
        data = build_report(session, start=start, end=end, today=day, plan=plan or None, jurisdiction=unit.code,
                            department=department or None, clause=clause or None,
                            soon_days=request.app.state.settings.due_soon_days, top=100)
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None
    return render(request, "dashboard.html", {
        "user": p, "data": data, "period_words": period_words(start, end),
        "bars": charts.department_bars(data.by_department), "heat": charts.heat_map(data.heat, data.months),
        "filters": {"plan": plan, "clause": clause, "department": department, "jurisdiction": jurisdiction or unit.name,
                    "period": period},
        **views.dashboard_choices(session, p, plan or None),
        "flagged": views.flagged_completions(session, p, start=start, end=end),
        "grace": request.app.state.settings.completion_grace_days,
    })


# ---------------------------------------------------------------- inbox and items

@router.get("/inbox")
def inbox(request: Request, show: str = "open", ok: str = "", error: str = "", p: Principal = Depends(page_user),
          session: Session = db):
    day = today(request)
    statuses = OPEN if show == "open" else ("submitted", "done", "done_late", "waived")
    rows = occ.list_occurrences(session, today=day, soon_days=request.app.state.settings.due_soon_days,
                                statuses=statuses, where=occurrence_filter(p), limit=500)
    if show != "open":
        rows.sort(key=lambda r: r["due"], reverse=True)
    ics = feed_url(request, session, p)
    return render(request, "inbox.html", {"user": p, "rows": rows, "show": show, "today": day, "ics": ics,
                                          "ok": ok, "error": error})


def _visible(session: Session, p: Principal, occurrence_id: int):
    """The item if ``p`` may see it; 404 otherwise (not 403: do not confirm that it exists)."""
    found = views.visible_item(session, p, occurrence_id)
    if found is None:
        raise HTTPException(404, f"没有编号为 {occurrence_id} 的督办事项，或您无权查看")
    return found


@router.get("/items/{occurrence_id}")
def item(request: Request, occurrence_id: int = ItemId, *, p: Principal = Depends(page_user), session: Session = db,
         error: str = "", ok: str = ""):
    found = _visible(session, p, occurrence_id)
    day = today(request)
    detail = occ.occurrence_detail(session, occurrence_id, today=day, where=occurrence_filter(p))
    history = views.item_history(session, occurrence_id)
    from notifications.urge import reminders_of
    from storage.tasks import evidence_required
    return render(request, "item.html", {
        "user": p, "item": detail, **history, "today": day, "error": error, "ok": ok,
        "pending": any(r.status == "pending" for r in history["requests"]), "actions": audit.ACTIONS,
        "kinds": workflow.REQUEST_KINDS, "accept": evidence_files.ACCEPT,
        "grace": request.app.state.settings.completion_grace_days,
        "reminders": reminders_of(session, occurrence_id), "needs_evidence": evidence_required(session, found)})


@router.post("/items/{occurrence_id}/complete")
async def complete(request: Request, occurrence_id: int = ItemId, *, count: int = Form(1), note: str = Form(""),
                   done_on: str = Form(""), upload: UploadFile | None = File(None), p: Principal = Depends(page_user),
                   session: Session = db, _: None = Depends(check_csrf)):
    try:
        workflow.complete(session, occurrence_id, by=workflow.Actor(p.username, "web", p), count=count,
                          done_on=_date(done_on, "办理日期"), note=note, evidence=await _evidence(upload),
                          setting=_setting(request))
    except DubanError as exc:
        return _refused(session, exc, occurrence_id)
    return _redirect(f"/items/{occurrence_id}?ok={quote('已登记办理情况')}")


@router.get("/items/{occurrence_id}/evidence/{completion_id}")
def evidence_file(request: Request, occurrence_id: int = ItemId, completion_id: int = PathParam(..., ge=1, le=2**62),
                  *, p: Principal = Depends(page_user), session: Session = db):
    """A completion's evidence file, for whoever may see the item."""
    _visible(session, p, occurrence_id)
    c = views.completion_of(session, occurrence_id, completion_id)
    if c is None or not c.evidence_path:
        raise HTTPException(404, "没有这个附件")
    path = evidence_files.resolve(request.app.state.settings.data_dir, c.evidence_path)
    if path is None:
        raise HTTPException(404, "附件文件已不在存档目录中")
    return FileResponse(path, filename=evidence_files.download_name(path))


@router.post("/items/{occurrence_id}/request")
def make_request(request: Request, occurrence_id: int = ItemId, *, kind: str = Form(...), reason: str = Form(""),
                 new_due: str = Form(""), p: Principal = Depends(page_user), session: Session = db,
                 _: None = Depends(check_csrf)):
    try:
        workflow.request(session, occurrence_id, by=workflow.Actor(p.username, "web", p), kind=kind, reason=reason,
                         new_due=_date(new_due, "延期日期"), today=today(request))
    except DubanError as exc:
        return _refused(session, exc, occurrence_id)
    return _redirect(f"/items/{occurrence_id}?ok={quote('申请已提交，等待协调员审核')}")


@router.get("/requests")
def requests_page(request: Request, p: Principal = Depends(page_user), session: Session = db):
    if not p.can_review:
        raise HTTPException(403, "只有协调员可以审核豁免和延期申请")
    return render(request, "requests.html", {"user": p, "rows": views.request_queue(session, p),
                                             "kinds": workflow.REQUEST_KINDS})


@router.post("/requests/{request_id}/decide")
def decide(request: Request, request_id: int = PathParam(..., ge=1, le=2**62), *, decision: str = Form(...),
           note: str = Form(""), p: Principal = Depends(page_user), session: Session = db,
           _: None = Depends(check_csrf)):
    workflow.decide(session, request_id, by=workflow.Actor(p.username, "web", p), approve=decision == "approve",
                    note=note)
    return _redirect("/requests")


# ---------------------------------------------------------------- review of completions (办结审核)

REVIEW_LIMIT = 500


@router.get("/review")
def review_page(request: Request, plan: str = "", department: str = "", jurisdiction: str = "", ok: str = "",
                error: str = "", p: Principal = Depends(page_user), session: Session = db):
    """The coordinator's queue: items awaiting review in their area, filtered; accept the ticked
    ones at once, or open an item to return it with a reason."""
    if not p.can_review:
        raise HTTPException(403, "只有本级或上级协调员可以审核办结情况")
    unit = unit_in_area(session, p, jurisdiction)
    filters = dict(plan=plan or None, department=department or None, jurisdiction=unit.code,
                   statuses=("submitted",), where=occurrence_filter(p))
    day, soon = today(request), request.app.state.settings.due_soon_days
    try:
        rows = occ.list_occurrences(session, today=day, soon_days=soon, limit=REVIEW_LIMIT, **filters)
        total = occ.count_occurrences(session, today=day, soon_days=soon, **filters)
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None
    return render(request, "review.html", {
        "user": p, "rows": rows, "total": total, "ok": ok, "error": error,
        "filters": {"plan": plan, "department": department, "jurisdiction": jurisdiction or unit.name},
        **views.dashboard_choices(session, p, None)})


@router.post("/review/accept")
async def review_accept(request: Request, p: Principal = Depends(page_user), session: Session = db,
                        _: None = Depends(check_csrf)):
    """Accept the ticked items (checkboxes named ``id``) of the queue, all or none."""
    form = await request.form()
    back = form.get("back") if isinstance(form.get("back"), str) else ""
    back = back if back.startswith("/review") and not back.startswith("//") else "/review"
    sep = "&" if "?" in back else "?"
    try:
        ids = [int(v) for v in form.getlist("id")]
    except ValueError:
        return _redirect(f"{back}{sep}error={quote('督办事项编号应为整数')}")
    try:
        workflow.accept(session, ids, by=workflow.Actor(p.username, "web", p), note=str(form.get("note") or ""))
    except DubanError as exc:
        session.rollback()
        if exc.http_status in (403,):
            raise
        return _redirect(f"{back}{sep}error={quote(str(exc))}")
    return _redirect(f"{back}{sep}ok={quote(f'已审核通过 {len(ids)} 项')}")


@router.post("/items/{occurrence_id}/accept")
def accept_item(request: Request, occurrence_id: int = ItemId, *, note: str = Form(""),
                p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    try:
        workflow.accept(session, [occurrence_id], by=workflow.Actor(p.username, "web", p), note=note)
    except DubanError as exc:
        return _refused(session, exc, occurrence_id)
    return _redirect(f"/items/{occurrence_id}?ok={quote('已审核通过')}")


@router.post("/items/{occurrence_id}/return")
def return_item(request: Request, occurrence_id: int = ItemId, *, reason: str = Form(""),
                p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    try:
        workflow.return_(session, occurrence_id, by=workflow.Actor(p.username, "web", p), reason=reason)
    except DubanError as exc:
        return _refused(session, exc, occurrence_id)
    return _redirect(f"/items/{occurrence_id}?ok={quote('已退回，责任单位将在下一份通知中收到退回理由')}")


# ---------------------------------------------------------------- completion links (no sign-in)

def _link_message(request: Request, title: str, message: str, status_code: int):
    return render(request, "message.html", {"user": None, "title": title, "message": message},
                  status_code=status_code)


@router.get("/c/{token}")
def link_page(request: Request, token: str, session: Session = db):
    return _link_view(request, token, session, complete=True)


@router.get("/v/{token}")
def view_link_page(request: Request, token: str, session: Session = db):
    """A notice's item, read-only (the links in a supervisor's digest): no form, whoever holds it."""
    return _link_view(request, token, session, complete=False)


def _link_view(request: Request, token: str, session: Session, *, complete: bool):
    try:
        data = read_token(request.app.state.secret, token, today(request))
    except LinkError as exc:
        return _link_message(request, "无法使用此链接", str(exc), 410)
    state = workflow.link_state(session, data["notice_id"], data["occurrence_id"])
    if state == "unknown" or (complete and state == "used"):
        message = "链接无效：对应的通知不存在" if state == "unknown" else workflow.USED
        return _link_message(request, "无法使用此链接", message, 410)
    can_complete = complete and state == "ready"
    detail = occ.occurrence_detail(session, data["occurrence_id"], today=today(request))
    return render(request, "link.html", {"user": None, "item": detail, "token": token, "today": today(request),
                                         "expires": data["expires"], "accept": evidence_files.ACCEPT,
                                         "can_complete": can_complete,
                                         "grace": request.app.state.settings.completion_grace_days,
                                         "view_note": None if can_complete or not complete else workflow.VIEW_ONLY})


@router.post("/c/{token}")
async def link_complete(request: Request, token: str, count: int = Form(1), note: str = Form(""),
                        name: str = Form(""), done_on: str = Form(""), upload: UploadFile | None = File(None),
                        session: Session = db, _: None = Depends(check_csrf)):
    try:
        data = read_token(request.app.state.secret, token, today(request))
    except LinkError as exc:
        return _link_message(request, "无法使用此链接", str(exc), 410)
    try:
        workflow.complete_by_link(session, data["notice_id"], data["occurrence_id"], name=name, count=count,
                                  done_on=_date(done_on, "办理日期"), note=note, evidence=await _evidence(upload),
                                  setting=_setting(request))
    except DubanError as exc:
        session.rollback()
        return _link_message(request, "未能登记", str(exc), exc.http_status)
    return _link_message(request, "已登记", "办理情况已登记，谢谢。此链接现已失效。", 200)


# ---------------------------------------------------------------- reports and audit

@router.get("/reports")
def reports_page(request: Request, p: Principal = Depends(page_user), session: Session = db):
    if not p.can_report:
        raise HTTPException(403, "报告仅供协调员和督查人员使用")
    r = request.app.state.settings.report
    return render(request, "reports.html", {"user": p, "plans": views.plan_choices(session),
                                            "formats": report_render.FORMATS, "year": today(request).year,
                                            "series": r.series, "cc": "、".join(r.cc)})


@router.get("/reports/download")
def report_download(request: Request, period: str, format: str = "pdf", plan: str = "", jurisdiction: str = "",
                    p: Principal = Depends(page_user), session: Session = db):
    """A draft: the report without a number (nothing recorded)."""
    return _report_file(request, p, session, period=period, fmt=format, plan=plan, jurisdiction=jurisdiction)


@router.post("/reports/download")
def report_issue(request: Request, period: str = Form(...), format: str = Form("pdf"), plan: str = Form(""),
                 jurisdiction: str = Form(""), issue_no: str = Form(""), issued_on: str = Form(""), cc: str = Form(""),
                 draft: str = Form(""), p: Principal = Depends(page_user), session: Session = db,
                 _: None = Depends(check_csrf)):
    """The form: the report issued (its 期号 allotted or the one typed, 抄送, the date of issue)."""
    return _report_file(request, p, session, period=period, fmt=format, plan=plan, jurisdiction=jurisdiction,
                        issue=not draft, issue_no=issue_no, issued_on=issued_on, cc=cc)


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
                            top=None if fmt == "xlsx" else settings.report.overdue_rows)
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
def audit_page(request: Request, p: Principal = Depends(page_user), session: Session = db):
    if not p.can_review:
        raise HTTPException(403, "审计记录仅供协调员查看")
    rows = audit.entries(session, area_path=p.jurisdiction_path, limit=300)
    return render(request, "audit.html", {"user": p, "rows": rows, "actions": audit.ACTIONS})


# ---------------------------------------------------------------- ad-hoc assignments (交办) and 催办 by hand

def _urge_settings(request: Request) -> dict:
    settings = request.app.state.settings
    return {"today": today(request), "calendar": settings.calendar(),
            "quiet_hours": tuple(settings.notify.quiet_hours) or None, "timezone": settings.timezone}


def _tasks_page(request: Request, p: Principal, session: Session, *, form: dict, error: str = "", ok: str = "",
                status_code: int = 200):
    if not p.can_review:
        raise HTTPException(403, "只有协调员可以交办任务")
    from storage import tasks as task_repo

    choices = views.dashboard_choices(session, p, None)
    return render(request, "tasks.html", {
        "user": p, "form": form, "error": error, "ok": ok, "today": today(request),
        "departments": [d for d in choices["departments"]], "units": choices["units"], "sources": task_repo.SOURCES,
        "rows": task_repo.list_assignments(session, area_path=p.jurisdiction_path, today=today(request), limit=100),
    }, status_code=status_code)


@router.get("/tasks")
def tasks_page(request: Request, ok: str = "", p: Principal = Depends(page_user), session: Session = db):
    form = {"title": "", "lead": "", "co": [], "jurisdiction": p.jurisdiction_name, "level": "", "due": "",
            "within": "", "source": "", "text": "", "count": 1, "evidence": False}
    return _tasks_page(request, p, session, form=form, ok=ok)


@router.post("/tasks")
def tasks_add(request: Request, title: str = Form(""), lead: str = Form(""), co: list[str] = Form([]),
              jurisdiction: str = Form(""), level: str = Form(""), due: str = Form(""), within: str = Form(""),
              source: str = Form(""), text: str = Form(""), count: str = Form("1"), evidence: str = Form(""),
              p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    from storage import tasks as task_repo

    form = {"title": title, "lead": lead, "co": co, "jurisdiction": jurisdiction, "level": level, "due": due,
            "within": within, "source": source, "text": text, "count": count, "evidence": bool(evidence)}
    try:
        if not p.can_review:
            raise HTTPException(403, "只有协调员可以交办任务")
        try:
            n_count = int(count or 1)
            n_within = int(within) if within.strip() else None
        except ValueError:
            raise task_repo.TaskInput("应完成次数和工作日数须为整数") from None
        done = task_repo.assign(session, workflow.Actor(p.username, "web", p), title=title,
                                departments=[d for d in [lead, *co] if d], jurisdiction=jurisdiction,
                                level=level or None, due=_date(due, "截止日期") if not n_within else None,
                                within=n_within, source=source, text=text, count=n_count, evidence=bool(evidence),
                                today=today(request), calendar=request.app.state.settings.calendar())
    except DubanError as exc:
        session.rollback()
        if exc.http_status in (403, 404):
            raise
        return _tasks_page(request, p, session, form=form, error=str(exc), status_code=exc.http_status)
    return _redirect("/tasks?ok=" + quote(f"已交办“{done.title}”：生成督办事项 {done.items} 项，涉及 {done.units} 个单位，"
                                          f"截止 {done.due}"))


@router.post("/items/{occurrence_id}/urge")
def urge_item(request: Request, occurrence_id: int = ItemId, *, note: str = Form(""),
              p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    from notifications.urge import urge

    try:
        urge(session, [occurrence_id], by=workflow.Actor(p.username, "web", p), note=note, **_urge_settings(request))
    except DubanError as exc:
        return _refused(session, exc, occurrence_id)
    return _redirect(f"/items/{occurrence_id}?ok={quote('已催办：通知将随下一次发送送达责任单位')}")


@router.post("/urge")
def urge_list(request: Request, item: list[int] = Form([]), note: str = Form(""),
              p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    """催办 the items ticked in a list (the inbox)."""
    from notifications.urge import urge

    try:
        done = urge(session, item, by=workflow.Actor(p.username, "web", p), note=note, **_urge_settings(request))
    except DubanError as exc:
        session.rollback()
        if exc.http_status in (403, 404):
            raise
        return _redirect(f"/inbox?error={quote(str(exc))}")
    return _redirect(f"/inbox?ok={quote(f'已催办 {done.items} 项，共 {done.messages} 份通知，将随下一次发送送达')}")
