"""Occurrences: queries the coordinator needs, completions and waivers.

Listings compute status in SQL with ``status_sql``, the mirror of ``obligations.status.status``
(a test checks they agree); nothing loads occurrences into Python to count them."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select, update
from sqlmodel import Session

from obligations.errors import DubanError
from obligations.status import STATUSES, status
from obligations.workcal import WorkCalendar
from storage.tables import Case, Clause, Completion, Department, Jurisdiction, Obligation, Occurrence, Plan


class OccurrenceError(DubanError, ValueError):
    pass


def status_sql(today: dt.date, soon_days: int):
    o = Occurrence
    return sa.case(
        (o.waived_at.is_not(None), "waived"),
        (sa.and_(o.done_count >= o.required, o.submitted_at.is_not(None)), "submitted"),
        (o.done_count >= o.required, sa.case((o.completed_on <= o.due, "done"), else_="done_late")),
        (o.due < today, "overdue"),
        (o.due <= today + dt.timedelta(days=soon_days), "due_soon"),
        else_="open",
    )


def status_tally() -> list:
    """The status rule (``status_sql``) as five counts that an aggregate grouped by due date can
    carry without grouping on the rule's CASE: the items, the waived, the met (done and not
    waived), of those the submitted (待审核) and the done by their due date. ``split_tally``
    turns one group's counts into counts per status: an unmet item's status follows from its due
    date alone, which is the group's. Grouped by leading columns of ix_occurrence_due_cover
    (``due``, ``plan_id``, …), SQLite aggregates as it reads the index, with no sort."""
    o = Occurrence
    live_met = sa.and_(o.waived_at.is_(None), o.done_count >= o.required)
    return [sa.func.count().label("n"), sa.func.count(o.waived_at).label("waived"),
            sa.func.count().filter(live_met).label("met"),
            sa.func.count(o.submitted_at).filter(live_met).label("submitted"),
            sa.func.count().filter(sa.and_(live_met, o.submitted_at.is_(None), o.completed_on <= o.due)).label("done")]


def unmet_status(due: dt.date, today: dt.date, soon: dt.date) -> str:
    """The status of an item due on ``due`` that is neither done nor waived; ``soon`` is the
    last day of the due-soon window."""
    return "overdue" if due < today else "due_soon" if due <= soon else "open"


def split_tally(unmet: str, n: int, waived: int, met: int, submitted: int, done: int) -> list[tuple[str, int]]:
    """One group's ``status_tally`` counts as (status, count) pairs, the statuses with none left
    out; ``unmet``: the status of its unmet items (``unmet_status`` of the group's due date)."""
    pairs = (("waived", waived), ("submitted", submitted), ("done", done), ("done_late", met - submitted - done),
             (unmet, n - waived - met))
    return [(status, k) for status, k in pairs if k]


def resolve_jurisdiction(session: Session, text: str) -> Jurisdiction:
    """A unit by code or by name (名称唯一时)."""
    unit = session.scalar(select(Jurisdiction).where(Jurisdiction.code == text))
    if unit:
        return unit
    units = session.scalars(select(Jurisdiction).where(Jurisdiction.name == text)).all()
    if not units:
        raise OccurrenceError(f"没有名为 {text} 的行政区划（可用 duban jurisdictions list 查看）")
    if len(units) > 1:
        codes = "、".join(f"{u.code}" for u in units)
        raise OccurrenceError(f"行政区划名称 {text} 不唯一，请改用区划代码：{codes}")
    return units[0]


def resolve_department(session: Session, text: str) -> Department:
    """A department or role by its key (education), its name (教育部门) or a name it goes by
    at some level or as an alias (教育局, 卫健委); a name two departments share is refused
    with each key."""
    dept = session.get(Department, text)
    if dept is not None:
        return dept
    found = []
    for d in session.scalars(select(Department).order_by(Department.key)):
        doc = d.doc or {}
        names = {d.name, *(doc.get("names") or {}).values(), *(doc.get("aliases") or ())}
        if text in names:
            found.append(d)
    if not found:
        raise OccurrenceError(f"没有名为 {text} 的部门（可用 duban departments list 查看部门及其名称）")
    if len(found) > 1:
        keys = "、".join(f"{d.name}（{d.key}）" for d in found)
        raise OccurrenceError(f"部门名称 {text} 不唯一：{keys}，请改用部门键")
    return found[0]


def _loaded_plan(session: Session, plan: str) -> str:
    if session.get(Plan, plan) is None:
        raise OccurrenceError(f"没有编号为 {plan} 的已加载计划")
    return plan


def _base_query(today: dt.date, soon_days: int):
    st = status_sql(today, soon_days).label("status")
    q = (select(Occurrence.id, Occurrence.plan_id, Plan.title.label("plan_title"), Clause.code.label("clause"), Clause.title.label("clause_title"),
                Obligation.code.label("obligation"), Obligation.what, Occurrence.party_key,
                Department.name.label("party_name"), Jurisdiction.code.label("jurisdiction_code"),
                Jurisdiction.name.label("jurisdiction"), Case.code.label("case"), Occurrence.period_key,
                Occurrence.period_start, Occurrence.period_end, Occurrence.due, Occurrence.required,
                Occurrence.done_count, Occurrence.completed_on, Occurrence.original_due, st)
         .join(Obligation, Obligation.id == Occurrence.obligation_id)
         .join(Clause, Clause.id == Obligation.clause_id)
         .join(Plan, Plan.id == Occurrence.plan_id)
         .join(Department, Department.key == Occurrence.party_key)
         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
         .outerjoin(Case, Case.id == Occurrence.case_id))
    return q, st


def list_occurrences(session: Session, *, today: dt.date, soon_days: int = 7, plan: str | None = None,
                     department: str | None = None, jurisdiction: str | None = None,
                     date_from: dt.date | None = None, date_to: dt.date | None = None,
                     statuses: tuple[str, ...] | None = None, case: str | None = None,
                     limit: int | None = None, offset: int = 0, where=None,
                     flagged: bool = False) -> list[dict[str, Any]]:
    """Occurrences ordered by due date; ``date_from``/``date_to`` bound the due date; ``where``
    is an extra filter (the web app's access rule); ``flagged``: only items with a completion
    flagged as entered late (补登待核)."""
    q = _filtered(session, today=today, soon_days=soon_days, plan=plan, department=department,
                  jurisdiction=jurisdiction, date_from=date_from, date_to=date_to, statuses=statuses, case=case,
                  where=where, flagged=flagged)
    q = q.order_by(Occurrence.due, Occurrence.plan_id, Obligation.code, Jurisdiction.path, Occurrence.party_key,
                   Occurrence.id)
    if limit:
        q = q.limit(limit)
    if offset:
        q = q.offset(offset)
    return [_with_progress(_row(r), r) for r in session.execute(q.add_columns(*_latest_progress()))]


def progress_of(session: Session, occurrence_id: int) -> list[dict[str, Any]]:
    """An item's progress reports (进度反馈), newest first."""
    from storage.tables import ProgressReport

    r = ProgressReport
    return [{"id": x.id, "reported_on": x.reported_on.isoformat(), "percent": x.percent, "done": x.done,
             "difficulties": x.difficulties, "next_steps": x.next_steps, "actor": x.actor, "channel": x.channel,
             "created_at": x.created_at.isoformat(timespec="seconds")}
            for x in session.scalars(select(r).where(r.occurrence_id == occurrence_id)
                                     .order_by(r.reported_on.desc(), r.id.desc()))]


def _latest_progress() -> tuple:
    """The item's latest progress report (进度反馈): its percent and date, as two correlated
    subqueries over ix_progress_report_item_day (one index probe per listed row; only the
    listing reads them, never the counts)."""
    from storage.tables import ProgressReport

    r = ProgressReport.__table__.alias("latest_progress")

    def latest(column, label: str):
        return (select(column).where(r.c.occurrence_id == Occurrence.id)
                .order_by(r.c.reported_on.desc(), r.c.id.desc()).limit(1).scalar_subquery().label(label))

    return latest(r.c.percent, "progress_percent"), latest(r.c.reported_on, "progress_on")


def _with_progress(row: dict[str, Any], r) -> dict[str, Any]:
    """``progress``: {"percent", "on"} of the latest progress report, or None."""
    on = r.progress_on
    if on is not None and not isinstance(on, dt.date):
        on = dt.date.fromisoformat(str(on))
    row["progress"] = {"percent": r.progress_percent, "on": on.isoformat()} if on is not None else None
    return row


def count_occurrences(session: Session, *, today: dt.date, soon_days: int = 7, **filters: Any) -> int:
    """How many occurrences ``list_occurrences`` would give with the same filters and no limit."""
    q = _filtered(session, today=today, soon_days=soon_days, **filters)
    return session.scalar(select(func.count()).select_from(q.subquery()))


def _filtered(session: Session, *, today: dt.date, soon_days: int, plan: str | None = None,
              department: str | None = None, jurisdiction: str | None = None, date_from: dt.date | None = None,
              date_to: dt.date | None = None, statuses: tuple[str, ...] | None = None, case: str | None = None,
              where=None, flagged: bool = False):
    q, st = _base_query(today, soon_days)
    if where is not None:
        q = q.where(where)
    if flagged:
        q = q.where(Occurrence.id.in_(select(Completion.occurrence_id).where(Completion.flagged)))
    if plan:
        q = q.where(Occurrence.plan_id == _loaded_plan(session, plan))
    if department:
        q = q.where(Occurrence.party_key == resolve_department(session, department).key)
    if jurisdiction:
        unit = resolve_jurisdiction(session, jurisdiction)
        q = q.where(Jurisdiction.path.like(unit.path + "%"))
    if case:
        q = q.where(Case.code == case)
    if date_from:
        q = q.where(Occurrence.due >= date_from)
    if date_to:
        q = q.where(Occurrence.due <= date_to)
    if statuses:
        bad = set(statuses) - set(STATUSES)
        if bad:
            raise OccurrenceError(f"未知的状态 {sorted(bad)}（可用：{'、'.join(STATUSES)}）")
        q = q.where(st.in_(statuses))
    return q


def _row(r) -> dict[str, Any]:
    return {
        "id": r.id, "plan": r.plan_id, "plan_title": r.plan_title, "clause": r.clause, "clause_title": r.clause_title,
        "obligation": r.obligation, "what": r.what, "assignee": r.party_key, "assignee_name": r.party_name,
        "jurisdiction": r.jurisdiction, "jurisdiction_code": r.jurisdiction_code, "case": r.case,
        "period": r.period_key, "period_start": r.period_start.isoformat(), "period_end": r.period_end.isoformat(),
        "due": r.due.isoformat(), "required": r.required, "done": r.done_count,
        "completed_on": r.completed_on.isoformat() if r.completed_on else None, "status": r.status,
        "original_due": r.original_due.isoformat() if r.original_due else None,
    }


def status_summary(session: Session, *, today: dt.date, soon_days: int = 7, plan: str | None = None,
                   start: dt.date | None = None, end: dt.date | None = None,
                   jurisdiction: str | None = None) -> list[dict[str, Any]]:
    """Counts per department and status for occurrences due within [start, end]."""
    st = status_sql(today, soon_days)
    q = (select(Occurrence.party_key, Department.name, st.label("status"), func.count())
         .join(Department, Department.key == Occurrence.party_key))
    if plan:
        q = q.where(Occurrence.plan_id == _loaded_plan(session, plan))
    if start:
        q = q.where(Occurrence.due >= start)
    if end:
        q = q.where(Occurrence.due <= end)
    if jurisdiction:
        unit = resolve_jurisdiction(session, jurisdiction)
        q = q.join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id).where(
            Jurisdiction.path.like(unit.path + "%"))
    q = q.group_by(Occurrence.party_key, Department.name, st).order_by(Occurrence.party_key)
    out: dict[str, dict[str, Any]] = {}
    for key, name, stat, n in session.execute(q):
        row = out.setdefault(key, {"department": key, "name": name, **{s: 0 for s in STATUSES}, "total": 0})
        row[stat] += n
        row["total"] += n
    for row in out.values():
        finished = row["done"] + row["done_late"]
        owed = finished + row["overdue"]
        row["on_time_rate"] = round(row["done"] / owed, 4) if owed else None
    return list(out.values())


