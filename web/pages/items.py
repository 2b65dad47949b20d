"""The inbox, the item page and what a department does there (complete, evidence, request)."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from sqlmodel import Session

from obligations.errors import DubanError
from storage import audit, views, workflow
from storage import evidence as evidence_files
from storage import occurrences as occ
from storage.access import Principal, occurrence_filter
from web.deps import check_csrf, db, page_user
from web.ics import feed_url
from web.pages.common import OPEN, ItemId, evidence_upload, form_date, redirect, refused, setting_of
from web.templating import render, today

router = APIRouter(include_in_schema=False)


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
                          done_on=form_date(done_on, "办理日期"), note=note, evidence=await evidence_upload(upload),
                          setting=setting_of(request))
    except DubanError as exc:
        return refused(session, exc, occurrence_id)
    return redirect(f"/items/{occurrence_id}?ok={quote('已登记办理情况')}")


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
        return refused(session, exc, occurrence_id)
    return redirect(f"/items/{occurrence_id}?ok={quote('申请已提交，等待协调员审核')}")


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
    return redirect("/requests")




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
