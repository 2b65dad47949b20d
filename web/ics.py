"""ICS feeds: one secret URL per account (department and children's-director accounts see theirs
on the inbox); one all-day event per open item the account may see, on its due date
(icalendar). Calendar programs poll it, so completed items disappear by themselves. The URL
carries the account's own salt: ``POST /ics/rotate`` (or ``duban users ics-reset``) gives a new
one and retires the old URL of that account alone."""
from __future__ import annotations

import datetime as dt
import hmac

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from icalendar import Calendar, Event
from sqlmodel import Session

from obligations.words import clause_label, period_label
from storage import accounts
from storage import occurrences as occ
from storage.access import Principal, occurrence_filter
from storage.tables import UserAccount
from web.deps import check_csrf, db, page_user, principal_of

router = APIRouter(include_in_schema=False)
FEED_ROLES = ("department", "director")     # the accounts whose inbox is a task list


def feed_url(request: Request, session: Session, p: Principal) -> str | None:
    """The account's feed URL, or None for a role that has no feed."""
    if p.role not in FEED_ROLES:
        return None
    sig = accounts.ics_signature(request.app.state.secret, session.get(UserAccount, p.user_id))
    return str(request.base_url).rstrip("/") + f"/ics/{p.user_id}/{sig}.ics"


@router.post("/ics/rotate")
def rotate(p: Principal = Depends(page_user), session: Session = db, _: None = Depends(check_csrf)):
    accounts.rotate_ics(session, p.username, actor=p.username)
    return RedirectResponse("/inbox", status_code=303)


@router.get("/ics/{user_id}/{sig}.ics")
def feed(request: Request, sig: str, user_id: int = PathParam(..., ge=1, le=2**62), session: Session = db):
    user = session.get(UserAccount, user_id)
    if (user is None or not user.active or user.role not in FEED_ROLES
            or not hmac.compare_digest(sig, accounts.ics_signature(request.app.state.secret, user))):
        raise HTTPException(404, "没有这个日历")
    p = principal_of(session, user)
    day = request.app.state.today()
    rows = occ.list_occurrences(session, today=day, statuses=("overdue", "due_soon", "open"), limit=2000,
                                where=occurrence_filter(p))
    cal = Calendar()
    cal.add("prodid", "-//duban//督办//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"督办事项：{p.display_name}")
    cal.add("x-wr-timezone", "Asia/Shanghai")
    stamp = dt.datetime.now(dt.timezone.utc)
    for r in rows:
        ev = Event()
        ev.add("uid", f"occurrence-{r['id']}@duban")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", dt.date.fromisoformat(r["due"]))
        ev.add("dtend", dt.date.fromisoformat(r["due"]) + dt.timedelta(days=1))
        late = "【已逾期】" if r["status"] == "overdue" else ""
        ev.add("summary", f"{late}{r['what']}（{r['plan']} {clause_label(r['clause'])}）")
        ev.add("description", f"{r['clause_title'] or ''}\n期间：{period_label(r['period'])}；进度 {r['done']}/{r['required']}"
                              + (f"；服务对象 {r['case']}" if r["case"] else "")
                              + f"\n{request.base_url}items/{r['id']}")
        ev.add("url", f"{request.base_url}items/{r['id']}")
        cal.add_component(ev)
    return Response(cal.to_ical(), media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


