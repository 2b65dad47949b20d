"""The status of an occurrence: one pure function of the occurrence's numbers, its completions,
today and the due-soon window. The SQL listings use ``storage.occurrences.status_sql``, which
mirrors this rule; a test checks that the two agree.

An item whose completions reached the required count and that awaits a coordinator's review is
``submitted`` (待审核) whatever the day: it was handed in, so it is not overdue while it waits;
accepted it is done or done late by its judged completion day, returned it is open again."""
from __future__ import annotations

import datetime as dt

STATUSES = ("open", "due_soon", "overdue", "done", "done_late", "waived", "submitted")


def status(*, required: int, done: int, due: dt.date, completed_on: dt.date | None, waived: bool,
           today: dt.date, soon_days: int = 7, submitted: bool = False) -> str:
    if waived:
        return "waived"
    if done >= required and submitted:
        return "submitted"
    if done >= required:
        return "done" if completed_on is not None and completed_on <= due else "done_late"
    if today > due:
        return "overdue"
    if (due - today).days <= soon_days:
        return "due_soon"
    return "open"


def completed_on(required: int, completions: list[tuple[dt.date, int]]) -> dt.date | None:
    """The day the running count of completions first reached ``required``."""
    total = 0
    for day, count in sorted(completions):
        total += count
        if total >= required:
            return day
    return None
