"""What people do to items through the web app and the API, each in the caller's transaction and
each with its audit row: completions, completion by notice link (single use), waiver and
extension requests and their review."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from obligations.workcal import WorkCalendar
from storage import audit
from storage import occurrences as occ
from storage.occurrences import OccurrenceError
from storage.tables import ItemRequest, Notice, Occurrence

REQUEST_KINDS = {"waiver": "豁免", "extension": "延期"}


def _state(o: Occurrence) -> dict:
    return {"done": o.done_count, "required": o.required, "completed_on": o.completed_on, "due": o.due,
            "waived": o.waived_at is not None}


def complete(session: Session, occurrence_id: int, *, actor: str, channel: str, count: int, done_on: dt.date,
             note: str | None = None, evidence_path: str | None = None, calendar: WorkCalendar | None = None,
             action: str = "complete"):
    o = session.get(Occurrence, occurrence_id)
    if o is None:
        raise OccurrenceError(f"没有编号为 {occurrence_id} 的督办事项")
    before = _state(o)
    c = occ.record_completion(session, occurrence_id, count=count, actor=actor, channel=channel, note=note,
                              evidence_path=evidence_path, done_on=done_on, calendar=calendar)
    session.refresh(o)
    audit.record(session, actor=actor, action=action, object_type="occurrence", object_id=occurrence_id,
                 jurisdiction_id=o.jurisdiction_id, before=before,
                 after={**_state(o), "count": count, "note": note, "evidence": evidence_path})
    return c


def waive(session: Session, occurrence_id: int, *, reason: str, actor: str, now: dt.datetime | None = None) -> None:
    o = session.get(Occurrence, occurrence_id)
    if o is None:
        raise OccurrenceError(f"没有编号为 {occurrence_id} 的督办事项")
    before = _state(o)
    occ.waive(session, occurrence_id, reason=reason, actor=actor, now=now)
    audit.record(session, actor=actor, action="waive", object_type="occurrence", object_id=occurrence_id,
                 jurisdiction_id=o.jurisdiction_id, before=before, after={**_state(o), "reason": reason})


def use_link(session: Session, notice_id: int, occurrence_id: int, now: dt.datetime) -> bool:
    """Mark a notice's completion link used: compare-and-set, so of two tabs (or two people)
    submitting at once exactly one wins."""
    n = Notice.__table__.c
    result = session.execute(sa.update(Notice.__table__).where(
        n.id == notice_id, n.occurrence_id == occurrence_id, n.link_used_at.is_(None)).values(link_used_at=now))
    return result.rowcount == 1


def link_state(session: Session, notice_id: int, occurrence_id: int) -> str:
    """unknown | used | ready."""
    notice = session.get(Notice, notice_id)
    if notice is None or notice.occurrence_id != occurrence_id:
        return "unknown"
    return "used" if notice.link_used_at is not None else "ready"


def request(session: Session, occurrence_id: int, *, kind: str, reason: str, actor: str,
            new_due: dt.date | None = None, now: dt.datetime | None = None) -> ItemRequest:
    if kind not in REQUEST_KINDS:
        raise OccurrenceError(f"未知的申请类型 {kind}")
    if not reason.strip():
        raise OccurrenceError("请说明申请理由")
    o = session.get(Occurrence, occurrence_id)
    if o is None:
        raise OccurrenceError(f"没有编号为 {occurrence_id} 的督办事项")
    if kind == "extension" and (new_due is None or new_due <= o.due):
        raise OccurrenceError(f"延期申请须给出晚于原截止日期 {o.due} 的新日期")
    if session.scalar(sa.select(sa.func.count()).select_from(ItemRequest).where(
            ItemRequest.occurrence_id == occurrence_id, ItemRequest.status == "pending")):
        raise OccurrenceError("该事项已有待审核的申请")
    r = ItemRequest(occurrence_id=occurrence_id, kind=kind, reason=reason.strip(), new_due=new_due,
                    requested_by=actor, requested_at=now or dt.datetime.now(dt.timezone.utc))
    session.add(r)
    session.flush()
    audit.record(session, actor=actor, action="request", object_type="occurrence", object_id=occurrence_id,
                 jurisdiction_id=o.jurisdiction_id, after={"request": r.id, "kind": kind, "reason": r.reason,
                                                           "new_due": new_due})
    return r


def decide(session: Session, request_id: int, *, approve: bool, actor: str, note: str | None = None,
           now: dt.datetime | None = None) -> ItemRequest:
    r = session.get(ItemRequest, request_id)
    if r is None:
        raise OccurrenceError(f"没有编号为 {request_id} 的申请")
    if r.status != "pending":
        raise OccurrenceError("该申请已审核")
    now = now or dt.datetime.now(dt.timezone.utc)
    o = session.get(Occurrence, r.occurrence_id)
    before = _state(o)
    r.status, r.decided_by, r.decided_at, r.decision_note = ("approved" if approve else "rejected"), actor, now, note
    if approve and r.kind == "waiver":
        occ.waive(session, o.id, reason=r.reason, actor=actor, now=now)
    elif approve:
        o.due = r.new_due
    session.flush()
    audit.record(session, actor=actor, action="approve" if approve else "reject", object_type="occurrence",
                 object_id=o.id, jurisdiction_id=o.jurisdiction_id, before=before,
                 after={**_state(o), "request": r.id, "kind": r.kind, "note": note})
    return r
