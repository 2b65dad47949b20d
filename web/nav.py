"""What the navigation shows beside its links: a department's (or a director's) count of open
items, one SQL count per page, read by ``base.html`` through the ``todo_count`` global."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlmodel import Session

from storage.access import Principal, occurrence_filter
from storage.occurrences import status_sql
from storage.tables import Occurrence

OPEN = ("overdue", "due_soon", "open")


def open_counts(session: Session, p: Principal, today: dt.date, soon_days: int) -> tuple[int, int]:
    """(open items, of which overdue) that ``p`` owes, in one query."""
    st = status_sql(today, soon_days)
    q = (select(func.count().filter(st.in_(OPEN)), func.count().filter(st == "overdue"))
         .select_from(Occurrence).where(occurrence_filter(p), Occurrence.waived_at.is_(None),
                                        Occurrence.done_count < Occurrence.required))
    total, overdue = session.execute(q).one()
    return int(total or 0), int(overdue or 0)


def todo_count(request, user: Principal | None) -> tuple[int, int] | None:
    """The badge's numbers for a department or a director (None for coordinators and
    supervisors, whose 待办 is their whole area, and when signed out)."""
    if user is None or user.sees_area or not user.can_complete:
        return None
    state = request.app.state
    with page_session(request) as session:
        return open_counts(session, user, state.today(), state.settings.due_soon_days)


def pending_counts(request, user: Principal | None) -> dict[str, int] | None:
    """The badges beside 办结审核 and 申请审核: what waits for this coordinator's decision (None
    for who decides neither, and when signed out)."""
    if user is None or not user.can_review:
        return None
    from storage.views import pending_counts as counts

    with page_session(request) as session:
        return counts(session, user)


@contextmanager
def page_session(request) -> Iterator[Session]:
    """The page's own session (one pool connection per request, however many counts its template
    shows), or a short one of its own when the page has none (an error page)."""
    own = getattr(request.state, "session", None)
    if own is not None:
        yield own
        return
    with Session(request.app.state.engine) as session:
        yield session
