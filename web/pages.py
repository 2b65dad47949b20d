"""The pages people use: sign-in, dashboard, inbox, item, requests, completion links, reports, audit."""
from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy import select
from sqlmodel import Session

from notifications.links import LinkError, read_token
from obligations.periods import PeriodSyntaxError, describe_period, parse_period
from obligations.status import STATUS_NAMES
from reports import charts, render as report_render
from reports.data import build as build_report
from storage import audit
from storage import occurrences as occ
from storage import workflow
from storage.accounts import check_password
from storage.files import kept_only_if_recorded
from storage.occurrences import OccurrenceError
from storage.tables import (Clause, Completion, Department, ItemRequest, Jurisdiction, Notice, Occurrence, Plan,
                            UserAccount)
from web import evidence
from web.access import Principal, jurisdiction_filter, occurrence_filter
from web.app import render, today
from web.deps import check_csrf, db, page_user, signed_in, unit_in_area

router = APIRouter(include_in_schema=False)
ItemId = PathParam(..., ge=1, le=2**62)
OPEN = ("overdue", "due_soon", "open")


@contextlib.contextmanager
def _tx(session: Session):
    """Commit what the block wrote, or roll it all back (the session may already be reading)."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ---------------------------------------------------------------- sign-in

@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", {"user": None, "next": _safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/"),
          session: Session = Depends(db), _: None = Depends(check_csrf)):
    user = session.scalar(select(UserAccount).where(UserAccount.username == username.strip()))
    if user is None or not user.active or not check_password(user, password):
        return render(request, "login.html", {"user": None, "next": _safe_next(next),
                                              "error": "用户名或密码不正确"}, status_code=401)
    request.session.clear()
    request.session["uid"] = user.id
    return _redirect(_safe_next(next))


@router.post("/logout")
def logout(request: Request, _: None = Depends(check_csrf)):
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
              period: str = "", p: Principal = Depends(page_user), session: Session = Depends(db)):
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
        "user": p, "data": data, "period_words": describe_period(start, end),
        "bars": charts.department_bars(data.by_department), "heat": charts.heat_map(data.heat, data.months),
        "filters": {"plan": plan, "clause": clause, "department": department, "jurisdiction": jurisdiction or unit.name,
                    "period": period},
        "plans": session.execute(select(Plan.id, Plan.title).order_by(Plan.id)).all(),
        "clauses": session.execute(select(Clause.code, Clause.title).where(Clause.plan_id == plan, Clause.active)
                                   .order_by(Clause.position)).all() if plan else [],
        "departments": session.execute(select(Department.key, Department.name).order_by(Department.key)).all(),
        "units": session.execute(select(Jurisdiction.name, Jurisdiction.code).where(jurisdiction_filter(p))
                                 .where(Jurisdiction.level.in_(("province", "city", "county", "township")))
                                 .order_by(Jurisdiction.path).limit(500)).all(),
    })


# ---------------------------------------------------------------- inbox and items

@router.get("/inbox")
def inbox(request: Request, show: str = "open", p: Principal = Depends(page_user), session: Session = Depends(db)):
    day = today(request)
    statuses = OPEN if show == "open" else ("done", "done_late", "waived")
    rows = occ.list_occurrences(session, today=day, soon_days=request.app.state.settings.due_soon_days,
                                statuses=statuses, where=occurrence_filter(p), limit=500)
    if show != "open":
        rows.sort(key=lambda r: r["due"], reverse=True)
    ics = None
    if p.role == "department":
        from web.ics import feed_url

        ics = feed_url(request, p.jurisdiction_id, p.department_key)
    return render(request, "inbox.html", {"user": p, "rows": rows, "show": show, "status_names": STATUS_NAMES,
                                          "today": day, "ics": ics})


def _visible(session: Session, p: Principal, occurrence_id: int) -> Occurrence:
    """The item if ``p`` may see it; 404 otherwise (not 403: do not confirm that it exists)."""
    found = session.scalar(select(Occurrence).where(Occurrence.id == occurrence_id, occurrence_filter(p)))
    if found is None:
        raise HTTPException(404, f"没有编号为 {occurrence_id} 的督办事项，或您无权查看")
    return found


@router.get("/items/{occurrence_id}")
def item(request: Request, occurrence_id: int = ItemId, *, p: Principal = Depends(page_user), session: Session = Depends(db),
         error: str = "", ok: str = ""):
    _visible(session, p, occurrence_id)
    day = today(request)
    detail = occ.occurrence_detail(session, occurrence_id, today=day, where=occurrence_filter(p))
    notices = session.execute(select(Notice.stage, Notice.kind, Notice.swept_on, Notice.workdays)
                              .where(Notice.occurrence_id == occurrence_id).order_by(Notice.id)).all()
    requests = session.scalars(select(ItemRequest).where(ItemRequest.occurrence_id == occurrence_id)
                               .order_by(ItemRequest.id)).all()
    history = audit.entries(session, object_type="occurrence", object_id=str(occurrence_id), limit=50)
    return render(request, "item.html", {
        "user": p, "item": detail, "notices": notices, "requests": requests, "history": history,
        "status_names": STATUS_NAMES, "today": day, "error": error, "ok": ok,
        "pending": any(r.status == "pending" for r in requests), "actions": audit.ACTIONS,
        "kinds": workflow.REQUEST_KINDS})


@router.post("/items/{occurrence_id}/complete")
async def complete(request: Request, occurrence_id: int = ItemId, *, count: int = Form(1), note: str = Form(""),
                   done_on: str = Form(""), upload: UploadFile | None = File(None), p: Principal = Depends(page_user),
                   session: Session = Depends(db), _: None = Depends(check_csrf)):
    if not p.can_complete:
        raise HTTPException(403, "督查账号只能查看，不能登记办理")
    o = _visible(session, p, occurrence_id)
    settings = request.app.state.settings
    try:
        day = dt.date.fromisoformat(done_on) if done_on else today(request)
        if day > today(request):
            raise OccurrenceError("办理日期不能晚于今天")
        stored = await evidence.store(upload, settings.evidence_dir, occurrence_id) if upload and upload.filename else None
        with kept_only_if_recorded(Path(stored) if stored else None), _tx(session):
            workflow.complete(session, o.id, actor=p.username, channel="web", count=count, done_on=day,
                              note=note.strip() or None, evidence_path=stored, calendar=settings.calendar())
    except (OccurrenceError, evidence.EvidenceError, ValueError) as exc:
        return _redirect(f"/items/{occurrence_id}?error={_q(str(exc))}")
    return _redirect(f"/items/{occurrence_id}?ok={_q('已登记办理情况')}")


@router.get("/items/{occurrence_id}/evidence/{completion_id}")
def evidence_file(request: Request, occurrence_id: int = ItemId, completion_id: int = PathParam(..., ge=1, le=2**62),
                  *, p: Principal = Depends(page_user), session: Session = Depends(db)):
    """A completion's evidence file, for whoever may see the item."""
    _visible(session, p, occurrence_id)
    c = session.get(Completion, completion_id)
    if c is None or c.occurrence_id != occurrence_id or not c.evidence_path:
        raise HTTPException(404, "没有这个附件")
    root = request.app.state.settings.data_dir.resolve()
    path = Path(c.evidence_path)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404, "附件文件已不在存档目录中")
    return FileResponse(path, filename=path.name.split("-", 1)[-1])


