"""The inbox, the item page and what a department does there (complete, evidence, request)."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlmodel import Session

from obligations.errors import DubanError
from storage import evidence as evidence_files
from storage import occurrences as occ
from storage import views, workflow
from storage.access import Principal, occurrence_filter
from storage.tables import Department
from web import itemrows, listing
from web.deps import check_csrf, db, page_user
from web.ics import feed_url
from web.pages.common import OPEN, ItemId, evidence_upload, form_date, redirect, refused, setting_of
from web.templating import render, today

router = APIRouter(include_in_schema=False)
DONE = ("submitted", "done", "done_late", "waived")


# ---------------------------------------------------------------- inbox and items

@router.get("/inbox")
def inbox(request: Request, show: str = "open", status: str = "", ok: str = "", error: str = "",
          p: Principal = Depends(page_user), session: Session = db):
    """待办 (open items, the earliest due first) or 已办 (done, waived and awaiting review, the
    latest due first): counted, paged, searched and sorted in SQL; ``export=xlsx`` gives every
    filtered row."""
    day = today(request)
    show = "done" if show == "done" else "open"
    settings = request.app.state.settings
    soon = settings.due_soon_days
    statuses = OPEN if show == "open" else ("submitted", "done", "done_late", "waived")
    status = status if status in statuses else ""        # one status of the tab, or all of them
    statuses = (status,) if status else statuses
    lst = listing.read(request, sorts=itemrows.SORTS_OPEN if show == "open" else itemrows.SORTS_DONE,
                       default_sort="due", default_desc=show == "done")
    q = itemrows.query(session, today=day, soon_days=soon, q=lst.q, where=occurrence_filter(p), statuses=statuses)
    total = itemrows.count(session, q)
    calendar = settings.calendar()
    if lst.export:
        listing.check_export(total)
        rows = itemrows.export_rows(session, itemrows.ordered(q, lst, day, soon), today=day, calendar=calendar)
        return listing.xlsx_response("待办事项" if show == "open" else "已办事项", itemrows.export_columns(), rows,
                                     day=day)
    lst.count(total)
    rows = itemrows.rows(session, itemrows.ordered(q, lst, day, soon).limit(lst.limit).offset(lst.offset),
                         today=day, calendar=calendar)
    ics = feed_url(request, session, p)
    dept = session.get(Department, p.department_key) if p.department_key else None
    return render(request, "inbox.html", {"user": p, "rows": rows, "show": show, "today": day, "ics": ics,
                                          "ok": ok, "error": error, "lst": lst, "department": dept.name if dept else "",
                                          "status": status, "choices": OPEN if show == "open" else DONE,
                                          "soon_days": soon})


def _visible(session: Session, p: Principal, occurrence_id: int):
    """The item if ``p`` may see it; 404 otherwise (not 403: do not confirm that it exists)."""
    found = views.visible_item(session, p, occurrence_id)
    if found is None:
        raise HTTPException(404, f"没有编号为 {occurrence_id} 的督办事项，或您无权查看")
    return found


# what a refused form sends back so that the page shows it again (the typed note stays)
KEPT = {"note": 2000, "done_on": 10, "count": 4, "reason": 2000, "new_due": 10, "kind": 10, "form": 16}


def _refused_keeping(session: Session, exc: DubanError, occurrence_id: int, form: str, **typed):
    """``refused`` with what the person typed carried back to the page (a refused file must not
    cost them their note and date)."""
    response = refused(session, exc, occurrence_id)
    kept = {"form": form, **{k: str(v)[:KEPT[k]] for k, v in typed.items() if v not in (None, "")}}
    response.headers["location"] += "&" + urlencode({f"keep_{k}": v for k, v in kept.items()})
    return response


BACK_MAX = 1000      # characters of a 返回 address kept in the session cookie


def _back(request: Request, p: Principal, occurrence_id: int) -> str:
    """Where the item page's 返回 leads: the list it was opened from (``?back=``, a path on this
    site only), remembered in the session for this item so that it survives the page's own forms
    (each redirects to the bare item address); else the person's home list."""
    given = request.query_params.get("back")
    if given:
        back = listing.safe_back(given, "")
        if back and len(back) <= BACK_MAX:
            request.session["item_back"] = [occurrence_id, back]
            return back
    kept = request.session.get("item_back")
    if isinstance(kept, list) and len(kept) == 2 and kept[0] == occurrence_id and isinstance(kept[1], str):
        return listing.safe_back(kept[1], "") or _home(p)
    return _home(p)


def _home(p: Principal) -> str:
    return "/dashboard" if p.sees_area else "/inbox"


@router.get("/items/{occurrence_id}")
def item(request: Request, occurrence_id: int = ItemId, *, p: Principal = Depends(page_user), session: Session = db,
         error: str = "", ok: str = ""):
    found = _visible(session, p, occurrence_id)
    day = today(request)
    detail = occ.occurrence_detail(session, occurrence_id, today=day, where=occurrence_filter(p))
    history = views.item_history(session, occurrence_id, detail["completions"])
    from storage.tasks import evidence_required
    kept = {k: request.query_params.get(f"keep_{k}", "")[:n] for k, n in KEPT.items()}
    due = dt.date.fromisoformat(detail["due"])
    late = calendar_late = 0
    if detail["status"] == "overdue":
        late = request.app.state.settings.calendar().workdays_between(due, day)
        calendar_late = (day - due).days
    back = _back(request, p, occurrence_id)
    return render(request, "item.html", {
        "user": p, "item": detail, **history, "today": day, "error": error, "ok": ok, "kept": kept,
        "back": back, "back_name": listing.back_name(back),
        "blank": dict.fromkeys(KEPT, ""),
        "pending": any(r.status == "pending" for r in history["requests"]),
        "pending_request": next((r for r in history["requests"] if r.status == "pending"), None),
        "kinds": workflow.REQUEST_KINDS, "accept": evidence_files.ACCEPT,
        "late": late, "calendar_late": calendar_late,
        "latest_due": day + dt.timedelta(days=workflow.MAX_EXTENSION_DAYS),
        "grace": request.app.state.settings.completion_grace_days,
        "needs_evidence": evidence_required(session, found),
        "feedback": views.feedback_asked(session, found, request.app.state.settings.feedback_policy())})


