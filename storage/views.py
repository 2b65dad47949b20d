"""The queries behind the web pages (what a page shows beside an item list or a report): the
filter choices of the dashboard, an item's notices, requests and history, the review queue."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from obligations.feedback import FeedbackPolicy, feedback_policy
from obligations.words import NOTICE_KIND_NAMES, OUTBOX_STATUS_NAMES, clause_label, short_title, stage_name
from storage.access import Principal, jurisdiction_filter, occurrence_filter
from storage.audit import people_words
from storage.tables import (
    AuditEntry,
    Case,
    Clause,
    Completion,
    Contact,
    Department,
    HandReminder,
    ItemRequest,
    Jurisdiction,
    Notice,
    Obligation,
    Occurrence,
    Outbox,
    Plan,
    UserAccount,
)


def plan_choices(session: Session, p: Principal | None = None) -> list:
    """(id, title) of every plan; with ``p``, of the plans with items ``p`` may see (a county's
    coordinator is not offered another province's plan)."""
    q = select(Plan.id, Plan.title).order_by(Plan.id)
    if p is not None:
        q = q.where(select(Occurrence.id).where(Occurrence.plan_id == Plan.id, occurrence_filter(p)).exists())
    return session.execute(q).all()


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
        **_unit_choices(session, p),
    }


UNIT_CHOICES = 500
_LEVELS = ("province", "city", "county", "township")


def _unit_choices(session: Session, p: Principal) -> dict:
    """The units of ``p``'s area for a filter's list, the higher levels first (so that every city
    and county is offered even when a province has thousands of townships), at most
    ``UNIT_CHOICES``; ``units_cut`` says when more were left out (the page says so)."""
    rank = sa.case({lv: i for i, lv in enumerate(_LEVELS)}, value=Jurisdiction.level)
    rows = session.execute(select(Jurisdiction.name, Jurisdiction.code).where(jurisdiction_filter(p))
                           .where(Jurisdiction.level.in_(_LEVELS))
                           .order_by(rank, Jurisdiction.path).limit(UNIT_CHOICES + 1)).all()
    return {"units": rows[:UNIT_CHOICES], "units_cut": len(rows) > UNIT_CHOICES}


def item_history(session: Session, occurrence_id: int, completions: list[dict] | None = None) -> dict:
    """What the item page shows beside the item: the clause's text, who owes it (the contact
    person and phone from the directory), its requests, and the history as one timeline, newest
    first: completions (and their returns), requests and decisions, the coordinator's waiver,
    extension, acceptance and hand reminders, and the automatic notices grouped by kind
    (逾期催办 ×12, last on …) rather than one row each. ``completions`` are the item's as
    ``occurrences.occurrence_detail`` gives them."""
    o = session.get(Occurrence, occurrence_id)
    clause = session.execute(
        select(Clause.code, Clause.title, Clause.text, Clause.section, Plan.title.label("plan_title"))
        .join(Obligation, Obligation.clause_id == Clause.id).join(Plan, Plan.id == Clause.plan_id)
        .where(Obligation.id == o.obligation_id)).first()
    owner = session.execute(
        select(Contact.name, Contact.person, Contact.title, Contact.mobile, Contact.email)
        .where(Contact.jurisdiction_id == o.jurisdiction_id, Contact.department_key == o.party_key)
        .order_by(Contact.id).limit(1)).first()
    requests = session.scalars(select(ItemRequest).where(ItemRequest.occurrence_id == occurrence_id)
                               .order_by(ItemRequest.id)).all()
    groups = notice_groups(session, occurrence_id)
    urges = urges_of(session, occurrence_id)
    return {"requests": requests, "notice_groups": groups, "owner": owner, "urges": urges,
            "urge_names": people_words(session, {u.actor for u in urges}), "clause_info": clause,
            "timeline": _timeline(session, occurrence_id, completions or [], requests, groups)}


def urges_of(session: Session, occurrence_id: int) -> list:
    """An item's hand reminders (催办), oldest first: when, who, the note, its stage and whether
    its message went out."""
    return session.execute(
        select(HandReminder.at, HandReminder.actor, HandReminder.note, Notice.stage, Outbox.status)
        .join(Notice, Notice.id == HandReminder.notice_id).outerjoin(Outbox, Outbox.id == HandReminder.outbox_id)
        .where(HandReminder.occurrence_id == occurrence_id).order_by(HandReminder.id)).all()


_NOTICE_ORDER = {"remind": 0, "due": 1, "overdue": 2, "escalate": 3, "urge": 4, "return": 5}