@router.post("/items/{occurrence_id}/request")
def make_request(request: Request, occurrence_id: int = ItemId, *, kind: str = Form(...), reason: str = Form(""),
                 new_due: str = Form(""), p: Principal = Depends(page_user), session: Session = Depends(db),
                 _: None = Depends(check_csrf)):
    if p.role not in ("department", "director"):
        raise HTTPException(403, "豁免和延期由责任单位申请、协调员审核")
    o = _visible(session, p, occurrence_id)
    try:
        due = dt.date.fromisoformat(new_due) if new_due else None
        with _tx(session):
            workflow.request(session, o.id, kind=kind, reason=reason, actor=p.username, new_due=due)
    except (OccurrenceError, ValueError) as exc:
        return _redirect(f"/items/{occurrence_id}?error={_q(str(exc))}")
    return _redirect(f"/items/{occurrence_id}?ok={_q('申请已提交，等待协调员审核')}")


@router.get("/requests")
def requests_page(request: Request, p: Principal = Depends(page_user), session: Session = Depends(db)):
    if not p.can_review:
        raise HTTPException(403, "只有协调员可以审核豁免和延期申请")
    rows = session.execute(
        select(ItemRequest, Occurrence.due, Jurisdiction.name, Department.name)
        .join(Occurrence, Occurrence.id == ItemRequest.occurrence_id)
        .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
        .join(Department, Department.key == Occurrence.party_key)
        .where(occurrence_filter(p)).order_by(ItemRequest.status != "pending", ItemRequest.id.desc()).limit(200)).all()
    return render(request, "requests.html", {"user": p, "rows": rows, "kinds": workflow.REQUEST_KINDS})


