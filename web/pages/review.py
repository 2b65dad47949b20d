"""Requests (waivers, extensions) and the review of completions (办结审核)."""
from __future__ import annotations

import re
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from sqlmodel import Session

from obligations import words
from obligations.errors import DubanError
from storage import views, workflow
from storage.access import Principal, occurrence_filter
from storage.occurrences import OccurrenceError
from web import itemrows, listing
from web.deps import check_csrf, db, page_user, unit_in_area
from web.pages.common import ItemId, redirect, refused
from web.templating import render, today

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- review of completions (办结审核)

SORTS_REVIEW = {"completed": "办结日期", "due": "截止日期", "unit": "责任单位", "what": "事项", "plan": "计划与条款"}


@router.get("/review")
def review_page(request: Request, plan: str = "", department: str = "", jurisdiction: str = "", ok: str = "",
                error: str = "", p: Principal = Depends(page_user), session: Session = db):
    """The coordinator's queue: items awaiting review in their area, filtered, searched, sorted
    and paged in SQL (the earliest submitted first), exported to Excel; accept the ticked ones at
    once, or open an item to return it with a reason."""
    if not p.can_review:
        raise HTTPException(403, "只有本级或上级协调员可以审核办结情况")
    unit = unit_in_area(session, p, jurisdiction)
    day, soon = today(request), request.app.state.settings.due_soon_days
    lst = listing.read(request, sorts=SORTS_REVIEW, default_sort="completed")
    try:
        q = itemrows.query(session, today=day, soon_days=soon, q=lst.q, where=occurrence_filter(p),
                           statuses=("submitted",), plan=plan or None, department=department or None,
                           jurisdiction=unit.code)
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None
    total = itemrows.count(session, q)
    calendar = request.app.state.settings.calendar()
    if lst.export:
        listing.check_export(total)
        rows = itemrows.export_rows(session, itemrows.ordered(q, lst, day, soon), today=day, calendar=calendar)
        return listing.xlsx_response("待审核事项", itemrows.export_columns(), rows, day=day)
    lst.count(total)
    rows = itemrows.rows(session, itemrows.ordered(q, lst, day, soon).limit(lst.limit).offset(lst.offset),
                         today=day, calendar=calendar)
    return render(request, "review.html", {
        "user": p, "rows": rows, "total": total, "ok": ok, "error": error, "lst": lst,
        "filters": {"plan": plan, "department": department, "jurisdiction": jurisdiction or unit.name},
        **views.dashboard_choices(session, p, None)})


@router.post("/review/accept")
async def review_accept(request: Request, p: Principal = Depends(page_user), session: Session = db,
                        _: None = Depends(check_csrf)):
    """Accept the ticked items (checkboxes named ``id``) of the queue, all or none."""
    form = await request.form()
    back = form.get("back") if isinstance(form.get("back"), str) else ""
    back = listing.safe_back(back, "/review", only="/review")
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




# ---------------------------------------------------------------- waiver and extension requests

SORTS_REQUESTS = {"requested": "申请时间", "due": "截止日期", "unit": "单位"}


def request_columns() -> list[listing.Column]:
    """The requests list's Excel columns (what the page shows, one field a column)."""
    return [listing.Column("申请", lambda r: workflow.REQUEST_KINDS[r["r"].kind]),
            listing.Column("申请状态", lambda r: words.REQUEST_STATUS_NAMES[r["r"].status]),
            listing.Column("事项", "what", width=40), listing.Column("计划", "plan_title", width=30),
            listing.Column("条款", "clause", width=14), listing.Column("条款标题", "clause_title", width=30),
            listing.Column("单位", "unit"), listing.Column("责任部门", "department"),
            listing.Column("事项状态", lambda r: words.status_name(r["status"])),
            listing.Column("截止日期", "due", "date"),
            listing.Column("申请延期至", lambda r: r["r"].new_due, "date"),
            listing.Column("理由", lambda r: r["r"].reason, width=40),
            listing.Column("申请人", "requester"),
            listing.Column("申请时间", lambda r: r["r"].requested_at, "datetime"),
            listing.Column("审核人", "decider"),
            listing.Column("审核时间", lambda r: r["r"].decided_at, "datetime"),
            listing.Column("审核意见", lambda r: r["r"].decision_note, width=30)]