def notice_groups(session: Session, occurrence_id: int) -> list[dict]:
    """An item's notices by kind (one GROUP BY, however many were sent): the kind's name, how
    many, the first and the last day, and the most working days late among them."""
    rows = session.execute(
        select(Notice.kind, func.count(), func.min(Notice.swept_on), func.max(Notice.swept_on),
               func.max(Notice.workdays))
        .where(Notice.occurrence_id == occurrence_id).group_by(Notice.kind)).all()
    out = [{"kind": kind, "name": NOTICE_KIND_NAMES.get(kind, "通知"), "count": n, "first": _day(first),
            "last": _day(last), "workdays": late} for kind, n, first, last, late in rows]
    return sorted(out, key=lambda g: _NOTICE_ORDER.get(g["kind"], 9))


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _at(value) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _timeline(session: Session, occurrence_id: int, completions: list[dict], requests: list, groups: list) -> list:
    """Events: {"at" (aware datetime) or None with "day", "kind" (a css word), "title", "text",
    "actor", "completion" (its id when it has evidence)}; newest first."""
    events: list[dict] = []

    def add(at, kind, title, text="", actor="", day=None, completion=None):
        events.append({"at": _at(at) if at is not None else None, "day": day or _at(at).date(), "kind": kind,
                       "title": title, "text": text or "", "actor": actor or "", "completion": completion})

    for c in completions:
        title = f"登记办理 {c['count']} 次（办理日期 {c['done_on']}）"
        if c["flagged"]:
            title += f"，补登待核，按登记日期 {c['judged_on']} 判定"
        add(c["recorded_at"], "complete", title, c["note"], c["actor"],
            completion=c["id"] if c["evidence"] else None)
        if c["returned_at"]:
            add(c["returned_at"], "return", "退回重办", f"退回理由：{c['return_reason']}", c["returned_by"])
    kinds = {"waiver": "豁免", "extension": "延期"}
    for r in requests:
        what = f"申请{kinds.get(r.kind, '')}" + (f"至 {r.new_due}" if r.new_due else "")
        add(r.requested_at, "request", what, f"理由：{r.reason}", r.requested_by)
        if r.decided_at is not None:
            verdict = "批准" if r.status == "approved" else "驳回"
            add(r.decided_at, "decision" if r.status == "approved" else "return", f"{verdict}{kinds.get(r.kind, '')}申请",
                f"审核意见：{r.decision_note}" if r.decision_note else "", r.decided_by)
    for e in session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "occurrence", AuditEntry.object_id == str(occurrence_id),
            AuditEntry.action.in_(("waive", "extend", "accept"))).order_by(AuditEntry.id)):
        after, before = e.after or {}, e.before or {}
        if e.action == "waive":
            add(e.at, "waive", "豁免", f"理由：{after.get('reason') or ''}", e.actor)
        elif e.action == "extend":
            add(e.at, "decision", f"延期：截止日期 {before.get('due', '')} → {after.get('due', '')}",
                f"理由：{after.get('reason') or ''}", e.actor)
        else:
            add(e.at, "decision", "审核通过", f"审核意见：{after['note']}" if after.get("note") else "", e.actor)
    for h in urges_of(session, occurrence_id):
        sent = OUTBOX_STATUS_NAMES.get(h.status or "", "")
        text = "；".join(x for x in (f"催办说明：{h.note}" if h.note else "", f"通知{sent}" if sent else "") if x)
        add(h.at, "urge", stage_name(h.stage), text, h.actor)
    for g in groups:
        if g["kind"] in ("urge", "return"):   # shown above, one row each with who and why
            continue
        title = f"{g['name']} ×{g['count']}" if g["count"] > 1 else g["name"]
        text = f"最近一次 {g['last']}" + (f"，首次 {g['first']}" if g["count"] > 1 else "")
        add(None, g["kind"], title, text, "督办系统（自动通知）", day=g["last"])
    named = people_words(session, {e["actor"] for e in events if e["actor"] != "督办系统（自动通知）"})
    for e in events:
        e["actor"] = named.get(e["actor"], e["actor"])
    # dated notices sort as the end of their day; everything else by its time
    end = dt.time(23, 59, 59)
    events.sort(key=lambda e: e["at"] or dt.datetime.combine(e["day"], end, dt.timezone.utc), reverse=True)
    return events


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


def feedback_asked(session: Session, item: Occurrence, default: FeedbackPolicy) -> FeedbackPolicy | None:
    """The feedback policy of an item that is asked for progress reports (进度反馈: a long item
    under the policy its plan and catalog entry give it, obligations.feedback), else None."""
    docs = session.execute(select(Plan.doc, Obligation.doc).join(Obligation, Obligation.plan_id == Plan.id)
                           .where(Obligation.id == item.obligation_id)).first()
    policy = feedback_policy(default, *(docs or (None, None)))
    return policy if policy.long_enough(period_start=item.period_start, due=item.due) else None


def visible_item(session: Session, p: Principal, occurrence_id: int) -> Occurrence | None:
    return session.scalar(select(Occurrence).where(Occurrence.id == occurrence_id, occurrence_filter(p)))


def completion_of(session: Session, occurrence_id: int, completion_id: int) -> Completion | None:
    c = session.get(Completion, completion_id)
    return c if c is not None and c.occurrence_id == occurrence_id else None


