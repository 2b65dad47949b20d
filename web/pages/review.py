"""Requests (waivers, extensions) and the review of completions (办结审核)."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlmodel import Session

from obligations.errors import DubanError
from storage import occurrences as occ
from storage import views, workflow
from storage.access import Principal, occurrence_filter
from storage.occurrences import OccurrenceError
from web.deps import check_csrf, db, page_user, unit_in_area
from web.pages.common import ItemId, redirect, refused
from web.templating import render, today

router = APIRouter(include_in_schema=False)


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
        return redirect(f"{back}{sep}error={quote('督办事项编号应为整数')}")
    try:
        workflow.accept(session, ids, by=workflow.Actor(p.username, "web", p), note=str(form.get("note") or ""))
    except DubanError as exc:
        session.rollback()
        if exc.http_status in (403,):
            raise
        return redirect(f"{back}{sep}error={quote(str(exc))}")
    return redirect(f"{back}{sep}ok={quote(f'已审核通过 {len(ids)} 项')}")


@router.post("/items/{occurrence_id}/accept")
def accept_item(request: Request, occurrence_id: int = ItemId, *, note: str = Form(""),
                p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    try:
        workflow.accept(session, [occurrence_id], by=workflow.Actor(p.username, "web", p), note=note)
    except DubanError as exc:
        return refused(session, exc, occurrence_id)
    return redirect(f"/items/{occurrence_id}?ok={quote('已审核通过')}")


@router.post("/items/{occurrence_id}/return")
def return_item(request: Request, occurrence_id: int = ItemId, *, reason: str = Form(""),
                p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    try:
        workflow.return_(session, occurrence_id, by=workflow.Actor(p.username, "web", p), reason=reason)
    except DubanError as exc:
        return refused(session, exc, occurrence_id)
    return redirect(f"/items/{occurrence_id}?ok={quote('已退回，责任单位将在下一份通知中收到退回理由')}")


