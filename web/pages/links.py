"""Completion links from notices (no sign-in): /c/ to complete, /v/ to view."""
from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlmodel import Session

from notifications.links import LinkError, read_token
from obligations.errors import DubanError
from storage import evidence as evidence_files
from storage import occurrences as occ
from storage import workflow
from web.deps import check_csrf, db
from web.pages.common import evidence_upload, form_date, setting_of
from web.templating import render, today

router = APIRouter(include_in_schema=False)


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


FINISHED = {"done": "此事项已于 {on} 办结，无需再登记。", "done_late": "此事项已于 {on} 办结（逾期办结），无需再登记。",
            "submitted": "此事项已于 {on} 登记办结，正等待协调员审核，无需再登记。",
            "waived": "此事项已豁免，本期无须办理，无需登记。"}


def _link_view(request: Request, token: str, session: Session, *, complete: bool, error: str = "",
               typed: dict | None = None, status_code: int = 200):
    try:
        data = read_token(request.app.state.secret, token, today(request))
    except LinkError as exc:
        return _link_message(request, "无法使用此链接", str(exc), 410)
    state = workflow.link_state(session, data["notice_id"], data["occurrence_id"])
    if state == "unknown" or (complete and state == "used"):
        message = "链接无效：对应的通知不存在" if state == "unknown" else workflow.USED
        return _link_message(request, "无法使用此链接", message, 410)
    detail = occ.occurrence_detail(session, data["occurrence_id"], today=today(request))
    # an item finished since the notice went out: say so at once, no form that would refuse later
    finished = FINISHED[detail["status"]].format(on=detail["completed_on"]) if detail["status"] in FINISHED else None
    can_complete = complete and state == "ready" and finished is None
    typed = typed or {}
    return render(request, "link.html", {
        "user": None, "item": detail, "token": token, "today": today(request), "expires": data["expires"],
        "accept": evidence_files.ACCEPT, "can_complete": can_complete, "finished": finished, "error": error,
        "typed": {k: str(typed.get(k) or "") for k in ("count", "done_on", "note", "name")},
        "grace": request.app.state.settings.completion_grace_days,
        "view_note": None if can_complete or not complete or finished else workflow.VIEW_ONLY},
        status_code=status_code)


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
                                  done_on=form_date(done_on, "办理日期"), note=note, evidence=await evidence_upload(upload),
                                  setting=setting_of(request))
    except DubanError as exc:
        session.rollback()
        if exc.http_status in (403, 410):   # the link cannot complete at all: no form to fill again
            return _link_message(request, "未能登记", str(exc), exc.http_status)
        # the form again with what was typed (the note, the date and the name stay; a file must be chosen again)
        return _link_view(request, token, session, complete=True, error=str(exc), status_code=exc.http_status,
                          typed={"count": count, "done_on": done_on, "note": note[:2000], "name": name[:40]})
    return _link_message(request, "已登记", "办理情况已登记，谢谢。此链接现已失效。", 200)
