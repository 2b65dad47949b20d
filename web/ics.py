"""ICS feeds: one secret URL per department at a unit; one all-day event per open item on its
due date (icalendar). Calendar programs poll it, so completed items disappear by themselves."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from icalendar import Calendar, Event
from sqlmodel import Session

from obligations.words import clause_label, period_label
from storage import occurrences as occ
from storage.tables import Department, Jurisdiction, Occurrence
from web.deps import db

router = APIRouter(include_in_schema=False)


def _sig(secret: bytes, jurisdiction_id: int, department: str) -> str:
    return hmac.new(secret, f"ics|{jurisdiction_id}|{department}".encode(), hashlib.sha256).hexdigest()[:32]


def feed_url(request: Request, jurisdiction_id: int, department: str) -> str:
    path = f"/ics/{jurisdiction_id}/{department}/{_sig(request.app.state.secret, jurisdiction_id, department)}.ics"
    return str(request.base_url).rstrip("/") + path


@router.get("/ics/{jurisdiction_id}/{department}/{sig}.ics")
def feed(request: Request, jurisdiction_id: int, department: str, sig: str, session: Session = db):
    if not hmac.compare_digest(sig, _sig(request.app.state.secret, jurisdiction_id, department)):
        raise HTTPException(404, "没有这个日历")
    unit = session.get(Jurisdiction, jurisdiction_id)
    dept = session.get(Department, department)
    if unit is None or dept is None:
        raise HTTPException(404, "没有这个日历")
    day = request.app.state.today()
    rows = occ.list_occurrences(session, today=day, statuses=("overdue", "due_soon", "open"), limit=2000,
                                where=(Occurrence.party_key == department) & (Occurrence.jurisdiction_id == jurisdiction_id))
    cal = Calendar()
    cal.add("prodid", "-//duban//督办//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"督办事项：{unit.name}{dept.name}")
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


