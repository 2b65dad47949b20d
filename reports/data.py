"""Report data for a plan (or all), a period and a jurisdiction (with its children or not),
from SQL aggregates only — never by loading occurrences into Python. Every output format reads
this one structure, so the numbers are the same whatever the format.

An occurrence belongs to the period when its due date falls in it; its status is judged on the
report day with everything known then (an item due in March and done on 3 April is "done late";
one still not done is "overdue")."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func, select
from sqlmodel import Session

from storage.occurrences import OccurrenceError, resolve_jurisdiction, status_sql
from storage.tables import Case, Clause, Department, Jurisdiction, Notice, Obligation, Occurrence, Outbox, Plan

COUNTS = ("done", "done_late", "overdue", "open", "due_soon", "waived")


@dataclass
class ReportData:
    plan: str | None
    plan_title: str
    start: dt.date
    end: dt.date
    as_of: dt.date
    jurisdiction: str | None
    totals: dict[str, Any]
    by_department: list[dict[str, Any]]
    by_clause: list[dict[str, Any]]
    by_unit: list[dict[str, Any]]
    by_origin: list[dict[str, Any]]
    overdue_items: list[dict[str, Any]]
    case_coverage: list[dict[str, Any]]
    notices: dict[str, int]
    previous: dict[str, Any] | None = None
    trend: dict[str, Any] = field(default_factory=dict)


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    owed = row["done"] + row["done_late"] + row["overdue"]
    row["owed"] = owed
    row["on_time_rate"] = round(row["done"] / owed, 4) if owed else None
    row["completion_rate"] = round((row["done"] + row["done_late"]) / owed, 4) if owed else None
    return row


def _count_columns(st):
    return [func.sum(case((st == s, 1), else_=0)).label(s) for s in COUNTS] + [func.count().label("total")]


def _scope(q, *, plan, start, end, unit, children):
    q = q.where(Occurrence.due >= start, Occurrence.due <= end)
    if plan:
        q = q.where(Occurrence.plan_id == plan)
    if unit is not None:
        q = q.join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
        q = q.where(Jurisdiction.path.like(unit.path + "%") if children else Jurisdiction.id == unit.id)
    return q


def build(session: Session, *, start: dt.date, end: dt.date, today: dt.date, plan: str | None = None,
          jurisdiction: str | None = None, children: bool = True, soon_days: int = 7,
          with_previous: bool = True, top: int = 50) -> ReportData:
    if plan and session.get(Plan, plan) is None:
        raise OccurrenceError(f"没有编号为 {plan} 的已加载计划")
    unit = resolve_jurisdiction(session, jurisdiction) if jurisdiction else None
    as_of = today
    st = status_sql(as_of, soon_days)
    scope = dict(plan=plan, start=start, end=end, unit=unit, children=children)

    def grouped(*keys, joins=()):
        q = select(*keys, *_count_columns(st)).select_from(Occurrence)
        for target, on in joins:
            q = q.join(target, on)
        q = _scope(q, **scope).group_by(*keys)
        return [dict(r._mapping) for r in session.execute(q)]

    totals = grouped()[0] if grouped() else {s: 0 for s in (*COUNTS, "total")}
    totals = _rates({k: int(v or 0) for k, v in totals.items()})
    by_department = [_rates(r) for r in grouped(Occurrence.party_key.label("department"), Department.name.label("name"),
                                               joins=[(Department, Department.key == Occurrence.party_key)])]
    by_department.sort(key=lambda r: (r["on_time_rate"] is None, r["on_time_rate"] or 0, r["department"]))
    clause_rows = grouped(Occurrence.plan_id.label("plan"), Clause.code.label("clause"), Clause.title.label("title"),
                          Clause.position.label("position"),
                          joins=[(Obligation, Obligation.id == Occurrence.obligation_id),
                                 (Clause, Clause.id == Obligation.clause_id)])
    by_clause = [_rates(r) for r in sorted(clause_rows, key=lambda r: (r["plan"], r["position"]))]
    by_origin = [_rates(r) for r in grouped(Obligation.origin.label("origin"),
                                            joins=[(Obligation, Obligation.id == Occurrence.obligation_id)])]
    by_unit = _by_unit(session, grouped, unit)
    overdue_items = _overdue(session, st, scope, as_of, top)
    coverage = _coverage(session, scope)
    notices = _notices(session, scope)
    data = ReportData(plan, session.get(Plan, plan).title if plan else "全部计划", start, end, as_of,
                      unit.name if unit else None, totals, by_department, by_clause, by_unit, by_origin,
                      overdue_items, coverage, notices)
    if with_previous:
        length = end - start
        prev_end = start - dt.timedelta(days=1)
        prev = build(session, start=prev_end - length, end=prev_end, today=today, plan=plan,
                     jurisdiction=jurisdiction, children=children, soon_days=soon_days, with_previous=False, top=0)
        data.previous = prev.totals
        data.trend = {k: (None if totals[k] is None or prev.totals[k] is None else round(totals[k] - prev.totals[k], 4))
                      for k in ("on_time_rate", "completion_rate")}
    return data


def _by_unit(session: Session, grouped, unit: Jurisdiction | None) -> list[dict[str, Any]]:
    """Counts per unit one level below the report's jurisdiction (its own rows counted as itself),
    rolled up from per-unit aggregates."""
    rows = grouped(Occurrence.jurisdiction_id.label("jid"))
    paths = dict(session.execute(select(Jurisdiction.id, Jurisdiction.path)).all())
    names = {p: (n, c, lvl) for p, n, c, lvl in session.execute(
        select(Jurisdiction.path, Jurisdiction.name, Jurisdiction.code, Jurisdiction.level))}
    base = unit.path if unit else ""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        path = paths[r["jid"]]
        rest = path[len(base):]
        head = base + (rest.split("/")[0] + "/" if rest else "")
        key = head if rest else path
        name, code, level = names[key]
        agg = out.setdefault(key, {"unit": name, "code": code, "level": level, **{s: 0 for s in (*COUNTS, "total")}})
        for s in (*COUNTS, "total"):
            agg[s] += int(r[s] or 0)
    return sorted((_rates(r) for r in out.values()), key=lambda r: r["code"])


def _overdue(session: Session, st, scope, as_of: dt.date, top: int) -> list[dict[str, Any]]:
    if not top:
        return []
    j2 = sa.orm.aliased(Jurisdiction)
    q = (select(Occurrence.id, Occurrence.plan_id, Clause.code, Obligation.what, j2.name, Department.name,
                Occurrence.period_key, Occurrence.due, Occurrence.done_count, Occurrence.required, Case.code)
         .select_from(Occurrence).join(Obligation, Obligation.id == Occurrence.obligation_id)
         .join(Clause, Clause.id == Obligation.clause_id).join(Department, Department.key == Occurrence.party_key)
         .join(j2, j2.id == Occurrence.jurisdiction_id).outerjoin(Case, Case.id == Occurrence.case_id)
         .where(st == "overdue"))
    q = _scope(q, **scope).order_by(Occurrence.due, Occurrence.id).limit(top)
    return [{"id": r[0], "plan": r[1], "clause": r[2], "what": r[3], "unit": r[4], "department": r[5],
             "period": r[6], "due": r[7].isoformat(), "days_late": (as_of - r[7]).days, "done": r[8],
             "required": r[9], "case": r[10]} for r in session.execute(q)]


def _coverage(session: Session, scope) -> list[dict[str, Any]]:
    """Key-child contacts and visits: done versus required, by township."""
    village = sa.orm.aliased(Jurisdiction)
    town = sa.orm.aliased(Jurisdiction)
    town_id = case((village.level == "village", village.parent_id), else_=village.id)
    capped = case((Occurrence.done_count > Occurrence.required, Occurrence.required), else_=Occurrence.done_count)
    q = (select(town.name, Obligation.what, func.count(), func.sum(capped), func.sum(Occurrence.required),
                func.sum(case((Occurrence.done_count >= Occurrence.required, 1), else_=0)))
         .select_from(Occurrence).join(Obligation, Obligation.id == Occurrence.obligation_id)
         .join(village, village.id == Occurrence.jurisdiction_id).join(town, town.id == town_id)
         .where(Occurrence.case_id.is_not(None)))
    plan, start, end, unit, children = (scope[k] for k in ("plan", "start", "end", "unit", "children"))
    q = q.where(Occurrence.due >= start, Occurrence.due <= end)
    if plan:
        q = q.where(Occurrence.plan_id == plan)
    if unit is not None:
        q = q.where(village.path.like(unit.path + "%") if children else village.id == unit.id)
    q = q.group_by(town.name, Obligation.what).order_by(town.name, Obligation.what)
    return [{"township": t, "what": w, "items": n, "done": int(d or 0), "required": int(req or 0),
             "complete_items": int(c or 0), "coverage": round(int(c or 0) / n, 4) if n else None}
            for t, w, n, d, req, c in session.execute(q)]


def _notices(session: Session, scope) -> dict[str, int]:
    """Notices in the period by kind (reminders, due-day, overdue, escalations) for the scope, and
    the digests sent in the period to all recipients (a digest spans plans and units)."""
    q = select(Notice.kind, func.count()).join(Occurrence, Occurrence.id == Notice.occurrence_id).where(
        Notice.swept_on >= scope["start"], Notice.swept_on <= scope["end"])
    if scope["plan"]:
        q = q.where(Occurrence.plan_id == scope["plan"])
    if scope["unit"] is not None:
        q = q.join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id).where(
            Jurisdiction.path.like(scope["unit"].path + "%") if scope["children"] else Jurisdiction.id == scope["unit"].id)
    out = {k: 0 for k in ("remind", "due", "overdue", "escalate")}
    out.update(dict(session.execute(q.group_by(Notice.kind)).all()))
    out["digests_sent_all"] = session.scalar(select(func.count()).select_from(Outbox).where(
        Outbox.status == "sent", Outbox.day >= scope["start"], Outbox.day <= scope["end"])) or 0
    return out
