"""Ad-hoc assignments (交办) and 催办 by hand."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlmodel import Session

from obligations.errors import DubanError
from storage import views, workflow
from storage.access import Principal
from storage.audit import people_words
from web.deps import check_csrf, db, page_user
from web.pages.common import ItemId, form_date, redirect, refused
from web.templating import render, today

router = APIRouter(include_in_schema=False)
SHOWN = 100          # the assignments listed on the page, newest first


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
    # every assignment counted (the list itself shows the newest SHOWN)
    rows = task_repo.list_assignments(session, area_path=p.jurisdiction_path, today=today(request), limit=None)
    return render(request, "tasks.html", {
        "user": p, "form": form, "error": error, "ok": ok, "today": today(request),
        "departments": [d for d in choices["departments"]], "units": choices["units"], "sources": task_repo.SOURCES,
        "rows": rows[:SHOWN], "total": len(rows),
        "people": people_words(session, {r["assigned_by"] for r in rows[:SHOWN] if r.get("assigned_by")}),
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
                                level=level or None, due=form_date(due, "截止日期") if not n_within else None,
                                within=n_within, source=source, text=text, count=n_count, evidence=bool(evidence),
                                today=today(request), calendar=request.app.state.settings.calendar())
    except DubanError as exc:
        session.rollback()
        if exc.http_status in (403, 404):
            raise
        return _tasks_page(request, p, session, form=form, error=str(exc), status_code=exc.http_status)
    return redirect("/tasks?ok=" + quote(f"已交办“{done.title}”：生成督办事项 {done.items} 项，涉及 {done.units} 个单位，"
                                          f"截止 {done.due}"))


@router.post("/items/{occurrence_id}/urge")
def urge_item(request: Request, occurrence_id: int = ItemId, *, note: str = Form(""),
              p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    from notifications.urge import urge

    try:
        urge(session, [occurrence_id], by=workflow.Actor(p.username, "web", p), note=note, **_urge_settings(request))
    except DubanError as exc:
        return refused(session, exc, occurrence_id)
    return redirect(f"/items/{occurrence_id}?ok={quote('已催办：通知将随下一次发送送达责任单位')}")


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
        return redirect(f"/inbox?error={quote(str(exc))}")
    return redirect(f"/inbox?ok={quote(f'已催办 {done.items} 项，共 {done.messages} 份通知，将随下一次发送送达')}")