@router.post("/requests/{request_id}/decide")
def decide(request: Request, request_id: int = PathParam(..., ge=1, le=2**62), *, decision: str = Form(...), note: str = Form(""),
           p: Principal = Depends(page_user), session: Session = Depends(db), _: None = Depends(check_csrf)):
    if not p.can_review:
        raise HTTPException(403, "只有协调员可以审核豁免和延期申请")
    r = session.get(ItemRequest, request_id)
    if r is None:
        raise HTTPException(404, "没有这个申请")
    _visible(session, p, r.occurrence_id)
    try:
        with _tx(session):
            workflow.decide(session, request_id, approve=decision == "approve", actor=p.username,
                            note=note.strip() or None)
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None
    return _redirect("/requests")


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


# ---------------------------------------------------------------- completion links (no sign-in)

def _link(request: Request, session: Session, token: str):
    try:
        data = read_token(request.app.state.secret, token, today(request))
    except LinkError as exc:
        return None, str(exc)
    state = workflow.link_state(session, data["notice_id"], data["occurrence_id"])
    if state == "unknown":
        return None, "链接无效：对应的通知不存在"
    if state == "used":
        return None, "此链接已使用过（每个链接只能登记一次）。如需补充，请登录督办系统办理。"
    return data, None


@router.get("/c/{token}")
def link_page(request: Request, token: str, session: Session = Depends(db)):
    data, problem = _link(request, session, token)
    if problem:
        return render(request, "message.html", {"user": None, "title": "无法使用此链接", "message": problem},
                      status_code=410)
    detail = occ.occurrence_detail(session, data["occurrence_id"], today=today(request))
    return render(request, "link.html", {"user": None, "item": detail, "token": token, "today": today(request),
                                         "status_names": STATUS_NAMES, "expires": data["expires"]})


@router.post("/c/{token}")
def link_complete(request: Request, token: str, count: int = Form(1), note: str = Form(""), name: str = Form(""),
                  session: Session = Depends(db), _: None = Depends(check_csrf)):
    data, problem = _link(request, session, token)
    if problem:
        return render(request, "message.html", {"user": None, "title": "无法使用此链接", "message": problem},
                      status_code=410)
    actor = f"通知链接：{name.strip() or '未署名'}"
    try:
        with _tx(session):
            if not workflow.use_link(session, data["notice_id"], data["occurrence_id"],
                                     dt.datetime.now(dt.timezone.utc)):
                raise OccurrenceError("此链接已使用过（每个链接只能登记一次）")
            workflow.complete(session, data["occurrence_id"], actor=actor, channel="email", count=count,
                              done_on=today(request), note=note.strip() or None,
                              calendar=request.app.state.settings.calendar(), action="link.use")
    except OccurrenceError as exc:
        return render(request, "message.html", {"user": None, "title": "未能登记", "message": str(exc)},
                      status_code=409)
    return render(request, "message.html", {"user": None, "title": "已登记",
                                            "message": "办理情况已登记，谢谢。此链接现已失效。"})


# ---------------------------------------------------------------- reports and audit

@router.get("/reports")
def reports_page(request: Request, p: Principal = Depends(page_user), session: Session = Depends(db)):
    if not p.can_report:
        raise HTTPException(403, "报告仅供协调员和督查人员使用")
    return render(request, "reports.html", {
        "user": p, "plans": session.execute(select(Plan.id, Plan.title).order_by(Plan.id)).all(),
        "formats": report_render.FORMATS, "year": today(request).year})


@router.get("/reports/download")
def report_download(request: Request, period: str, format: str = "pdf", plan: str = "", jurisdiction: str = "",
                    p: Principal = Depends(page_user), session: Session = Depends(db)):
    if not p.can_report:
        raise HTTPException(403, "报告仅供协调员和督查人员使用")
    if format not in report_render.FORMATS:
        raise HTTPException(400, f"未知的格式 {format}")
    try:
        start, end = parse_period(period)
    except PeriodSyntaxError as exc:
        raise HTTPException(400, str(exc)) from None
    unit = unit_in_area(session, p, jurisdiction)
    from reports import service as reports

    settings = request.app.state.settings
    try:
        data = build_report(session, start=start, end=end, today=today(request), plan=plan or None,
                            jurisdiction=unit.code, soon_days=settings.due_soon_days, top=settings.report.overdue_rows)
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None
    folder = Path(tempfile.mkdtemp(prefix="duban-report-"))
    name = reports.default_name(data, format)
    path = report_render.write(data, format, folder / name, reports.options(settings))
    return FileResponse(path, filename=name)


@router.get("/audit")
def audit_page(request: Request, p: Principal = Depends(page_user), session: Session = Depends(db)):
    if not p.can_review:
        raise HTTPException(403, "审计记录仅供协调员查看")
    rows = audit.entries(session, area_path=p.jurisdiction_path, limit=300)
    return render(request, "audit.html", {"user": p, "rows": rows, "actions": audit.ACTIONS})

