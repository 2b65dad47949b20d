"""Prefect flows: thin orchestration over the service functions, one task per stage (never one
per occurrence). Each flow is idempotent, logs its counts through Prefect's logger, and names
its runs after the day it works for (sweep-2025-10-08)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import flow, get_run_logger, task
from sqlalchemy.engine import Engine

from notifications import service as notices
from reports import service as reports
from storage.catalogs import load_plans
from storage.db import ensure_schema, make_engine
from storage.files import Settings, load_settings
from storage.schedule import materialize as materialize_service


def _day(day: str, config: str | None) -> str:
    """A flow's day: the one given, or today in the configured timezone (scheduled runs)."""
    return day or load_settings(config).today().isoformat()


def _run_name(prefix: str):
    def name() -> str:
        from prefect.runtime import flow_run

        params = flow_run.parameters or {}
        return f"{prefix}-{params.get('day') or params.get('at') or dt.date.today().isoformat()}"
    return name


@contextmanager
def _database(config: str | None) -> Iterator[tuple[Settings, Engine]]:
    """A task's settings and engine, disposed after. Flows do not migrate (``duban up`` and
    ``duban db upgrade`` do, once): a new database gets its schema, an out-of-date one stops
    the run with that advice."""
    settings = load_settings(config)
    engine = make_engine(settings.database_url, pool=settings.pool())
    try:
        ensure_schema(engine)
        yield settings, engine
    finally:
        engine.dispose()


@task(name="load-catalogs")
def load_task(config: str | None) -> dict:
    with _database(config) as (settings, engine):
        result = load_plans(engine, settings)
    return {"directory_changed": not result.directory.unchanged,
            "plans": {r.plan_id: ("unchanged" if r.unchanged else "changed") for r in result.plans}}


@flow(name="sync_plans", flow_run_name=_run_name("sync-plans"))
def sync_plans(day: str = "", config: str | None = None) -> dict:
    out = load_task(config)
    get_run_logger().info("目录与计划：%s", out)
    return out


@task(name="materialize")
def materialize_task(config: str | None, day: str, horizon_days: int | None) -> dict:
    with _database(config) as (settings, engine):
        today = dt.date.fromisoformat(day)
        report = materialize_service(engine, settings.calendar(),
                                     today + dt.timedelta(days=horizon_days or settings.horizon_days),
                                     today=today, default_start=settings.schedule_start)
    return {"occurrences_added": report.occurrences_added, "periods_added": report.periods_added,
            "events_added": report.events_added, "removed": report.occurrences_removed}


@flow(name="materialize", flow_run_name=_run_name("materialize"))
def materialize(day: str = "", config: str | None = None, horizon_days: int | None = None) -> dict:
    out = materialize_task(config, _day(day, config), horizon_days)
    get_run_logger().info("生成督办事项：%s", out)
    return out


@task(name="sweep")
def sweep_task(config: str | None, day: str) -> dict:
    with _database(config) as (settings, engine):
        report = notices.run_sweep(engine, settings, dt.date.fromisoformat(day))
    return {"notices": report.notices, "digests": report.digests, "without_address": report.without_address}


@flow(name="sweep", flow_run_name=_run_name("sweep"))
def sweep(day: str = "", config: str | None = None) -> dict:
    day = _day(day, config)
    if not load_settings(config).calendar().is_workday(dt.date.fromisoformat(day)):
        get_run_logger().info("%s 为休息日，不生成通知", day)
        return {"notices": {}, "digests": 0, "without_address": 0, "rest_day": True}
    out = sweep_task(config, day)
    get_run_logger().info("生成通知：%s", out)
    return out


@task(name="send-outbox", retries=2, retry_delay_seconds=30)
def deliver_task(config: str | None, at: str | None, force: bool) -> dict:
    with _database(config) as (settings, engine):
        now = dt.datetime.fromisoformat(at) if at else None
        report = notices.run_deliver(engine, settings, now=now, force=force)
    return {"sent": report.sent, "retried": report.retried, "dead": report.dead, "skipped": report.skipped,
            "recovered": report.recovered, "quiet": report.quiet}


@flow(name="deliver", flow_run_name=_run_name("deliver"))
def deliver(at: str = "", config: str | None = None, force: bool = False) -> dict:
    """Retries live on the I/O task only: a flow retry would redo the claims."""
    out = deliver_task(config, at or None, force)
    get_run_logger().info("发送通知：%s", out)
    return out


@task(name="write-report")
def report_task(config: str | None, day: str) -> list[str]:
    with _database(config) as (settings, engine):
        paths = reports.scheduled(engine, settings, dt.date.fromisoformat(day))
    return [str(p) for p in paths]


@flow(name="report", flow_run_name=_run_name("report"))
def report(day: str = "", config: str | None = None) -> list[str]:
    """The inspection report (督查通报) of the last complete period (report.period in config)
    before the day, in the configured formats, into data_dir/reports."""
    paths = report_task(config, _day(day, config))
    get_run_logger().info("督查通报：%s", "、".join(paths))
    return paths


FLOWS = {"sync_plans": sync_plans, "materialize": materialize, "sweep": sweep, "deliver": deliver,
         "report": report}
