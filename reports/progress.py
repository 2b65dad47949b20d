"""The report's progress part (进度反馈): how many progress reports the scope's items received in
the period, and the latest percent of the long items still open (obligations.feedback: a period
of ``min_period_days`` or more). All in SQL, three queries: the period's reports counted by day
(ix_progress_report_day; without joining their items when the whole area is asked); the open
long items in one pass, least advanced first, each row carrying the totals of them all (window
aggregates) and each item's latest report found by one index probe (ix_progress_report_item_day);
then the words of the listed rows by primary key."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from obligations.feedback import FeedbackPolicy
from storage.tables import Clause, Department, Jurisdiction, Obligation, Occurrence, ProgressReport

TOP = 20


def _days(conn, start, end):
    return end - start if conn.dialect.name == "postgresql" else func.julianday(end) - func.julianday(start)


def summary(conn, scope, *, min_days: int | None = None, top: int = TOP) -> dict[str, Any]:
    """{"reports", "long_open", "with_progress", "average_percent", "min_period_days", "items"}:
    ``items`` lists the open long items with the least progress first (none reported first)."""
    min_days = min_days or FeedbackPolicy().min_period_days
    r = ProgressReport.__table__
    in_period = (r.c.reported_on >= scope.start, r.c.reported_on <= scope.end)
    conditions = scope.conditions()
    if conditions:          # the scope's items only
        counted = select(func.count()).select_from(r).join(Occurrence, Occurrence.id == r.c.occurrence_id) \
            .where(*in_period, *conditions)
    else:                   # every item: no join (each report belongs to an item)
        counted = select(func.count()).select_from(r).where(*in_period)
    reports = conn.execute(counted).scalar() or 0
    latest_r = ProgressReport.__table__.alias("lp")

    def latest(column):
        return (select(column).where(latest_r.c.occurrence_id == Occurrence.id)
                .order_by(latest_r.c.reported_on.desc(), latest_r.c.id.desc()).limit(1).scalar_subquery())

    long_open = (select(Occurrence.id.label("id"), Occurrence.due.label("due"),
                        latest(latest_r.c.percent).label("percent"),
                        latest(latest_r.c.reported_on).label("reported_on"))
                 .where(Occurrence.waived_at.is_(None), Occurrence.done_count < Occurrence.required,
                        Occurrence.due >= scope.start, Occurrence.period_start <= scope.end,
                        _days(conn, Occurrence.period_start, Occurrence.due) >= min_days, *scope.conditions())
                 .subquery("long_open"))
    # one pass: the least progressed first, each row carrying the totals of them all (window
    # aggregates), so the open long items are found once; their words by primary key after
    first = conn.execute(
        select(long_open.c.id, long_open.c.percent, long_open.c.reported_on,
               func.count().over().label("n"), func.count(long_open.c.percent).over().label("with_progress"),
               func.avg(long_open.c.percent).over().label("average"))
        .order_by(long_open.c.percent.is_not(None), long_open.c.percent, long_open.c.due, long_open.c.id)
        .limit(top)).fetchall()
    n, with_progress, average = (first[0].n, first[0].with_progress, first[0].average) if first else (0, 0, None)
    items = []
    if first:
        words = {x.id: x for x in conn.execute(
            select(Occurrence.id, Jurisdiction.name.label("unit"), Department.name.label("department"),
                   Clause.code.label("clause"), Obligation.what, Occurrence.due)
            .join(Obligation, Obligation.id == Occurrence.obligation_id)
            .join(Clause, Clause.id == Obligation.clause_id)
            .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
            .join(Department, Department.key == Occurrence.party_key)
            .where(Occurrence.id.in_([x.id for x in first])))}
        items = [{"id": x.id, "unit": words[x.id].unit, "department": words[x.id].department,
                  "clause": words[x.id].clause, "what": words[x.id].what, "due": _date(words[x.id].due).isoformat(),
                  "percent": x.percent,
                  "reported_on": _date(x.reported_on).isoformat() if x.reported_on is not None else None}
                 for x in first]
    return {"reports": int(reports), "long_open": int(n), "with_progress": int(with_progress),
            "average_percent": round(float(average), 1) if average is not None else None,
            "min_period_days": min_days, "items": items}


def _date(v) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))
