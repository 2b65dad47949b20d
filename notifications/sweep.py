"""The sweep: one set-based pass that finds, for a day, every occurrence that enters a notice
stage (reminder, due day, overdue, escalation), writes one ``notice`` row per (occurrence,
stage) — the unique key makes a second sweep add nothing — and gathers each recipient's new
rows into that day's single digest in the outbox.

All of it is set-based SQL (SQLAlchemy Core statements) over a working-day index; Python only computes the index (a few thousand days)
and the escalation routes (one row per jurisdiction)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateTable
from sqlmodel import Session

from notifications.outbox import OutboxStatus, dead_without_address, status_sql, unrendered_pending
from obligations.feedback import FeedbackPolicy, feedback_policy
from obligations.feedback import stage as feedback_stage
from obligations.notify import NotifyPolicy
from obligations.workcal import WorkCalendar
from storage.db import refresh_statistics
from storage.tables import (
    Contact,
    Jurisdiction,
    Notice,
    Obligation,
    Occurrence,
    Outbox,
    Plan,
    ProgressReport,
    WorkdayIndex,
)


@dataclass
class SweepReport:
    day: dt.date
    notices: dict[str, int] = field(default_factory=dict)  # kind → rows added
    digests: int = 0
    without_address: int = 0

    @property
    def added(self) -> int:
        return sum(self.notices.values())


def build_workday_index(session: Session, calendar: WorkCalendar, start: dt.date, end: dt.date) -> None:
    """(Re)write the working-day index for [start, end]; differences of idx count working days."""
    session.execute(delete(WorkdayIndex))
    rows, idx, day = [], 0, start
    while day <= end:
        idx += calendar.is_workday(day)
        rows.append({"day": day, "idx": idx})
        day += dt.timedelta(days=1)
    session.execute(insert(WorkdayIndex), rows)


def update_escalation_routes(session: Session) -> int:
    """Each unit escalates to the nearest unit at or above it that has a supervisor, and then
    to the next one above that."""
    units = {r.id: r for r in session.execute(select(Jurisdiction.id, Jurisdiction.parent_id,
                                                     Jurisdiction.supervisor_email, Jurisdiction.supervisor_webhook,
                                                     Jurisdiction.supervisor_im_account, Jurisdiction.supervisor_mobile,
                                                     Jurisdiction.escalate_to_id, Jurisdiction.escalate_next_id))}

    def supervised_at_or_above(uid):
        while uid is not None:
            u = units[uid]
            if u.supervisor_email or u.supervisor_webhook or u.supervisor_im_account or u.supervisor_mobile:
                return uid
            uid = u.parent_id
        return None

    changed = []
    for uid, u in units.items():
        first = supervised_at_or_above(uid)
        second = supervised_at_or_above(units[first].parent_id) if first is not None else None
        if (u.escalate_to_id, u.escalate_next_id) != (first, second):
            changed.append({"uid": uid, "first": first, "second": second})
    if changed:
        t = Jurisdiction.__table__
        session.execute(update(t).where(t.c.id == sa.bindparam("uid"))
                        .values(escalate_to_id=sa.bindparam("first"), escalate_next_id=sa.bindparam("second")),
                        changed)
        if session.get_bind().dialect.name == "postgresql":
            # the escalation stages join the units that have a route: with statistics from before
            # the routes were set (a few hundred changed rows never wake autovacuum's ANALYZE),
            # PostgreSQL planned for one such unit and probed every overdue item once per unit
            # (province benchmark: 0.8 s for each escalation stage instead of 0.16 s)
            session.execute(sa.text("ANALYZE jurisdiction"))
    return len(changed)


def _policy_groups(session: Session, default: NotifyPolicy) -> list[tuple[NotifyPolicy, list[int] | None, list[int]]]:
    """[(policy, only these obligation ids | None for "all others", excluded ids)]."""
    overrides: dict[NotifyPolicy, list[int]] = defaultdict(list)
    for oid, doc in session.execute(select(Obligation.id, Obligation.doc).where(Obligation.active)):
        if doc.get("notify"):
            overrides[default.merged(doc["notify"])].append(oid)
    special = [oid for ids in overrides.values() for oid in ids]
    return [(default, None, special)] + [(p, ids, []) for p, ids in overrides.items()]


def sweep(engine: Engine, calendar: WorkCalendar, policy: NotifyPolicy, today: dt.date, *,
          send_time: dt.time, timezone: str, feedback: FeedbackPolicy | None = None) -> SweepReport:
    """``feedback``: the feedback days (config ``notify.feedback``; default obligations.feedback's)."""
    report = SweepReport(today)
    with Session(engine) as session, session.begin():
        lowest = session.scalar(select(func.min(Occurrence.due)).where(Occurrence.done_count < Occurrence.required,
                                                                       Occurrence.waived_at.is_(None)))
        horizon = max(policy.reminders + (1,)) * 3 + 30
        build_workday_index(session, calendar, min(lowest or today, today) - dt.timedelta(days=7),
                            today + dt.timedelta(days=horizon))
        update_escalation_routes(session)
        tidx = session.scalar(select(WorkdayIndex.idx).where(WorkdayIndex.day == today))
        _staging(session)
        for group_policy, only, excluded in _policy_groups(session, policy):
            _stage_rows(session, group_policy, only, excluded, today, tidx)
        _stage_feedback(session, feedback or FeedbackPolicy(), today)
        _stage_confirmations(session, policy, today, tidx)
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("ANALYZE sweep_stage"))    # temporary tables get no autovacuum
        send_at = dt.datetime.combine(today, send_time, ZoneInfo(timezone)).astimezone(dt.UTC)
        report.digests, report.without_address, report.notices = _digests(session, today, send_at)
        _own_digest_times(session, today, timezone)
        refresh_statistics(session.connection(), ("notice", "outbox"), report.added)
    return report


