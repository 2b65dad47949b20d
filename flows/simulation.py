"""The demo's simulated calendar, as plain functions (tested without Prefect).

Departments behave deterministically for a seed: most complete their items before the due
date, some late, a few never; multi-visit items (6 a quarter) are done in instalments. Each
simulated day records that day's completions, sweeps on working days, and delivers the day's
digests to the file sink at the send time."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace
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
from storage.tables import Case, Jurisdiction, Notice, Occurrence, Outbox

YEAR_START, YEAR_END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


@dataclass
class DemoWorld:
    settings: Settings
    seed: int
    planned: set[int]
    agenda: dict[dt.date, list[tuple[int, int]]]   # day → [(occurrence id, count)]


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
        for i, n in enumerate(counts):
            day = last if i == parts - 1 else start + dt.timedelta(days=span * (i + 1) // parts)
            if n:
                world.agenda.setdefault(day, []).append((oid, n))
    return added


def simulate_day(world: DemoWorld, day: dt.date) -> dict[str, int]:
    """One day: the completions planned for it, then (on working days) the sweep and delivery."""
    s = world.settings
    engine = make_engine(s.database_url)
    done = 0
    try:
        todo = world.agenda.pop(day, [])
        if todo:
            setting = workflow.Setting(s.calendar(), s.data_dir, day)
            by = workflow.Actor("演示部门", "demo")
            with Session(engine) as session, session.begin():
                for oid, n in todo:
                    workflow.complete(session, oid, by=by, count=n, note="演示：已按要求办理", done_on=day,
                                      setting=setting)
                    done += 1
        sent = 0
        if s.calendar().is_workday(day):
            notices.run_sweep(engine, s, day)
            at = dt.datetime.combine(day, dt.time(10, 0), dt.timezone(dt.timedelta(hours=8)))
            sent = notices.run_deliver(engine, s, now=at.astimezone(dt.UTC)).sent
    finally:
        engine.dispose()
    if todo:
        plan_new(world)   # completions can create event items (报送备案 within 10 days)
    return {"completions": done, "sent": sent}


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
    finally:
        engine.dispose()
    return {"occurrences": total, "cases": cases, "departments": departments, "notices": kinds, "outbox": outbox,
            "channels": channels}