def occurrence_detail(session: Session, occurrence_id: int, *, today: dt.date, soon_days: int = 7,
                      where=None) -> dict[str, Any]:
    q, _ = _base_query(today, soon_days)
    if where is not None:
        q = q.where(where)
    row = session.execute(q.where(Occurrence.id == occurrence_id)).first()
    if row is None:
        raise OccurrenceError(f"没有编号为 {occurrence_id} 的督办事项")
    detail = _row(row)
    occ = session.get(Occurrence, occurrence_id)
    detail["waived_reason"] = occ.waived_reason
    detail["completions"] = [
        {"id": c.id, "done_on": c.done_on.isoformat(), "recorded_at": c.recorded_at.isoformat(timespec="seconds"),
         "judged_on": (c.judged_on or c.done_on).isoformat(), "flagged": c.flagged,
         "actor": c.actor, "count": c.count, "note": c.note, "evidence": c.evidence_path, "channel": c.channel,
         "returned_at": c.returned_at.isoformat(timespec="seconds") if c.returned_at else None,
         "returned_by": c.returned_by, "return_reason": c.return_reason}
        for c in session.scalars(select(Completion).where(Completion.occurrence_id == occurrence_id)
                                 .order_by(Completion.id))]
    detail["submitted_at"] = occ.submitted_at.isoformat(timespec="seconds") if occ.submitted_at else None
    detail["progress_reports"] = progress_of(session, occurrence_id)
    latest = detail["progress_reports"][0] if detail["progress_reports"] else None
    detail["progress"] = {"percent": latest["percent"], "on": latest["reported_on"]} if latest else None
    returned = [c for c in detail["completions"] if c["returned_at"]]
    detail["returns"] = len(returned)
    detail["return_reason"] = returned[-1]["return_reason"] if returned and detail["status"] != "submitted" \
        and detail["done"] < detail["required"] else None
    return detail


