"""Cadence → periods. Each period has a key (stable, sortable, unique per obligation), a start,
an end and a due date (the end, moved past rest days by the working-day calendar).

Pure: expansion depends only on the cadence, the window and the calendar. An obligation's
cadence is expanded once; the fan-out to assignees and cases happens in SQL."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

from obligations.workcal import WorkCalendar

FAR = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Period:
    key: str
    start: dt.date
    end: dt.date
    due: dt.date


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, 1) + relativedelta(months=1, days=-1)


def _windows(kind: str, months: list[int] | None, first: dt.date, until: dt.date, anchor_year: int):
    """Yield (key, start, end) calendar windows that overlap [first, until]."""
    if kind in ("semiannual", "annual") and months:
        for year in range(first.year, until.year + 1):
            for m in sorted(months):
                yield f"{year}-{m:02d}", dt.date(year, m, 1), _month_end(year, m)
        return
    if kind == "monthly":
        step, fmt = 1, lambda y, m: f"{y}-{m:02d}"
    elif kind == "quarterly":
        step, fmt = 3, lambda y, m: f"{y}-Q{(m - 1) // 3 + 1}"
    elif kind == "semiannual":
        step, fmt = 6, lambda y, m: f"{y}-H{(m - 1) // 6 + 1}"
    elif kind == "annual":
        step, fmt = 12, lambda y, m: f"{y}"
    elif kind == "biennial":
        year = anchor_year + ((first.year - anchor_year) // 2) * 2
        while dt.date(year, 1, 1) <= until:
            yield f"{year}~{year + 1}", dt.date(year, 1, 1), dt.date(year + 1, 12, 31)
            year += 2
        return
    else:
        raise ValueError(f"not a calendar cadence: {kind}")
    month = ((first.month - 1) // step) * step + 1
    cursor = dt.date(first.year, month, 1)
    while cursor <= until:
        end = cursor + relativedelta(months=step, days=-1)
        yield fmt(cursor.year, cursor.month), cursor, end
        cursor += relativedelta(months=step)


def expand(cadence: dict[str, Any], start: dt.date, until: dt.date, calendar: WorkCalendar,
           window_from: dt.date | None = None) -> list[Period]:
    """Periods of ``cadence`` that begin on or before ``until`` and end on or after the
    obligation's ``start`` (and ``window_from``, when given). ``event`` cadences have no
    periods of their own: they arise from completions (see ``event_due``)."""
    kind = cadence.get("kind")
    first = max(start, window_from) if window_from else start
    if kind == "event":
        return []
    if kind == "once":
        deadline = _as_date(cadence["deadline"])
        if start > until or (window_from and deadline < window_from):
            return []
        return [Period("once", min(start, deadline), deadline, calendar.due(deadline))]
    if kind == "rrule":
        return _expand_rrule(cadence["rrule"], start, first, until, calendar)
    out = []
    for key, pstart, pend in _windows(kind, cadence.get("months"), first, until, start.year):
        if pend < first:
            continue
        out.append(Period(key, pstart, pend, calendar.due(pend)))
    return out


def _expand_rrule(rule: str, start: dt.date, first: dt.date, until: dt.date, calendar: WorkCalendar) -> list[Period]:
    anchor = dt.datetime.combine(start, dt.time())
    recurrence = rrulestr(rule, dtstart=anchor)
    starts = [d.date() for d in recurrence.between(anchor, dt.datetime.combine(until, dt.time()), inc=True)]
    if not starts:
        return []
    following = recurrence.after(dt.datetime.combine(starts[-1], dt.time()))
    bounds = starts + [following.date() if following else FAR]
    out = []
    for pstart, nxt in zip(bounds, bounds[1:], strict=False):
        pend = nxt - dt.timedelta(days=1) if nxt != FAR else FAR
        if pend < first:
            continue
        out.append(Period(pstart.isoformat(), pstart, pend, calendar.due(pend)))
    return out


def event_due(after: dict[str, Any], completed_on: dt.date, calendar: WorkCalendar) -> dt.date:
    """Due date of an event obligation: N days (or N working days) after the completion."""
    days = int(after["days"])
    if after.get("workdays"):
        return calendar.add_workdays(completed_on, days)
    return calendar.due(completed_on + dt.timedelta(days=days))


def obligation_start(cadence: dict[str, Any], plan: dict[str, Any], default: dt.date) -> dt.date:
    """When an obligation begins: its own `start` (2025年起), else the plan's issue date, else
    1 January of the plan's year, else the configured default."""
    for value in (cadence.get("start"), plan.get("issued")):
        if value:
            return _as_date(value)
    if plan.get("year"):
        return dt.date(int(plan["year"]), 1, 1)
    return default


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