REQUEST_QUEUE_LIMIT = 500


def _request_query(p: Principal, show: str):
    q = (select(ItemRequest.id).join(Occurrence, Occurrence.id == ItemRequest.occurrence_id)
         .where(occurrence_filter(p)))
    return q.where(ItemRequest.status == "pending") if show == "pending" else q


REQUEST_SORTS = ("requested", "due", "unit")


def _request_rows(p: Principal, *, today: dt.date, soon_days: int, show: str, search=None):
    """The select behind the requests list: each request with its item's title, plan, clause,
    unit, department, due date and status; ``search`` an extra condition on those tables (the
    page's search words)."""
    from storage.occurrences import status_sql

    q = (select(ItemRequest, Occurrence.due, Jurisdiction.name.label("unit"), Department.name.label("department"),
                Obligation.what, Clause.code.label("clause"), Clause.title.label("clause_title"),
                Plan.title.label("plan_title"), status_sql(today, soon_days).label("status"))
         .join(Occurrence, Occurrence.id == ItemRequest.occurrence_id)
         .join(Obligation, Obligation.id == Occurrence.obligation_id)
         .join(Clause, Clause.id == Obligation.clause_id)
         .join(Plan, Plan.id == Occurrence.plan_id)
         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
         .join(Department, Department.key == Occurrence.party_key)
         .outerjoin(Case, Case.id == Occurrence.case_id)
         .where(occurrence_filter(p)))
    if show == "pending":
        q = q.where(ItemRequest.status == "pending")
    return q.where(search) if search is not None else q


def request_queue(session: Session, p: Principal, *, today: dt.date, soon_days: int = 7, show: str = "pending",
                  limit: int | None = REQUEST_QUEUE_LIMIT, offset: int = 0, search=None, sort: str = "requested",
                  desc: bool = True) -> list:
    """Waiver and extension requests on items ``p`` may see (``show``: pending, or all with the
    pending first), newest first (or by the item's due date, or by unit), each with its item's
    title, plan, clause, unit, department, due date and status. ``limit`` None: every row."""
    q = _request_rows(p, today=today, soon_days=soon_days, show=show, search=search)
    column = {"due": (Occurrence.due,), "unit": (Jurisdiction.path, Department.name)}.get(sort, (ItemRequest.id,))
    terms = [c.desc() if desc else c.asc() for c in column]
    q = q.order_by(ItemRequest.status != "pending", *terms, ItemRequest.id.desc()).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    people = aliased(UserAccount), aliased(UserAccount)
    q = (q.add_columns(people[0].display_name.label("requester"), people[1].display_name.label("decider"))
         .outerjoin(people[0], people[0].username == ItemRequest.requested_by)
         .outerjoin(people[1], people[1].username == ItemRequest.decided_by))
    return [{"r": row[0], "due": row.due, "unit": row.unit, "department": row.department, "what": row.what,
             "clause": clause_label(row.clause) if row.clause != "assigned" else "交办任务",
             "clause_title": row.clause_title or "", "plan": short_title(row.plan_title),
             "plan_title": row.plan_title, "status": row.status,
             "requester": row.requester or row[0].requested_by, "decider": row.decider or row[0].decided_by}
            for row in session.execute(q.execution_options(yield_per=1000))]


def request_count(session: Session, p: Principal, show: str = "pending", *, search=None,
                  today: dt.date | None = None) -> int:
    if search is None:
        return session.scalar(select(func.count()).select_from(_request_query(p, show).subquery()))
    q = _request_rows(p, today=today or dt.date.today(), soon_days=7, show=show, search=search)
    return session.scalar(select(func.count()).select_from(q.with_only_columns(ItemRequest.id).subquery()))


def request_titles(session: Session, request_ids: list[int]) -> list:
    """(request id, item title, unit, department) for a confirmation naming what was decided."""
    return session.execute(
        select(ItemRequest.id, Obligation.what, Jurisdiction.name, Department.name)
        .join(Occurrence, Occurrence.id == ItemRequest.occurrence_id)
        .join(Obligation, Obligation.id == Occurrence.obligation_id)
        .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
        .join(Department, Department.key == Occurrence.party_key)
        .where(ItemRequest.id.in_(request_ids)).order_by(ItemRequest.id)).all()


def pending_counts(session: Session, principal: Principal) -> dict[str, int]:
    """For the navigation's badges: requests waiting for a decision and completions waiting for
    review (办结审核) on items ``principal`` may see; zeros for who decides neither."""
    if not principal.can_review:
        return {"requests": 0, "review": 0}
    review = session.scalar(select(func.count()).select_from(Occurrence).where(
        Occurrence.submitted_at.is_not(None), Occurrence.waived_at.is_(None),
        Occurrence.done_count >= Occurrence.required, occurrence_filter(principal)))
    return {"requests": request_count(session, principal, "pending"), "review": review or 0}


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
