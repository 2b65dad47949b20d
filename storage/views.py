"""The queries behind the web pages (what a page shows beside an item list or a report): the
filter choices of the dashboard, an item's notices, requests and history, the review queue."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session

from storage import audit
from storage.access import Principal, jurisdiction_filter, occurrence_filter
from storage.tables import (
    Clause,
    Completion,
    Department,
    ItemRequest,
    Jurisdiction,
    Notice,
    Obligation,
    Occurrence,
    Plan,
    UserAccount,
)


def plan_choices(session: Session) -> list:
    return session.execute(select(Plan.id, Plan.title).order_by(Plan.id)).all()


def plan_rows(session: Session) -> list:
    return session.execute(select(Plan.id, Plan.title, Plan.issuer, Plan.locality, Plan.level, Plan.issued)
                           .order_by(Plan.id)).all()


def department_rows(session: Session) -> list:
    return session.execute(select(Department.key, Department.name).order_by(Department.key)).all()


def dashboard_choices(session: Session, p: Principal, plan: str | None) -> dict:
    """The options of the dashboard's filters: plans, the chosen plan's clauses, departments,
    and the units ``p`` may look at (down to townships)."""
    return {
        "plans": plan_choices(session),
        "clauses": session.execute(select(Clause.code, Clause.title).where(Clause.plan_id == plan, Clause.active)
                                   .order_by(Clause.position)).all() if plan else [],
        "departments": department_rows(session),
        "units": session.execute(select(Jurisdiction.name, Jurisdiction.code).where(jurisdiction_filter(p))
                                 .where(Jurisdiction.level.in_(("province", "city", "county", "township")))
                                 .order_by(Jurisdiction.path).limit(500)).all(),
    }


def item_history(session: Session, occurrence_id: int) -> dict:
    """What the item page shows below the item: its notices, requests and audit history."""
    return {
        "notices": session.execute(select(Notice.stage, Notice.kind, Notice.swept_on, Notice.workdays)
                                   .where(Notice.occurrence_id == occurrence_id).order_by(Notice.id)).all(),
        "requests": session.scalars(select(ItemRequest).where(ItemRequest.occurrence_id == occurrence_id)
                                    .order_by(ItemRequest.id)).all(),
        "history": audit.entries(session, object_type="occurrence", object_id=str(occurrence_id), limit=50),
    }


def flagged_completions(session: Session, p: Principal, *, start=None, end=None, limit: int = 100) -> list:
    """Completions entered more than the grace after their claimed day (补登待核) on items ``p``
    may see, due within [start, end], newest first (the partial index ix_completion_flagged)."""
    q = (select(Completion.id, Completion.occurrence_id, Completion.done_on, Completion.judged_on,
                Completion.recorded_at, Completion.actor, Completion.channel, Occurrence.due, Obligation.what,
                Jurisdiction.name.label("unit"), Department.name.label("department"))
         .join(Occurrence, Occurrence.id == Completion.occurrence_id)
         .join(Obligation, Obligation.id == Occurrence.obligation_id)
         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
         .join(Department, Department.key == Occurrence.party_key)
         .where(Completion.flagged, occurrence_filter(p)))
    if start is not None:
        q = q.where(Occurrence.due >= start)
    if end is not None:
        q = q.where(Occurrence.due <= end)
    return session.execute(q.order_by(Completion.id.desc()).limit(limit)).all()


def visible_item(session: Session, p: Principal, occurrence_id: int) -> Occurrence | None:
    return session.scalar(select(Occurrence).where(Occurrence.id == occurrence_id, occurrence_filter(p)))


def completion_of(session: Session, occurrence_id: int, completion_id: int) -> Completion | None:
    c = session.get(Completion, completion_id)
    return c if c is not None and c.occurrence_id == occurrence_id else None


def request_queue(session: Session, p: Principal, limit: int = 200) -> list:
    """Waiver and extension requests on items ``p`` may see, pending first."""
    return session.execute(
        select(ItemRequest, Occurrence.due, Jurisdiction.name, Department.name)
        .join(Occurrence, Occurrence.id == ItemRequest.occurrence_id)
        .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
        .join(Department, Department.key == Occurrence.party_key)
        .where(occurrence_filter(p)).order_by(ItemRequest.status != "pending", ItemRequest.id.desc())
        .limit(limit)).all()


def user_by_name(session: Session, username: str) -> UserAccount | None:
    return session.scalar(select(UserAccount).where(UserAccount.username == username))


# ---------------------------------------------------------------- co-departments (协办确认)

def confirmations_of(session: Session, occurrence_id: int) -> list:
    """The co-departments of an item (``co_departments: confirm``) and where each stands:
    rows of (party_key, name, confirmed_at, confirmed_by, note), in catalog order."""
    from storage.tables import CoConfirmation

    return session.execute(
        select(CoConfirmation.party_key, Department.name, CoConfirmation.confirmed_at, CoConfirmation.confirmed_by,
               CoConfirmation.note)
        .join(Department, Department.key == CoConfirmation.party_key)
        .where(CoConfirmation.occurrence_id == occurrence_id).order_by(CoConfirmation.id)).all()


def awaiting_confirmation(session: Session, p: Principal, *, limit: int = 200) -> list:
    """For a department's inbox: the lead departments' items at its unit on which it is a
    co-department and has not confirmed yet (not waived), soonest due first: rows of
    (occurrence_id, due, what, plan title, clause code, lead department name, done, required,
    submitted_at). Empty for anyone but a department account. Uses ix_co_confirmation_party."""
    from storage.access import co_department_filter
    from storage.tables import CoConfirmation

    if p.role != "department":
        return []
    return session.execute(
        select(Occurrence.id.label("occurrence_id"), Occurrence.due, Obligation.what, Plan.title.label("plan"),
               Clause.code.label("clause"), Department.name.label("lead"), Occurrence.done_count,
               Occurrence.required, Occurrence.submitted_at)
        .join(CoConfirmation, sa.and_(CoConfirmation.occurrence_id == Occurrence.id,
                                      CoConfirmation.party_key == p.department_key,
                                      CoConfirmation.confirmed_at.is_(None)))
        .join(Obligation, Obligation.id == Occurrence.obligation_id)
        .join(Clause, Clause.id == Obligation.clause_id)
        .join(Plan, Plan.id == Occurrence.plan_id)
        .join(Department, Department.key == Occurrence.party_key)
        .where(co_department_filter(p), Occurrence.waived_at.is_(None))
        .order_by(Occurrence.due, Occurrence.id).limit(limit)).all()