def _own_digest_times(session: Session, today: dt.date, timezone: str) -> None:
    """The day's new digests of people who chose their own digest time (通知时间) go out then:
    one UPDATE per distinct time chosen (a handful), not one per person."""
    ob, c, j = Outbox.__table__, Contact.__table__, Jurisdiction.__table__
    stamp = ob.c.next_attempt_at.type
    for kind, rid, column in (("contact", c.c.id, c.c.digest_time), ("supervisor", j.c.id, j.c.supervisor_digest_time)):
        for (chosen,) in session.execute(sa.select(column).where(column.is_not(None)).distinct()).all():
            at = dt.datetime.combine(today, dt.time.fromisoformat(chosen), ZoneInfo(timezone)).astimezone(dt.UTC)
            session.execute(sa.update(ob).where(ob.c.day == sa.bindparam("today", today, type_=sa.Date),
                                                ob.c.recipient_kind == _inline(kind), unrendered_pending(ob),
                                                ob.c.recipient_id.in_(sa.select(rid).where(column == chosen)))
                            .values(next_attempt_at=sa.bindparam("at", at, type_=stamp)))


def _inline(value) -> sa.BindParameter:
    """A constant of the statement (a stage name, a kind, a window's bound) rendered inline as
    a literal, as the hand-written SQL had it; values of the run (the day, its index) are bound."""
    return sa.literal(value, literal_execute=True)


def _group_filter(o: sa.FromClause, only: list[int] | None, excluded: list[int]) -> tuple[sa.ColumnElement, ...]:
    if only is not None:
        return (o.c.obligation_id.in_(sa.bindparam("only", only, expanding=True)),)
    if excluded:
        return (o.c.obligation_id.not_in(sa.bindparam("excluded", excluded, expanding=True)),)
    return ()


KINDS = ("remind", "due", "overdue", "escalate", "feedback")

