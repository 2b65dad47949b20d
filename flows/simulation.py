"""The demo's simulated calendar, as plain functions (tested without Prefect).

Departments behave deterministically for a seed: most complete their items before the due
date, some late, a few never; multi-visit items (6 a quarter) are done in instalments; a few
record their work days after doing it, some beyond the grace (flagged 补登待核 and judged by the
recording day). On feedback days most departments owing a long item report its progress
(进度反馈), the others get the sweep's reminder. Each completion that reaches the required count awaits review (待审核); the
coordinator reviews two days later, accepting most in one batch and returning a few with a
reason (退回), which the department redoes some days after. Each simulated day records that
day's completions and reviews, sweeps on working days, and delivers the day's digests to the
file sink at the send time."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlmodel import Session

from notifications import service as notices
from notifications.outbox import OutboxStatus
from obligations.cases import RISK_CATEGORIES
from obligations.config import DingTalkAppConfig, SmsConfig, WeComAppConfig
from storage import workflow
from storage.catalogs import load_plans
from storage.db import make_engine, migrate
from storage.files import Settings
from storage.schedule import materialize
from storage.tables import Case, Completion, Jurisdiction, Notice, Occurrence, Outbox, Plan, ProgressReport

YEAR_START, YEAR_END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
D = dt.date

# ad-hoc assignments (交办) the demo's coordinators issue during the year
ASSIGNMENTS = {
    D(2025, 3, 3): dict(title="春季开学流动儿童入学情况核查", departments=["education"], jurisdiction="福建省",
                        level="county", within=10, source="批示",
                        text="核查辖区流动儿童春季学期入学、转学情况，逐人登记未入学原因"),
    D(2025, 6, 16): dict(title="暑期防溺水安全专项排查", departments=["education", "public_security"],
                         jurisdiction="平顶山市", level="county", due=D(2025, 7, 15), source="会议",
                         text="对学校周边水域和流动儿童聚居点开展防溺水隐患排查", evidence=False),
    D(2025, 9, 8): dict(title="流动儿童监护情况专项检查", departments=["civil_affairs"], jurisdiction="福建省",
                        level="city", within=15, source="来文"),
}
# days on which the coordinator sends hand reminders (催办) for the longest-overdue items
URGE_DAYS = (D(2025, 4, 15), D(2025, 7, 21), D(2025, 10, 20))
URGE_ITEMS = 3


@dataclass
class DemoWorld:
    settings: Settings
    seed: int
    planned: set[int]
    agenda: dict[dt.date, list[tuple[int, int, dt.date]]]   # day recorded → [(occurrence id, count, day done)]
    awaiting: dict[int, dt.date] = field(default_factory=dict)   # occurrence id → day its review began
    returned: set[int] = field(default_factory=set)


REVIEW_AFTER = 2          # days the coordinator takes to review a submission
RETURN_SHARE = 0.06       # of first submissions, returned with a reason
RETURN_REASONS = ("佐证材料不全，请补充走访记录或照片", "办理情况说明过于简略，请写明具体措施和成效",
                  "登记的次数与台账记录不符，请核实后重新登记")


def demo_settings(base: Settings, folder: Path) -> Settings:
    """The demo's folder and database; DingTalk, WeCom and SMS set up with made-up ids and no
    secrets, so their notices go to the file sink (outbox/*.dingtalk.json …) as they would to
    the providers."""
    folder = folder.resolve()
    n = base.notify
    notify = n.model_copy(update={
        "dingtalk": n.dingtalk if n.dingtalk.app_key else DingTalkAppConfig(
            app_key="dingdemoappkey", agent_id=100000001, secret_env="DUBAN_DEMO_DINGTALK_APP_SECRET"),
        "wecom": n.wecom if n.wecom.corp_id else WeComAppConfig(
            corp_id="wwdemocorpid", agent_id=1000002, secret_env="DUBAN_DEMO_WECOM_APP_SECRET"),
        "sms": n.sms if n.sms.provider != "none" else SmsConfig(
            provider="aliyun", sign_name="督办演示", template_code="SMS_000000000",
            key_id_env="DUBAN_DEMO_SMS_KEY_ID", key_secret_env="DUBAN_DEMO_SMS_KEY_SECRET")})
    return replace(base, database_url=f"sqlite:///{folder / 'duban.db'}", data_dir=folder, notify=notify)


def prepare(settings: Settings, seed: int, cases: int = 60) -> DemoWorld:
    """A fresh database: directory, plans, sample cases, one year of occurrences."""
    db = settings.data_dir / "duban.db"
    for path in (db, db.with_name("duban.db-wal"), db.with_name("duban.db-shm")):
        path.unlink(missing_ok=True)
    for sub in ("outbox", "reports"):
        for f in (settings.data_dir / sub).glob("*"):
            f.unlink()
    engine = make_engine(settings.database_url)
    migrate(engine)
    load_plans(engine, settings)
    rng = random.Random(seed)
    with Session(engine) as s, s.begin():
        villages = [j for j in s.scalars(select(Jurisdiction).where(Jurisdiction.level == "village")
                                         .order_by(Jurisdiction.code))]
        rows = []
        for i in range(cases):
            opened = YEAR_START + dt.timedelta(days=rng.randrange(0, 240))
            closed = opened + dt.timedelta(days=rng.randrange(90, 300)) if rng.random() < 0.15 else None
            rows.append(dict(code=f"DEMO-{i + 1:04d}", jurisdiction_id=rng.choice(villages).id,
                             categories=rng.sample(RISK_CATEGORIES, rng.choice((1, 1, 2))),
                             director=None, opened=opened, closed=closed if closed and closed <= YEAR_END else None))
        s.execute(insert(Case), rows)
    materialize(engine, settings.calendar(), YEAR_END, today=YEAR_START, default_start=settings.schedule_start,
                window_from=YEAR_START)
    engine.dispose()
    world = DemoWorld(settings, seed, set(), {})
    plan_new(world)
    return world


def plan_new(world: DemoWorld) -> int:
    """Decide, once per occurrence, when (and whether) it gets done."""
    engine = make_engine(world.settings.database_url)
    added = 0
    with Session(engine) as s:
        rows = s.execute(select(Occurrence.id, Occurrence.period_start, Occurrence.due, Occurrence.required,
                                Occurrence.party_key)).all()
    engine.dispose()
    for oid, start, due, required, party in rows:
        if oid in world.planned:
            continue
        world.planned.add(oid)
        added += 1
        rng = random.Random(f"{world.seed}:{oid}")
        diligence = 0.8 if party in ("civil_affairs", "children_director", "education") else 0.7
        roll = rng.random()
        if roll < diligence:
            last = due - dt.timedelta(days=rng.randrange(0, 12))
        elif roll < diligence + 0.18:
            last = due + dt.timedelta(days=rng.randrange(2, 25))
        else:
            continue   # never done
        last = max(last, start)
        parts = 1 if required == 1 else rng.choice((2, 3))
        counts = [required // parts + (1 if i < required % parts else 0) for i in range(parts)]
        span = max((last - start).days, 0)
        late_entry = rng.random()   # recorded days after the work: mostly within the grace, some not
        lag = rng.randrange(1, 4) if late_entry < 0.06 else rng.randrange(8, 20) if late_entry < 0.08 else 0
        for i, n in enumerate(counts):
            day = last if i == parts - 1 else start + dt.timedelta(days=span * (i + 1) // parts)
            if n:
                world.agenda.setdefault(day + dt.timedelta(days=lag), []).append((oid, n, day))
    return added


def simulate_day(world: DemoWorld, day: dt.date) -> dict[str, int]:
    """One day: the completions planned for it, then (on working days) the sweep and delivery."""
    s = world.settings
    engine = make_engine(s.database_url)
    done = 0
    try:
        assigned = _assign(engine, s, day)
        todo = world.agenda.pop(day, [])
        if todo:
            setting = workflow.Setting.of(s, day)
            by = workflow.Actor("演示部门", "demo")
            with Session(engine) as session, session.begin():
                for oid, n, done_on in todo:
                    workflow.complete(session, oid, by=by, count=n, note="演示：已按要求办理", done_on=done_on,
                                      setting=setting)
                    done += 1
        reviewed = review_day(world, engine, day)
        reviewed["progress"] = progress_day(world, engine, day)
        sent = 0
        if day in URGE_DAYS:
            _urge(engine, s, day)
        if s.calendar().is_workday(day):
            notices.run_sweep(engine, s, day)
            at = dt.datetime.combine(day, dt.time(10, 0), dt.timezone(dt.timedelta(hours=8)))
            sent = notices.run_deliver(engine, s, now=at.astimezone(dt.UTC)).sent
    finally:
        engine.dispose()
    if todo or assigned:
        plan_new(world)   # completions can create event items (报送备案 within 10 days); new assignments
    return {"completions": done, "sent": sent, **reviewed}


def review_day(world: DemoWorld, engine, day: dt.date) -> dict[str, int]:
    """The coordinator's review: submissions waiting at least ``REVIEW_AFTER`` days are accepted
    in one batch, except a few first submissions returned with a reason; those the department
    redoes 2–6 days later (the agenda)."""
    with Session(engine) as session:
        for oid in session.scalars(select(Occurrence.id).where(Occurrence.submitted_at.is_not(None))):
            world.awaiting.setdefault(oid, day)
    due = sorted(oid for oid, since in world.awaiting.items() if (day - since).days >= REVIEW_AFTER)
    if not due:
        return {"accepted": 0, "returned": 0}
    by = workflow.Actor("演示协调员", "demo")
    to_return = [oid for oid in due if oid not in world.returned
                 and random.Random(f"{world.seed}:{oid}:review").random() < RETURN_SHARE]
    accept = [oid for oid in due if oid not in to_return]
    with Session(engine) as session, session.begin():
        for oid in to_return:
            rng = random.Random(f"{world.seed}:{oid}:return")
            c = workflow.return_(session, oid, by=by, reason=rng.choice(RETURN_REASONS),
                                 now=dt.datetime.combine(day, dt.time(9, 0), dt.UTC))
            redo = day + dt.timedelta(days=rng.randrange(2, 7))
            world.agenda.setdefault(redo, []).append((oid, c.count, redo))
            world.returned.add(oid)
        missing = _confirm_parts(world, session, accept, day)
        accept = [oid for oid in accept if oid not in missing]
        for i in range(0, len(accept), workflow.MAX_BULK):
            workflow.accept(session, accept[i:i + workflow.MAX_BULK], by=by, note="演示：材料齐全，审核通过")
        if missing:
            workflow.accept(session, sorted(missing), by=by, anyway=True,
                            note="演示：协办部门未按时确认，协办部分已由牵头部门一并报送，审核通过")
            accept += sorted(missing)
    for oid in due:
        del world.awaiting[oid]
    return {"accepted": len(accept), "returned": len(to_return)}


PROGRESS_SHARE = 0.7      # of the long items asked on a feedback day, those that report in time
PROGRESS_WORDS = ("已完成阶段性摸排，建立工作台账", "已召开部署会，明确责任分工", "已完成部分入户走访和情况核查")
PROGRESS_DIFFICULTIES = (None, None, "基层人手不足，部分流动儿童信息更新滞后")


def progress_day(world: DemoWorld, engine, day: dt.date) -> int:
    """On a feedback day (进度反馈, obligations.feedback) most departments owing an open long item
    report its progress through the one door, the rest do not (and the day's sweep reminds
    them): the percent follows the share of the period gone by, so it never goes backwards."""
    from obligations.feedback import FeedbackPolicy

    f = world.settings.notify.feedback
    policy = FeedbackPolicy(f.every, f.day, f.min_period_days, f.enabled)
    if not policy.enabled or policy.last_day(day) != day:
        return 0
    with Session(engine) as session:
        rows = session.execute(select(Occurrence.id, Occurrence.period_start, Occurrence.due).where(
            Occurrence.waived_at.is_(None), Occurrence.done_count < Occurrence.required,
            Occurrence.submitted_at.is_(None), Occurrence.due > day)).all()
    asked = [(oid, start, due) for oid, start, due in rows if policy.asks(period_start=start, due=due, day=day)]
    by = workflow.Actor("演示部门", "demo")
    made = 0
    with Session(engine) as session, session.begin():
        for oid, start, due in asked:
            rng = random.Random(f"{world.seed}:{oid}:{day}:progress")
            if rng.random() >= PROGRESS_SHARE:
                continue
            percent = min(95, round(100 * (day - start).days / max((due - start).days, 1)))
            workflow.report_progress(session, oid, by=by, percent=percent, done=rng.choice(PROGRESS_WORDS),
                                     difficulties=rng.choice(PROGRESS_DIFFICULTIES),
                                     next_steps="按计划推进，按期完成", on=day, today=day,
                                     now=dt.datetime.combine(day, dt.time(8, 0), dt.UTC))
            made += 1
    return made
def _confirm_parts(world: DemoWorld, session: Session, ids: list[int], day: dt.date) -> set[int]:
    """Co-departments (协办确认) of the items about to be accepted confirm their part, most of
    them by review time; returns the items some co-department left unconfirmed."""
    from storage.tables import CoConfirmation

    missing: set[int] = set()
    if not ids:
        return missing
    for oid, party in session.execute(select(CoConfirmation.occurrence_id, CoConfirmation.party_key)
                                      .where(CoConfirmation.occurrence_id.in_(ids),
                                             CoConfirmation.confirmed_at.is_(None))
                                      .order_by(CoConfirmation.occurrence_id, CoConfirmation.id)).all():
        if random.Random(f"{world.seed}:{oid}:{party}:confirm").random() < 0.75:
            workflow.confirm_part(session, oid, by=workflow.Actor("演示协办部门", "demo"), party=party,
                                  note="演示：协办部分已完成", now=dt.datetime.combine(day, dt.time(8, 30), dt.UTC))
        else:
            missing.add(oid)
    return missing


def _assign(engine, s: Settings, day: dt.date) -> int:
    """The day's ad-hoc assignment, if any, from the coordinator (the one door, as people do)."""
    from storage import tasks

    task = ASSIGNMENTS.get(day)
    if task is None:
        return 0
    with Session(engine) as session, session.begin():
        return tasks.assign(session, workflow.Actor("演示协调员", "demo"), today=day, calendar=s.calendar(),
                            **task).items


def _urge(engine, s: Settings, day: dt.date) -> int:
    """催办 by hand at 09:30: the longest-overdue open items of 平顶山市 (those with an address)."""
    from notifications.urge import urge

    with Session(engine) as session, session.begin():
        area = session.scalar(select(Jurisdiction.path).where(Jurisdiction.name == "平顶山市"))
        ids = session.scalars(
            select(Occurrence.id).join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
            .where(Jurisdiction.path.like(area + "%"), Occurrence.due < day, Occurrence.waived_at.is_(None),
                   Occurrence.done_count < Occurrence.required, Occurrence.case_id.is_(None))
            .order_by(Occurrence.due, Occurrence.id).limit(URGE_ITEMS)).all()
        if not ids:
            return 0
        at = dt.datetime.combine(day, dt.time(9, 30), dt.timezone(dt.timedelta(hours=8))).astimezone(dt.UTC)
        return urge(session, ids, by=workflow.Actor("演示协调员", "demo"), note="演示：请抓紧办理并及时登记",
                    today=day, calendar=s.calendar(), quiet_hours=tuple(s.notify.quiet_hours) or None,
                    timezone=s.timezone, now=at).items


def summary(settings: Settings) -> dict:
    from storage.occurrences import status_summary

    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as s:
            departments = status_summary(s, today=YEAR_END, soon_days=settings.due_soon_days)
            kinds = dict(s.execute(select(Notice.kind, func.count()).group_by(Notice.kind)).all())
            outbox = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
            channels = dict(s.execute(select(Outbox.channel, func.count()).where(Outbox.status == OutboxStatus.SENT)
                                      .group_by(Outbox.channel)).all())
            total = s.scalar(select(func.count()).select_from(Occurrence))
            cases = s.scalar(select(func.count()).select_from(Case))
            flagged = s.scalar(select(func.count()).select_from(Completion).where(Completion.flagged))
            assignments = s.scalar(select(func.count()).select_from(Plan).where(Plan.id.like("task-%")))
            assigned_items = s.scalar(select(func.count()).select_from(Occurrence).where(Occurrence.plan_id.like("task-%")))
            returned = s.scalar(select(func.count()).select_from(Completion).where(Completion.returned_at.is_not(None)))
            progress_reports = s.scalar(select(func.count()).select_from(ProgressReport))
    finally:
        engine.dispose()
    return {"occurrences": total, "cases": cases, "departments": departments, "notices": kinds, "outbox": outbox,
            "flagged": flagged, "assignments": assignments, "assigned_items": assigned_items,
            "channels": channels, "returned": returned, "progress_reports": progress_reports}