def record_completion(session: Session, occurrence_id: int, *, count: int, actor: str, channel: str,
                      note: str | None = None, evidence_path: str | None = None, done_on: dt.date,
                      judged_on: dt.date | None = None, flagged: bool = False,
                      calendar: WorkCalendar | None = None, now: dt.datetime | None = None,
                      review: bool = False) -> Completion:
    """Append a completion and move the occurrence's count in one atomic UPDATE (safe with
    several writers). ``done_on`` is the day claimed, ``judged_on`` the day timeliness uses
    (default: the claimed day; the rules are ``obligations.timeliness``, applied by
    ``storage.workflow``). With ``review`` the completion that reaches the required count makes
    the item await a coordinator's review (``submitted_at``, 待审核). The caller owns the
    transaction."""
    if count < 1:
        raise OccurrenceError("完成次数必须为正整数")
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise OccurrenceError(f"没有编号为 {occurrence_id} 的督办事项")
    if occ.waived_at is not None:
        raise OccurrenceError(f"督办事项 {occurrence_id} 已豁免（{occ.waived_reason}），不能再登记完成")
    # the guard and the count in one UPDATE: of two people completing the same item at once, the
    # second finds it done (PostgreSQL re-reads the row after the first commits; SQLite serializes)
    o = Occurrence.__table__.c
    moved = session.execute(
        update(Occurrence.__table__).where(o.id == occurrence_id, o.done_count < o.required, o.waived_at.is_(None))
        .values(done_count=o.done_count + count)).rowcount
    if not moved:
        session.refresh(occ)
        if occ.waived_at is not None:
            raise OccurrenceError(f"督办事项 {occurrence_id} 已豁免（{occ.waived_reason}），不能再登记完成")
        raise OccurrenceError(f"督办事项 {occurrence_id} 已于 {occ.completed_on} 办结（{occ.done_count}/{occ.required}），"
                              "未重复登记")
    now = now or dt.datetime.now(dt.timezone.utc)
    completion = Completion(occurrence_id=occurrence_id, recorded_at=now,
                            done_on=done_on, actor=actor, count=count, note=note, evidence_path=evidence_path,
                            channel=channel, judged_on=judged_on or done_on, flagged=flagged)
    session.add(completion)
    session.flush()
    # done when the count is reached, on the latest judged day of the completions (timeliness.done_on);
    # the UPDATE above holds the row, so a concurrent completion's row is committed and seen here
    c = Completion.__table__.c
    session.execute(
        update(Occurrence.__table__).where(o.id == occurrence_id, o.done_count >= o.required, o.completed_on.is_(None))
        .values(completed_on=select(func.max(func.coalesce(c.judged_on, c.done_on)))
                .where(c.occurrence_id == occurrence_id, c.returned_at.is_(None)).scalar_subquery(),
                submitted_at=now if review else None))
    session.expire(occ)
    if calendar is not None and occ.completed_on is not None:
        from storage.schedule import spawn_events

        spawn_events(session, calendar)
    return completion