# The day's new notice rows, before they are written to ``notice`` (see _staging). A temporary
# table: in its own MetaData, never part of the schema or its migrations.
STAGE = sa.Table(
    "sweep_stage", sa.MetaData(),
    sa.Column("occurrence_id", sa.BigInteger, nullable=False),
    sa.Column("stage", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(12), nullable=False),
    sa.Column("swept_on", sa.Date, nullable=False),
    sa.Column("workdays", sa.Integer, nullable=False),
    sa.Column("recipient_kind", sa.String(10), nullable=False),
    sa.Column("recipient_id", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
STAGE_COLS = [c.name for c in STAGE.c]


def _dialect_insert(session: Session, table: sa.Table):
    """INSERT for the session's database, with its ON CONFLICT DO NOTHING."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _staging(session: Session) -> None:
    """The day's new notice rows are gathered in a temporary table first, so that each is
    written to ``notice`` once, already attached to its digest (on PostgreSQL an UPDATE of every
    new row afterwards doubled the sweep's writes and foreign-key checks)."""
    session.execute(CreateTable(STAGE, if_not_exists=True))
    session.execute(sa.delete(STAGE))


def _stage_rows(session: Session, policy: NotifyPolicy, only, excluded, today: dt.date, tidx: int) -> None:
    o = Occurrence.__table__.alias("o")
    wd = WorkdayIndex.__table__.alias("wd")
    c = Contact.__table__.alias("c")
    j = Jurisdiction.__table__.alias("j")
    group = _group_filter(o, only, excluded)
    day = sa.bindparam("today", today, type_=sa.Date)
    t = sa.bindparam("tidx", tidx, type_=sa.Integer)
    owed = (o.c.waived_at.is_(None), o.c.done_count < o.c.required)   # the partial index ix_occurrence_open
    dated = o.join(wd, wd.c.day == o.c.due)
    to_assignee = dated.join(c, sa.and_(c.c.jurisdiction_id == o.c.jurisdiction_id, c.c.department_key == o.c.party_key))

    def run(rows: sa.Select) -> None:
        session.execute(sa.insert(STAGE).from_select(STAGE_COLS, rows))

    def assignee(stage, kind: str, workdays) -> sa.Select:
        return (sa.select(o.c.id, stage, _inline(kind), day, workdays, _inline("contact"), c.c.id)
                .select_from(to_assignee).where(*owed))

    for stage, lo, hi in policy.reminder_windows():
        until = sa.bindparam("until", today + dt.timedelta(days=hi * 3 + 14), type_=sa.Date)
        run(assignee(_inline(stage), "remind", wd.c.idx - t)
            .where(o.c.due > day, o.c.due <= until, wd.c.idx - t > _inline(lo), wd.c.idx - t <= _inline(hi), *group))
    if policy.on_due_day:
        run(assignee(_inline("due"), "due", _inline(0)).where(o.c.due == day, *group))
    every = max(policy.overdue_every, 1)
    one = _inline(1)
    overdue_stage = _inline("overdue-") + sa.cast(one + (t - wd.c.idx - one) // _inline(every), sa.String(8))
    # an overdue item's stage moves every few working days, so most days most of them have
    # their notice already: those are left out here rather than refused one by one at the insert
    written = Notice.__table__.alias("written")
    run(assignee(overdue_stage, "overdue", t - wd.c.idx)
        .where(o.c.due < day, t - wd.c.idx >= one, *group,
               ~sa.select(_inline(1)).where(written.c.occurrence_id == o.c.id, written.c.stage == overdue_stage)
               .exists()))
    for i, after in enumerate(sorted(policy.escalate_after)[:2]):
        route = j.c.escalate_to_id if i == 0 else j.c.escalate_next_id
        run(sa.select(o.c.id, _inline(f"escalate-{i + 1}"), _inline("escalate"), day, t - wd.c.idx,
                      _inline("supervisor"), route)
            .select_from(dated.join(j, j.c.id == o.c.jurisdiction_id))
            .where(*owed, route.is_not(None), o.c.due < day, t - wd.c.idx >= _inline(after), *group))


# the longest period of a cadence kind, in days: obligations whose periods are all shorter than a
# policy's min_period_days never ask for feedback and are left out of its statement altogether
LONGEST = {"monthly": 31, "quarterly": 92}


def _feedback_groups(session: Session, default: FeedbackPolicy) -> list[tuple[FeedbackPolicy, list[int]]]:
    """[(feedback policy, its obligation ids)]: each active obligation under the policy its plan
    and catalog entry give it (obligations.feedback.feedback_policy), leaving out those that are
    off and those whose cadence has no period long enough (a month, a quarter). The statement
    then reads only the candidates' items through the occurrence key (obligation first)."""
    groups: dict[FeedbackPolicy, list[int]] = defaultdict(list)
    rows = session.execute(select(Obligation.id, Obligation.cadence_kind, Obligation.doc, Plan.doc)
                           .join(Plan, Plan.id == Obligation.plan_id).where(Obligation.active))
    for oid, kind, odoc, pdoc in rows:
        policy = feedback_policy(default, pdoc, odoc)
        if policy.enabled and LONGEST.get(kind, 10**6) >= policy.min_period_days:
            groups[policy].append(oid)
    return list(groups.items())


def _days_between(session: Session, start, end):
    """Whole days from ``start`` to ``end`` (two date columns) in the session's SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return end - start
    return func.julianday(end) - func.julianday(start)


def _stage_feedback(session: Session, default: FeedbackPolicy, today: dt.date) -> None:
    """Feedback reminders (进度反馈提醒, obligations.feedback): on the first sweep on or after a
    feedback day, each open long item whose period began by the feedback day before it, whose due
    date is not close, that has had no progress report since that earlier feedback day and no
    reminder for this feedback day yet. One INSERT … SELECT per policy group; nothing on the
    days between (no feedback day within the catch-up days)."""
    o = Occurrence.__table__.alias("o")
    c = Contact.__table__.alias("c")
    r, n = ProgressReport.__table__.alias("r"), Notice.__table__.alias("n")
    from obligations.feedback import QUIET_BEFORE_DUE

    for policy, only in _feedback_groups(session, default):
        window = policy.window(today)
        if window is None:
            continue
        day, before = window
        stage = _inline(feedback_stage(day))
        since = sa.bindparam("since", before, type_=sa.Date)
        rows = (sa.select(o.c.id, stage, _inline("feedback"), sa.bindparam("today", today, type_=sa.Date),
                          _inline(0), _inline("contact"), c.c.id)
                .select_from(o.join(c, sa.and_(c.c.jurisdiction_id == o.c.jurisdiction_id,
                                               c.c.department_key == o.c.party_key)))
                .where(o.c.waived_at.is_(None), o.c.done_count < o.c.required,   # ix_occurrence_open
                       o.c.due > sa.bindparam("after", day + dt.timedelta(days=QUIET_BEFORE_DUE), type_=sa.Date),
                       o.c.period_start <= since,
                       _days_between(session, o.c.period_start, o.c.due) >= _inline(policy.min_period_days),
                       *_group_filter(o, only, []),
                       ~sa.select(_inline(1)).where(r.c.occurrence_id == o.c.id, r.c.reported_on > since).exists(),
                       ~sa.select(_inline(1)).where(n.c.occurrence_id == o.c.id, n.c.stage == stage).exists()))
        session.execute(sa.insert(STAGE).from_select(STAGE_COLS, rows))


def _digests(session: Session, today: dt.date, send_at: dt.datetime) -> tuple[int, int, dict[str, int]]:
    """One outbox row per recipient for the day, holding every notice row not yet in a digest;
    the staged rows are written to ``notice`` here. A recipient whose digest for today already
    went out gets the rest tomorrow. Returns (digests created, without address, rows added by kind)."""
    ob, notice, s = Outbox.__table__, Notice.__table__, STAGE.alias("s")
    x, n = ob.alias("x"), notice.alias("n")
    day = sa.bindparam("today", today, type_=sa.Date)
    stamp = ob.c.next_attempt_at.type
    before = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.day == today)) or 0

    def waiting(kind: str) -> sa.CompoundSelect:
        """Recipients of the new rows that are not notified yet, and of rows an earlier sweep
        left waiting (their digest for that day had already gone out)."""
        new = sa.select(s.c.recipient_id).where(
            s.c.recipient_kind == _inline(kind),
            ~sa.select(_inline(1)).where(n.c.occurrence_id == s.c.occurrence_id, n.c.stage == s.c.stage).exists())
        left = sa.select(notice.c.recipient_id).where(notice.c.recipient_kind == _inline(kind),
                                                      notice.c.digest_id.is_(None))    # ix_notice_waiting
        return sa.union(new, left)

    def channel(email, hook, im, mobile) -> sa.Case:
        """The first channel the recipient can be reached on; delivery fixes the whole route
        (the person's own order, notifications.routing) when it renders the digest."""
        return sa.case((email.is_not(None), _inline("email")),
                       (hook.like(_inline("%/cgi-bin/webhook/send%")), _inline("wecom")),
                       (hook.is_not(None), _inline("dingtalk")),
                       (im.is_not(None), _inline("im")), (mobile.is_not(None), _inline("sms")), else_=_inline("none"))

    def create(kind: str, rid, email, hook, name, im, mobile) -> None:
        """The digests, created pending: one per recipient and day (the key is unique)."""
        rows = (sa.select(_inline(f"digest:{kind}:") + sa.cast(rid, sa.String(20)) + _inline(":")
                          + sa.bindparam("day", today.isoformat()),
                          _inline(kind), rid, day, channel(email, hook, im, mobile),
                          func.coalesce(email, hook, im, mobile), name,
                          status_sql(OutboxStatus.PENDING), _inline(0), sa.bindparam("send_at", send_at, type_=stamp),
                          sa.bindparam("now", dt.datetime.now(dt.UTC), type_=stamp), _inline(0))
                .where(rid.in_(waiting(kind))))
        cols = ["key", "recipient_kind", "recipient_id", "day", "channel", "address", "recipient_name", "status",
                "attempts", "next_attempt_at", "created_at", "items"]
        session.execute(_dialect_insert(session, ob).from_select(cols, rows).on_conflict_do_nothing())

    c, j = Contact.__table__.alias("c"), Jurisdiction.__table__.alias("j")
    create("contact", c.c.id, c.c.email, c.c.webhook, c.c.name, c.c.im_account, c.c.mobile)
    create("supervisor", j.c.id, j.c.supervisor_email, j.c.supervisor_webhook, j.c.supervisor_name,
           j.c.supervisor_im_account, j.c.supervisor_mobile)
    # the new rows, each written once with its digest (none if that digest already went out:
    # it joins tomorrow's); of two contacts for one item and stage, the unique key keeps one
    new_rows = (sa.select(*s.c, x.c.id)
                .select_from(s.outerjoin(x, sa.and_(x.c.recipient_kind == s.c.recipient_kind,
                                                    x.c.recipient_id == s.c.recipient_id, x.c.day == day,
                                                    unrendered_pending(x))))
                .where(s.c.kind == sa.bindparam("kind")))
    write = (_dialect_insert(session, notice).from_select(STAGE_COLS + ["digest_id"], new_rows).on_conflict_do_nothing()
             .execution_options(preserve_rowcount=True))   # an INSERT's rowcount is kept only when asked
    added = {kind: session.execute(write, {"kind": kind}).rowcount or 0 for kind in KINDS}
    # rows an earlier sweep left waiting join today's digest while it is still unrendered
    open_digest = sa.and_(x.c.recipient_kind == notice.c.recipient_kind, x.c.recipient_id == notice.c.recipient_id,
                          x.c.day == day, unrendered_pending(x))
    session.execute(sa.update(notice)
                    .where(notice.c.digest_id.is_(None), sa.select(_inline(1)).where(open_digest).exists())
                    .values(digest_id=sa.select(x.c.id).where(open_digest).scalar_subquery()))
    session.execute(sa.update(ob).where(ob.c.day == day, ob.c.subject.is_(None))
                    .values(items=sa.select(func.count()).select_from(n).where(n.c.digest_id == ob.c.id)
                            .scalar_subquery()))
    # a digest made for a second contact of an item whose notice went to the first: nothing in it
    session.execute(sa.delete(ob).where(ob.c.day == day, unrendered_pending(ob), ob.c["items"] == _inline(0)))
    created = (session.scalar(select(func.count()).select_from(Outbox).where(Outbox.day == today)) or 0) - before
    dead = dead_without_address(session, today)
    return created, dead, {k: v for k, v in added.items() if v}


# ---------------------------------------------------------------- co-department confirmations (协办确认提醒)

KINDS += ("confirm",)


def confirm_stage_filter(o: sa.FromClause) -> sa.ColumnElement:
    """The lead's item still needs the confirmation: open, or submitted and awaiting review (an
    item accepted without it needs it no more)."""
    return sa.and_(o.c.waived_at.is_(None), sa.or_(o.c.done_count < o.c.required, o.c.submitted_at.is_not(None)))


def _stage_confirmations(session: Session, policy: NotifyPolicy, today: dt.date, tidx: int) -> None:
    """A co-department whose confirmation (协办确认) on a lead's item is still pending when the
    item comes within the first reminder window (``notify.reminders``' largest, working days
    before the due date) gets one notice (stage ``confirm-<contact id>``, kind ``confirm``) in
    its digest. One INSERT … SELECT over the pending rows (ix_co_confirmation_party's table is
    small: one row per co-department of a lead item)."""
    from storage.tables import CoConfirmation

    window = max(policy.reminders or (1,))
    o = Occurrence.__table__.alias("o")
    wd = WorkdayIndex.__table__.alias("wd")
    c = Contact.__table__.alias("c")
    cc = CoConfirmation.__table__.alias("cc")
    day = sa.bindparam("today", today, type_=sa.Date)
    t = sa.bindparam("tidx", tidx, type_=sa.Integer)
    until = sa.bindparam("until", today + dt.timedelta(days=window * 3 + 14), type_=sa.Date)
    # the pending confirmations first, as a set of their own: joined directly, PostgreSQL's
    # planner may walk every item by primary key towards the few pending ids (a merge join
    # it expects to stop early; province benchmark: 0.36 s for nothing found)
    pending = (sa.select(cc.c.occurrence_id, cc.c.party_key).where(cc.c.confirmed_at.is_(None))
               .cte("unconfirmed").prefix_with("MATERIALIZED", dialect="postgresql"))
    rows = (sa.select(o.c.id, _inline("confirm-") + sa.cast(c.c.id, sa.String(8)), _inline("confirm"), day,
                      wd.c.idx - t, _inline("contact"), c.c.id)
            .select_from(pending.join(o, o.c.id == pending.c.occurrence_id).join(wd, wd.c.day == o.c.due)
                         .join(c, sa.and_(c.c.jurisdiction_id == o.c.jurisdiction_id,
                                          c.c.department_key == pending.c.party_key)))
            .where(confirm_stage_filter(o), o.c.due >= day, o.c.due <= until,
                   wd.c.idx - t <= _inline(window)))
    session.execute(sa.insert(STAGE).from_select(STAGE_COLS, rows))
