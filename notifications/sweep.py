"""The sweep: one set-based pass that finds, for a day, every occurrence that enters a notice
stage (reminder, due day, overdue, escalation), writes one ``notice`` row per (occurrence,
stage) — the unique key makes a second sweep add nothing — and gathers each recipient's new
rows into that day's single digest in the outbox.

All of it is SQL over a working-day index; Python only computes the index (a few thousand days)
and the escalation routes (one row per jurisdiction)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from obligations.notify import NotifyPolicy
from obligations.workcal import WorkCalendar
from storage.db import refresh_statistics
from storage.tables import Jurisdiction, Obligation, Occurrence, Outbox, WorkdayIndex


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
                                                     Jurisdiction.escalate_to_id, Jurisdiction.escalate_next_id))}

    def supervised_at_or_above(uid):
        while uid is not None:
            u = units[uid]
            if u.supervisor_email or u.supervisor_webhook:
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
          send_time: dt.time, timezone: str) -> SweepReport:
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
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("ANALYZE sweep_stage"))    # temporary tables get no autovacuum
        send_at = dt.datetime.combine(today, send_time, ZoneInfo(timezone)).astimezone(dt.timezone.utc)
        report.digests, report.without_address, report.notices = _digests(session, today, send_at)
        refresh_statistics(session.connection(), ("notice", "outbox"), report.added)
    return report


def _group_filter(only: list[int] | None, excluded: list[int]) -> tuple[str, dict]:
    if only is not None:
        return "AND o.obligation_id IN :only", {"only": only}
    if excluded:
        return "AND o.obligation_id NOT IN :excluded", {"excluded": excluded}
    return "", {}


STAGE_COLS = "occurrence_id, stage, kind, swept_on, workdays, recipient_kind, recipient_id"
KINDS = ("remind", "due", "overdue", "escalate")


def _staging(session: Session) -> None:
    """The day's new notice rows are gathered in a temporary table first, so that each is
    written to ``notice`` once, already attached to its digest (on PostgreSQL an UPDATE of every
    new row afterwards doubled the sweep's writes and foreign-key checks)."""
    session.execute(sa.text(
        "CREATE TEMPORARY TABLE IF NOT EXISTS sweep_stage (occurrence_id BIGINT NOT NULL, stage VARCHAR(16) NOT NULL, "
        "kind VARCHAR(10) NOT NULL, swept_on DATE NOT NULL, workdays INTEGER NOT NULL, "
        "recipient_kind VARCHAR(10) NOT NULL, recipient_id INTEGER NOT NULL)"))
    session.execute(sa.text("DELETE FROM sweep_stage"))


def _stage_rows(session: Session, policy: NotifyPolicy, only, excluded, today: dt.date, tidx: int) -> None:
    where, extra = _group_filter(only, excluded)
    cols = f"INSERT INTO sweep_stage ({STAGE_COLS}) "
    owed = ("FROM occurrence o JOIN workday_index wd ON wd.day = o.due "
            "WHERE o.waived_at IS NULL AND o.done_count < o.required ")
    to_assignee = ("SELECT o.id, {stage}, '{kind}', :today, {workdays}, 'contact', c.id "
                   "FROM occurrence o JOIN workday_index wd ON wd.day = o.due "
                   "JOIN contact c ON c.jurisdiction_id = o.jurisdiction_id AND c.department_key = o.party_key "
                   "WHERE o.waived_at IS NULL AND o.done_count < o.required ")
    params = {"today": today, "tidx": tidx, **extra}

    def run(kind: str, sql: str, **more) -> None:
        stmt = sa.text(sql)
        for name in ("only", "excluded"):
            if name in params:
                stmt = stmt.bindparams(sa.bindparam(name, expanding=True))
        session.execute(stmt, {**params, **more})

    for stage, lo, hi in policy.reminder_windows():
        run("remind", cols + to_assignee.format(stage=f"'{stage}'", kind="remind", workdays="wd.idx - :tidx")
            + f"AND o.due > :today AND o.due <= :until AND wd.idx - :tidx > {lo} AND wd.idx - :tidx <= {hi} {where}",
            until=today + dt.timedelta(days=hi * 3 + 14))
    if policy.on_due_day:
        run("due", cols + to_assignee.format(stage="'due'", kind="due", workdays="0") + f"AND o.due = :today {where}")
    every = max(policy.overdue_every, 1)
    run("overdue", cols + to_assignee.format(
        stage=f"'overdue-' || CAST(1 + (:tidx - wd.idx - 1) / {every} AS VARCHAR(8))", kind="overdue",
        workdays=":tidx - wd.idx") + f"AND o.due < :today AND :tidx - wd.idx >= 1 {where}")
    for i, after in enumerate(sorted(policy.escalate_after)[:2]):
        route = "escalate_to_id" if i == 0 else "escalate_next_id"
        run("escalate", cols + f"SELECT o.id, 'escalate-{i + 1}', 'escalate', :today, :tidx - wd.idx, "
            f"'supervisor', j.{route} " + owed.replace("WHERE", "JOIN jurisdiction j ON j.id = o.jurisdiction_id WHERE")
            + f"AND j.{route} IS NOT NULL AND o.due < :today AND :tidx - wd.idx >= {after} {where}")


def _digests(session: Session, today: dt.date, send_at: dt.datetime) -> tuple[int, int, dict[str, int]]:
    """One outbox row per recipient for the day, holding every notice row not yet in a digest;
    the staged rows are written to ``notice`` here. A recipient whose digest for today already
    went out gets the rest tomorrow. Returns (digests created, without address, rows added by kind)."""
    now = dt.datetime.now(dt.timezone.utc)
    day = today.isoformat()
    common = dict(today=today, day=day, send_at=send_at, now=now)
    head = ("INSERT INTO outbox (key, recipient_kind, recipient_id, day, channel, address, recipient_name, status, "
            "attempts, next_attempt_at, created_at, items) ")
    channel = ("CASE WHEN {email} IS NOT NULL THEN 'email' "
               "WHEN {hook} LIKE '%/cgi-bin/webhook/send%' THEN 'wecom' "
               "WHEN {hook} IS NOT NULL THEN 'dingtalk' ELSE 'none' END")
    before = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.day == today)) or 0
    stamp = Outbox.__table__.c.next_attempt_at.type
    typed = (sa.bindparam("send_at", type_=stamp), sa.bindparam("now", type_=stamp))
    # recipients of the new rows that are not notified yet, and of rows an earlier sweep left
    # waiting (their digest for that day had already gone out)
    waiting = ("SELECT recipient_id FROM sweep_stage s WHERE s.recipient_kind = '{kind}' AND NOT EXISTS "
               "(SELECT 1 FROM notice n WHERE n.occurrence_id = s.occurrence_id AND n.stage = s.stage) "
               "UNION SELECT recipient_id FROM notice WHERE recipient_kind = '{kind}' AND digest_id IS NULL")
    session.execute(sa.text(
        head + "SELECT 'digest:contact:' || CAST(c.id AS VARCHAR(20)) || ':' || :day, 'contact', c.id, :today, "
        + channel.format(email="c.email", hook="c.webhook") + ", COALESCE(c.email, c.webhook), c.name, "
        "'pending', 0, :send_at, :now, 0 FROM contact c WHERE c.id IN (" + waiting.format(kind="contact") + ") "
        "ON CONFLICT DO NOTHING").bindparams(*typed), common)
    session.execute(sa.text(
        head + "SELECT 'digest:supervisor:' || CAST(j.id AS VARCHAR(20)) || ':' || :day, 'supervisor', j.id, :today, "
        + channel.format(email="j.supervisor_email", hook="j.supervisor_webhook")
        + ", COALESCE(j.supervisor_email, j.supervisor_webhook), j.supervisor_name, 'pending', 0, :send_at, :now, 0 "
        "FROM jurisdiction j WHERE j.id IN (" + waiting.format(kind="supervisor") + ") "
        "ON CONFLICT DO NOTHING").bindparams(*typed), common)
    # the new rows, each written once with its digest (none if that digest already went out:
    # it joins tomorrow's); of two contacts for one item and stage, the unique key keeps one
    added = {}
    for kind in KINDS:
        added[kind] = session.execute(sa.text(
            f"INSERT INTO notice ({STAGE_COLS}, digest_id) SELECT s.occurrence_id, s.stage, s.kind, s.swept_on, "
            "s.workdays, s.recipient_kind, s.recipient_id, x.id FROM sweep_stage s LEFT JOIN outbox x "
            "ON x.recipient_kind = s.recipient_kind AND x.recipient_id = s.recipient_id AND x.day = :today "
            "AND x.status = 'pending' AND x.subject IS NULL WHERE s.kind = :kind ON CONFLICT DO NOTHING"),
            {**common, "kind": kind}).rowcount or 0
    # rows an earlier sweep left waiting join today's digest while it is still unrendered
    session.execute(sa.text(
        "UPDATE notice SET digest_id = (SELECT x.id FROM outbox x WHERE x.recipient_kind = notice.recipient_kind "
        "AND x.recipient_id = notice.recipient_id AND x.day = :today AND x.status = 'pending' AND x.subject IS NULL) "
        "WHERE digest_id IS NULL AND EXISTS (SELECT 1 FROM outbox x WHERE x.recipient_kind = notice.recipient_kind "
        "AND x.recipient_id = notice.recipient_id AND x.day = :today AND x.status = 'pending' AND x.subject IS NULL)"),
        common)
    session.execute(sa.text(
        "UPDATE outbox SET items = (SELECT count(*) FROM notice n WHERE n.digest_id = outbox.id) "
        "WHERE day = :today AND subject IS NULL"), common)
    # a digest made for a second contact of an item whose notice went to the first: nothing in it
    session.execute(sa.text("DELETE FROM outbox WHERE day = :today AND subject IS NULL AND status = 'pending' "
                            "AND items = 0"), common)
    created = (session.scalar(select(func.count()).select_from(Outbox).where(Outbox.day == today)) or 0) - before
    dead = session.execute(sa.text(
        "UPDATE outbox SET status = 'dead', last_error = '无联系方式：部门目录中没有该单位的邮箱或机器人地址' "
        "WHERE day = :today AND channel = 'none' AND status = 'pending'"), common).rowcount or 0
    return created, dead, {k: n for k, n in added.items() if n}
