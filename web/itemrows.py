"""Lists of items for people (the inbox, the done list, the dashboard's overdue list): one query
shape, the search columns, the sort whitelist, the words each row shows and the Excel columns,
so that what is shown, what is counted and what is exported are the same rows.

Built on ``storage.occurrences._filtered`` (the filters and the status rule in SQL); counting
and paging are SQL (``count``, ``page``), never a Python slice of every row."""
from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session

from obligations import words
from obligations.workcal import WorkCalendar
from storage import occurrences as occ
from storage.tables import Case, Clause, Department, Jurisdiction, Notice, Obligation, Occurrence, Plan
from web import listing

SORTS_OPEN = {"due": "截止日期", "status": "状态", "what": "事项", "plan": "计划与条款", "unit": "责任单位"}
SORTS_DONE = {"due": "截止日期", "completed": "办结日期", "status": "状态", "what": "事项", "plan": "计划与条款",
              "unit": "责任单位"}
SORTS_OVERDUE = {"late": "逾期天数", "unit": "地区", "department": "责任部门", "what": "事项", "plan": "条款"}
STATUS_ORDER = ("overdue", "due_soon", "open", "submitted", "done_late", "done", "waived")   # the most urgent first
_CLAUSE_WORD = re.compile(r"^第(\d+)条$|^基础清单第(\d+)项$|^工作要求第(\d+)段$")


def search_condition(q: str):
    """Every word in the item's title, its clause (第3条 finds clause 3), the plan's title, the
    unit, the department or the key child's code."""
    if not q:
        return None
    parts = []
    for w in q.split()[:8]:
        m = _CLAUSE_WORD.match(w)
        if m:
            code = m[1] or (f"list-{m[2]}" if m[2] else f"req-{m[3]}")
            parts.append(Clause.code == code)
        else:
            parts.append(listing.search(w, Obligation.what, Clause.title, Clause.code, Plan.title, Jurisdiction.name,
                                        Department.name, Case.code))
    return sa.and_(*parts)


def order_columns(today: dt.date, soon_days: int) -> dict[str, Any]:
    rank = sa.case({s: i for i, s in enumerate(STATUS_ORDER)}, value=occ.status_sql(today, soon_days), else_=99)
    return {"due": Occurrence.due, "status": rank, "what": Obligation.what, "plan": (Plan.title, Clause.position),
            "unit": (Jurisdiction.path, Department.name), "completed": Occurrence.completed_on,
            "department": (Department.name, Jurisdiction.path)}


def query(session: Session, *, today: dt.date, soon_days: int, q: str = "", where=None, clause: str | None = None,
          **filters: Any):
    """The filtered select (``_filtered`` plus the search and a clause code)."""
    extra = [c for c in (where, search_condition(q)) if c is not None]
    if clause:
        extra.append(Clause.code == clause)
    return occ._filtered(session, today=today, soon_days=soon_days, where=sa.and_(*extra) if extra else None,
                         **filters)


def count(session: Session, q) -> int:
    return session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0


def ordered(q, lst: listing.Listing, today: dt.date, soon_days: int):
    columns = order_columns(today, soon_days)
    if lst.sort == "late":          # most days late first = the earliest due first
        terms = [Occurrence.due.asc() if lst.desc else Occurrence.due.desc()]
        return q.order_by(*terms, Occurrence.id)
    return q.order_by(*listing.order(lst, columns, Occurrence.id))


def with_escalation(q):
    """Add the highest escalation stage sent for each item (督办级别)."""
    top = (select(func.max(Notice.stage)).where(Notice.occurrence_id == Occurrence.id, Notice.kind == "escalate")
           .scalar_subquery())
    return q.add_columns(top.label("escalation"))


def rows(session: Session, q, *, today: dt.date, calendar: WorkCalendar | None) -> list[dict[str, Any]]:
    """The rows as the pages show them (titles, words, days late)."""
    out = []
    for r in session.execute(q):
        row = occ._row(r)
        row["escalation"] = int(r.escalation.rsplit("-", 1)[1]) if getattr(r, "escalation", None) else 0
        decorate(row, today, calendar)
        out.append(row)
    return out


def decorate(row: dict[str, Any], today: dt.date, calendar: WorkCalendar | None) -> dict[str, Any]:
    due = dt.date.fromisoformat(row["due"])
    days = (today - due).days
    row["plan_short"] = words.short_title(row["plan_title"] or "")
    row["clause_words"] = words.clause_label(row["clause"])
    row["period_words"] = words.period_label(row["period"])
    row["status_words"] = words.status_name(row["status"])
    row["days_late"] = days if row["status"] == "overdue" else 0
    row["workdays_late"] = _workdays(calendar, due, today) if row["status"] == "overdue" else 0
    row["late_words"] = words.late_words(row["workdays_late"], days) if row["status"] == "overdue" else ""
    return row


def _workdays(calendar: WorkCalendar | None, due: dt.date, today: dt.date) -> int:
    """Working days late (after the due day, up to today); the few distinct due dates of a list
    are counted once (the cache holds the calendar, so its identity is never reused)."""
    return (today - due).days if calendar is None else _counted(calendar, due, today)


@functools.lru_cache(maxsize=8192)
def _counted(calendar: WorkCalendar, due: dt.date, today: dt.date) -> int:
    return calendar.workdays_between(due, today)


def export_columns(*, overdue: bool = False) -> list[listing.Column]:
    cols = [listing.Column("状态", "status_words"), listing.Column("截止日期", "due", "date"),
            listing.Column("事项", "what", width=40), listing.Column("计划", "plan_title", width=30),
            listing.Column("条款", "clause_words", width=14), listing.Column("条款标题", "clause_title", width=30),
            listing.Column("地区", "jurisdiction"), listing.Column("责任部门", "assignee_name"),
            listing.Column("服务对象", "case"), listing.Column("期间", "period_words", width=14),
            listing.Column("已办次数", "done", "int"), listing.Column("应办次数", "required", "int"),
            listing.Column("办结日期", "completed_on", "date"), listing.Column("原截止日期", "original_due", "date"),
            listing.Column("逾期工作日", lambda r: r["workdays_late"] or None, "int"),
            listing.Column("逾期天数", lambda r: r["days_late"] or None, "int")]
    if overdue:
        cols.append(listing.Column("督办级别", lambda r: f"{words.numeral(r['escalation'])}级督办"
                                   if r["escalation"] else None))
    return cols


def export_rows(session: Session, q, *, today: dt.date, calendar: WorkCalendar | None):
    """Every filtered row, streamed (the caller checked the total with ``listing.check_export``)."""
    for r in session.execute(q.execution_options(yield_per=1000)):
        row = occ._row(r)
        row["escalation"] = int(r.escalation.rsplit("-", 1)[1]) if getattr(r, "escalation", None) else 0
        yield decorate(row, today, calendar)