@router.post("/items/{occurrence_id}/complete")
async def complete(request: Request, occurrence_id: int = ItemId, *, count: int = Form(1), note: str = Form(""),
                   done_on: str = Form(""), upload: UploadFile | None = File(None), p: Principal = Depends(page_user),
                   session: Session = db, _: None = Depends(check_csrf)):
    try:
        workflow.complete(session, occurrence_id, by=workflow.Actor(p.username, "web", p), count=count,
                          done_on=form_date(done_on, "办理日期"), note=note, evidence=await evidence_upload(upload),
                          setting=setting_of(request))
    except DubanError as exc:
        return _refused_keeping(session, exc, occurrence_id, "complete", note=note, done_on=done_on, count=count)
    return redirect(f"/items/{occurrence_id}?ok={quote('已登记办理情况')}")


@router.post("/items/{occurrence_id}/waive")
def waive(request: Request, occurrence_id: int = ItemId, *, reason: str = Form(""),
          p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    """A coordinator waives the item (豁免) with a reason: ``workflow.waive``."""
    try:
        workflow.waive(session, occurrence_id, by=workflow.Actor(p.username, "web", p), reason=reason)
    except DubanError as exc:
        return _refused_keeping(session, exc, occurrence_id, "waive", reason=reason)
    return redirect(f"/items/{occurrence_id}?ok={quote('已豁免此事项，本期无须办理')}")


@router.post("/items/{occurrence_id}/extend")
def extend(request: Request, occurrence_id: int = ItemId, *, new_due: str = Form(""), reason: str = Form(""),
           p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    """A coordinator moves the due date later (延期) with a reason: ``workflow.extend``."""
    try:
        workflow.extend(session, occurrence_id, by=workflow.Actor(p.username, "web", p),
                        new_due=form_date(new_due, "延期后的截止日期"), reason=reason, today=today(request))
    except DubanError as exc:
        return _refused_keeping(session, exc, occurrence_id, "extend", reason=reason, new_due=new_due)
    return redirect(f"/items/{occurrence_id}?ok={quote(f'已延期：截止日期改为 {new_due}')}")


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
                         new_due=form_date(new_due, "延期日期"), today=today(request))
    except DubanError as exc:
        return _refused_keeping(session, exc, occurrence_id, "request", kind=kind, reason=reason, new_due=new_due)
    return redirect(f"/items/{occurrence_id}?ok={quote('申请已提交，等待协调员审核')}")


@router.post("/items/{occurrence_id}/progress")
def report_progress(request: Request, occurrence_id: int = ItemId, *, percent: str = Form(""), done: str = Form(""),
                    difficulties: str = Form(""), next_steps: str = Form(""), on: str = Form(""),
                    p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    """进度反馈 from the item page (web/templates/_progress.html), through the one door."""
    try:
        try:
            value = int(percent.strip())
        except ValueError:
            raise workflow.InvalidInput("完成进度应为 0 到 100 之间的整数（百分比）") from None
        workflow.report_progress(session, occurrence_id, by=workflow.Actor(p.username, "web", p), percent=value,
                                 done=done, difficulties=difficulties, next_steps=next_steps,
                                 on=form_date(on, "反馈日期"), today=today(request))
    except DubanError as exc:
        return refused(session, exc, occurrence_id)
    return redirect(f"/items/{occurrence_id}?ok={quote('已报送进度反馈')}#progress-feedback")


# ---------------------------------------------------------------- co-departments (协办确认)

@router.post("/items/{occurrence_id}/confirm")
def confirm_part(request: Request, occurrence_id: int = ItemId, *, note: str = Form(""),
                 p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    """A co-department confirms its part on the lead's item (storage.workflow.confirm_part)."""
    try:
        workflow.confirm_part(session, occurrence_id, by=workflow.Actor(p.username, "web", p), note=note)
    except DubanError as exc:
        return refused(session, exc, occurrence_id)
    return redirect(f"/items/{occurrence_id}?ok={quote('已确认协办部分')}")


@router.post("/items/{occurrence_id}/accept-anyway")
def accept_anyway(request: Request, occurrence_id: int = ItemId, *, note: str = Form(""),
                  p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    """A coordinator accepts a submission whose co-departments have not all confirmed, with a
    note (storage.workflow.accept with anyway)."""
    try:
        workflow.accept(session, [occurrence_id], by=workflow.Actor(p.username, "web", p), note=note, anyway=True)
    except DubanError as exc:
        return refused(session, exc, occurrence_id)
    return redirect(f"/items/{occurrence_id}?ok={quote('已审核通过（协办部门未全部确认，已记录审核意见）')}")
