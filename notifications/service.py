"""Wiring the notices to the configuration: one place that builds the sweep's and the
delivery's settings and channels from config.yaml and the environment."""
from __future__ import annotations

import datetime as dt
import os

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from notifications.channels import Channels
from notifications.deliver import DeliverReport, DeliverySettings, deliver
from notifications.links import load_secret
from notifications.outbox import OutboxStatus
from notifications.routing import apps_from_config
from notifications.sweep import SweepReport, sweep
from storage.files import Settings
from storage.tables import Outbox


def run_sweep(engine: Engine, settings: Settings, today: dt.date) -> SweepReport:
    return sweep(engine, settings.calendar(), settings.notify_policy(), today,
                 send_time=settings.notify.send_time, timezone=settings.timezone,
                 feedback=settings.feedback_policy())


def delivery_settings(settings: Settings) -> DeliverySettings:
    n = settings.notify
    return DeliverySettings(secret=load_secret(settings.data_dir), base_url=n.base_url, link_days=n.link_days,
                            max_attempts=n.max_attempts, quiet_hours=tuple(n.quiet_hours), timezone=settings.timezone,
                            lease=dt.timedelta(seconds=n.lease_seconds))


def channels(settings: Settings) -> Channels:
    chans = Channels.from_env(settings.data_dir / "outbox", settings.notify.sender)
    chans.apps = apps_from_config(settings.notify, settings.data_dir, settings.timezone)
    return chans


def run_deliver(engine: Engine, settings: Settings, *, now: dt.datetime | None = None, force: bool = False,
                chans: Channels | None = None, workers: int = 1) -> DeliverReport:
    """Deliver in this process, or with ``workers`` processes (each its own database and SMTP
    connections; the claims keep them apart)."""
    ds = delivery_settings(settings)
    if workers <= 1:
        return deliver(engine, chans or channels(settings), ds, now=now, force=force)
    url = engine.url.render_as_string(hide_password=False)
    args = (settings.data_dir / "outbox", settings.notify.sender, os.environ.get("DUBAN_SMTP_URL") or None,
            os.environ.get("DUBAN_DINGTALK_SECRET") or None)
    return deliver_processes(url, None, args, ds, workers, now=now, force=force,
                             apps=(settings.notify, settings.data_dir, settings.timezone))


def _deliver_worker(url: str, schema: str | None, channel_args: tuple, ds: DeliverySettings,
                    now: dt.datetime | None, force: bool, apps: tuple | None = None) -> DeliverReport:
    from storage.db import make_engine

    engine = make_engine(url, schema=schema)
    chans = Channels(*channel_args)
    if apps is not None:
        chans.apps = apps_from_config(*apps)
    try:
        return deliver(engine, chans, ds, now=now, force=force)
    finally:
        engine.dispose()


def deliver_processes(url: str, schema: str | None, channel_args: tuple, ds: DeliverySettings, workers: int, *,
                      now: dt.datetime | None = None, force: bool = False, apps: tuple | None = None) -> DeliverReport:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        parts = list(pool.map(_deliver_worker, *zip(*[(url, schema, channel_args, ds, now, force, apps)] * workers, strict=True)))
    total = DeliverReport(quiet=all(p.quiet for p in parts))
    for p in parts:
        total.sent += p.sent
        total.retried += p.retried
        total.dead += p.dead
        total.skipped += p.skipped
        total.recovered += p.recovered
        total.waiting += p.waiting
        total.errors += p.errors
    return total


def outbox_rows(engine: Engine, *, failed: bool = False, status: str | None = None, limit: int = 200) -> list[dict]:
    """The newest outbox rows: only the dead ones (``failed``) or those of one status (an
    OutboxStatus value)."""
    with Session(engine) as s:
        q = select(Outbox).order_by(Outbox.id.desc()).limit(limit or None)
        if failed:
            q = q.where(Outbox.status == OutboxStatus.DEAD.value)
        elif status:
            q = q.where(Outbox.status == status)
        return [{"id": o.id, "key": o.key, "day": o.day.isoformat(), "recipient": o.recipient_name,
                 "channel": o.channel, "address": o.address, "items": o.items, "status": o.status,
                 "attempts": o.attempts, "next_attempt_at": o.next_attempt_at.isoformat(timespec="seconds"),
                 "sent_at": o.sent_at.isoformat(timespec="seconds") if o.sent_at else None,
                 "message_id": o.message_id, "transport": o.transport, "subject": o.subject,
                 "last_error": o.last_error, "error_code": o.error_code} for o in s.scalars(q)]


def outbox_counts(engine: Engine) -> dict[str, int]:
    """Rows by status: the stored strings (OutboxStatus values) as keys."""
    with Session(engine) as s:
        return dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
