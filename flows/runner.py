"""`duban up`: one process, the embedded APScheduler 3 scheduler running the flows in-process
on the cron schedule of config.yaml (timezone Asia/Shanghai). Jobs live in an SQLAlchemy job
store in duban's own database, so after a restart a missed run is caught up once (coalesce),
not repeated. Ctrl-C (SIGINT) or SIGTERM stops it cleanly."""
from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
import threading
import time
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from storage.files import Settings, load_settings

JOBS = ("materialize", "sweep", "deliver", "report")


def trigger_for(spec, timezone: str):
    if isinstance(spec, dict):
        return IntervalTrigger(timezone=ZoneInfo(timezone), **spec)
    return CronTrigger.from_crontab(spec, timezone=ZoneInfo(timezone))


def run_job(name: str, config: str | None) -> None:
    """What the scheduler calls (by reference, so the job store can keep it)."""
    settings = load_settings(config)
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    from flows import pipeline

    try:
        if name == "deliver":
            result = pipeline.deliver(at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), config=config)
        else:
            result = pipeline.FLOWS[name](day=today.isoformat(), config=config)
        _say(f"{name} 完成：{result}")
    except Exception as exc:  # noqa: BLE001 - a failed run is reported and retried at the next tick
        _say(f"{name} 失败：{type(exc).__name__}: {exc}")


def _say(text: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    sys.stdout.write(f"[{stamp}] {text}\n")
    sys.stdout.flush()


def build_scheduler(settings: Settings, config: str | None) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=settings.database_url, tablename="apscheduler_jobs")},
        # one flow at a time: the jobs share Prefect's temporary server (SQLite) and duban's
        # database; run together they contended ("database is locked") and a sweep stalled
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=ZoneInfo(settings.timezone))
    scheduler.start(paused=True)
    for name in JOBS:
        trigger = trigger_for(settings.service.trigger(name), settings.timezone)
        existing = scheduler.get_job(name)
        if existing is not None and str(existing.trigger) == str(trigger) and existing.args == (name, config):
            continue   # keep its next run time: a run missed while down is caught up once
        scheduler.add_job(run_job, trigger, args=(name, config), id=name, name=name, replace_existing=True)
    return scheduler


def up(settings: Settings, config: str | None, *, host: str = "127.0.0.1", port: int | None = 8000) -> None:
    """The scheduler, and the web app on host:port (port None: no web app), until SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = build_scheduler(settings, config)
    server = _web(settings, host, port) if port else None
    _prefect_server_once()
    scheduler.resume()
    _say("督办服务已启动（按 Ctrl-C 停止）。计划任务：")
    for job in scheduler.get_jobs():
        _say(f"  {job.id}: {job.trigger}，下次运行 {job.next_run_time:%Y-%m-%d %H:%M:%S}")
    if server:
        _say(f"网页：http://{host}:{port}/ （接口文档 http://{host}:{port}/api/docs）")
    stop.wait()
    _say("正在停止……")
    if server:
        server.should_exit = True
    scheduler.shutdown(wait=True)
    _say("已停止。")


def _prefect_server_once() -> None:
    """Start Prefect's temporary local server (no PREFECT_API_URL) before the jobs run: its
    start is not thread-safe, and two jobs starting it at once left a second server process
    behind after shutdown."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    from prefect.server.api.server import SubprocessASGIServer

    SubprocessASGIServer().start()


def _web(settings: Settings, host: str, port: int):
    """uvicorn in a thread beside the scheduler (its own signal handlers off: up() owns them)."""
    import uvicorn

    from web.app import create_app

    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None      # uvicorn < 0.29
    server.capture_signals = _no_signals               # uvicorn ≥ 0.29
    threading.Thread(target=server.run, name="duban-web", daemon=True).start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server


@contextlib.contextmanager
def _no_signals():
    yield