@router.get("/requests")
def requests_page(request: Request, show: str = "pending", ok: str = "", error: str = "",
                  p: Principal = Depends(page_user), session: Session = db):
    """The coordinator's requests: pending ones (or all, pending first) with the item's title,
    clause, unit, department and status, searched, sorted, paged and exported; decide one, or
    tick several and decide them at once."""
    if not p.can_review:
        raise HTTPException(403, "只有协调员可以审核豁免和延期申请")
    show = "all" if show == "all" else "pending"
    day, soon = today(request), request.app.state.settings.due_soon_days
    lst = listing.read(request, sorts=SORTS_REQUESTS, default_sort="requested", default_desc=True)
    search = itemrows.search_condition(lst.q)
    total = views.request_count(session, p, show, search=search, today=day)
    order = dict(sort=lst.sort, desc=lst.desc)
    if lst.export:
        listing.check_export(total)
        rows = views.request_queue(session, p, today=day, show=show, soon_days=soon, limit=None, search=search,
                                   **order)
        return listing.xlsx_response("待审核申请" if show == "pending" else "豁免与延期申请", request_columns(), rows,
                                     zone=ZoneInfo(request.app.state.settings.timezone), day=day)
    lst.count(total)
    rows = views.request_queue(session, p, today=day, show=show, soon_days=soon, limit=lst.limit,
                               offset=lst.offset, search=search, **order)
    return render(request, "requests.html", {
        "user": p, "rows": rows, "total": total, "show": show, "lst": lst,
        "pending_total": views.request_count(session, p, "pending"), "kinds": workflow.REQUEST_KINDS,
        "ok": ok, "error": error})


def _decided_message(session: Session, decided: list, approve: bool) -> str:
    """已批准 2 项申请：延期至 2025-07-31·开展流动儿童监测摸排（新华区教育局）、…"""
    names = {r.id: r for r in decided}
    rows = views.request_titles(session, list(names))
    parts = [f"{workflow.REQUEST_KINDS[names[i].kind]}"
             f"{'至 ' + str(names[i].new_due) if names[i].new_due else ''}·{what}（{unit}{dept}）"
             for i, what, unit, dept in rows]
    more = " 等" if len(parts) > 5 else ""
    return f"已{'批准' if approve else '驳回'} {len(decided)} 项申请：{'；'.join(parts[:5])}{more}"


def _decide(request: Request, session: Session, p: Principal, ids: list[int], decision: str, note: str,
            back: str = ""):
    """Decide and go back (to the requests, or to the item page it was decided on) saying what."""
    back = back if re.fullmatch(r"/items/[0-9]{1,19}", back or "") or _requests_list(back) else "/requests"
    sep = "&" if "?" in back else "?"
    if decision not in ("approve", "reject"):
        return redirect(f"{back}{sep}error={quote('请选择批准或驳回')}")
    approve = decision == "approve"
    try:
        decided = workflow.decide_many(session, ids, by=workflow.Actor(p.username, "web", p), approve=approve,
                                       note=note)
    except DubanError as exc:
        session.rollback()
        if exc.http_status in (403, 404) and len(ids) == 1:   # not theirs: the error page, as elsewhere
            raise
        if exc.http_status == 403:
            raise
        return redirect(f"{back}{sep}error={quote(str(exc))}")
    return redirect(f"{back}{sep}ok={quote(_decided_message(session, decided, approve))}")


def _requests_list(back: str) -> bool:
    """A 返回 address of the requests list itself (its tab, search, sort and page kept)."""
    return bool(back) and listing.safe_back(back, "", only="/requests") == back


@router.post("/requests/decide")
async def decide_many(request: Request, p: Principal = Depends(page_user), session: Session = db,
                      _: None = Depends(check_csrf)):
    """Approve or reject the ticked requests (checkboxes named ``id``) with one note, all or none."""
    form = await request.form()
    try:
        ids = [int(v) for v in form.getlist("id")]
    except ValueError:
        return redirect(f"/requests?error={quote('申请编号应为整数')}")
    back = form.get("back")
    return _decide(request, session, p, ids, str(form.get("decision") or ""), str(form.get("note") or ""),
                   back if isinstance(back, str) else "")


@router.post("/requests/{request_id}/decide")
def decide(request: Request, request_id: int = PathParam(..., ge=1, le=2**62), *, decision: str = Form(...),
           note: str = Form(""), back: str = Form(""), p: Principal = Depends(page_user), session: Session = db,
           _: None = Depends(check_csrf)):
    return _decide(request, session, p, [request_id], decision, note, back)