def waive(session: Session, occurrence_id: int, *, reason: str, actor: str, now: dt.datetime | None = None) -> None:
    if not reason.strip():
        raise OccurrenceError("豁免必须说明理由")
    occ = session.get(Occurrence, occurrence_id)
    if occ is None:
        raise OccurrenceError(f"没有编号为 {occurrence_id} 的督办事项")
    occ.waived_at = now or dt.datetime.now(dt.timezone.utc)
    occ.waived_by, occ.waived_reason = actor, reason


def accept(session: Session, occurrence_ids: list[int]) -> int:
    """End the review of items awaiting it (compare-and-set: only those still awaiting); they are
    then done or done late by their judged completion day. Returns how many were accepted."""
    o = Occurrence.__table__.c
    return session.execute(update(Occurrence.__table__).where(o.id.in_(occurrence_ids), o.submitted_at.is_not(None))
                           .values(submitted_at=None)).rowcount


def return_submission(session: Session, occurrence_id: int, *, actor: str, reason: str,
                      now: dt.datetime | None = None) -> Completion | None:
    """Return an item awaiting review: its latest counting completion (the one that made it
    reach the required count) is marked returned with the reason and no longer counts; the
    count goes back to what it was before it, the item is open again. None if the item was not
    awaiting review (compare-and-set against a concurrent accept or return)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    last = session.scalar(select(Completion).where(Completion.occurrence_id == occurrence_id,
                                                   Completion.returned_at.is_(None))
                          .order_by(Completion.id.desc()).limit(1))
    if last is None:
        return None
    o = Occurrence.__table__.c
    moved = session.execute(update(Occurrence.__table__).where(o.id == occurrence_id, o.submitted_at.is_not(None))
                            .values(done_count=o.done_count - last.count, completed_on=None, submitted_at=None)).rowcount
    if not moved:
        return None
    last.returned_at, last.returned_by, last.return_reason = now, actor, reason
    session.flush()
    occ = session.get(Occurrence, occurrence_id)
    if occ is not None:
        session.expire(occ)
    return last


def python_status(occ: Occurrence, today: dt.date, soon_days: int = 7) -> str:
    """The pure rule applied to a row (used by tests and single-item views)."""
    return status(required=occ.required, done=occ.done_count, due=occ.due, completed_on=occ.completed_on,
                  waived=occ.waived_at is not None, today=today, soon_days=soon_days,
                  submitted=occ.submitted_at is not None)
