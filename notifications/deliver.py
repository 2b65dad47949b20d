"""Delivery: claim pending outbox rows in batches, mark them ``sending`` before the I/O and
``sent`` right after (one commit per message; the moves themselves are in
notifications.outbox), retry transient failures with exponential
backoff, and turn permanent failures, or a message that failed ``max_attempts`` times, into
dead letters.

Claiming uses ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL so several workers can run at
once; SQLite serializes writers, which gives the same guarantee for one machine. A row left in
``sending`` by a crashed worker is taken back after the lease expires and sent again with the
same Message-ID. The remaining window: a crash after the server accepted a message and before
the ``sent`` commit (one database commit, milliseconds) produces a second copy with the same
Message-ID."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from notifications import routing
from notifications.channels import Channels, Message, SendError
from notifications.outbox import claim, mark_failed, mark_sent, mark_skipped, postpone, put_back, recover_stale, requeue
from notifications.render import compose, item_rows
from storage.tables import Outbox

# claim, recover_stale and requeue live in notifications.outbox (every move of an outbox row
# does); they are named here too for the callers that import them from this module
__all__ = ["DeliverReport", "DeliverySettings", "backoff", "claim", "deliver", "in_quiet_hours", "recover_stale",
           "requeue"]


@dataclass
class DeliverySettings:
    secret: bytes
    base_url: str
    link_days: int = 30
    max_attempts: int = 8
    batch: int = 100
    lease: dt.timedelta = dt.timedelta(minutes=10)
    quiet_hours: tuple[dt.time, dt.time] | None = (dt.time(20, 0), dt.time(8, 0))
    timezone: str = "Asia/Shanghai"


@dataclass
class DeliverReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    recovered: int = 0
    waiting: int = 0             # not tried this run: their channel was unreachable
    quiet: bool = False
    errors: list[str] = field(default_factory=list)


def in_quiet_hours(now: dt.datetime, quiet: tuple[dt.time, dt.time] | None, timezone: str) -> bool:
    if not quiet:
        return False
    local = now.astimezone(ZoneInfo(timezone)).time()
    start, end = quiet
    return (start <= local or local < end) if start > end else (start <= local < end)


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, 8 … minutes, at most six hours."""
    return dt.timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))


def deliver(engine: Engine, channels: Channels, settings: DeliverySettings, *, now: dt.datetime | None = None,
            until_empty: bool = True, force: bool = False) -> DeliverReport:
    """Send what is due. ``force`` ignores quiet hours (for tests and the demo's simulated clock)."""
    now = now or dt.datetime.now(dt.UTC)
    report = DeliverReport()
    if not force and in_quiet_hours(now, settings.quiet_hours, settings.timezone):
        report.quiet = True
        return report
    report.recovered = recover_stale(engine, now, settings.lease)
    try:
        with engine.connect() as marker:   # one connection marks every outcome of this run
            pg = marker.dialect.name == "postgresql"
            if pg:   # see outbox._commit_mark: only a database-server crash could lose a mark
                marker.execute(sa.text("SET synchronous_commit TO OFF"))
                marker.commit()
            try:
                down: set[str] = set()     # channels found unreachable in this run
                while True:
                    ids = claim(engine, now, settings.batch)
                    for msg, channel, attempts, oid in _prepare(engine, settings, ids, report, channels):
                        if channel in down:  # not tried: back in the queue as it was, its place kept
                            put_back(marker, oid, attempts - 1)
                            report.waiting += 1
                        elif _send_one(marker, channels, settings, oid, msg, channel, attempts, now, report):
                            down.add(channel)
                    if not ids or not until_empty or down:
                        break
            finally:
                if pg:   # the connection goes back to the pool: do not leak the setting
                    marker.rollback()
                    marker.execute(sa.text("RESET synchronous_commit"))
                    marker.commit()
    finally:
        _routes.pop(id(channels), None)
        channels.close()
    return report


def _prepare(engine: Engine, settings: DeliverySettings, ids: list[int], report: DeliverReport,
             channels: Channels | None = None):
    """Render the claimed rows that are not rendered yet (one query and one commit for the
    batch) and return what to send."""
    if not ids:
        return []
    out, skipped, broken = [], [], []
    routes = _routes.setdefault(id(channels), {})
    with Session(engine) as session, session.begin():
        rows = session.scalars(select(Outbox).where(Outbox.id.in_(ids)).order_by(Outbox.id)).all()
        items = item_rows(session, [r.id for r in rows if r.subject is None])
        routing.resolve_routes(session, [r for r in rows if r.route is None], getattr(channels, "apps", None))
        for row in rows:
            if row.subject is None:
                try:
                    rendered = compose(items[row.id], recipient=row.recipient_name or "", day=row.day,
                                       supervisor=row.recipient_kind == "supervisor", secret=settings.secret,
                                       base_url=settings.base_url, link_days=settings.link_days)
                except Exception as exc:  # noqa: BLE001 - recorded on its own row, the batch goes on
                    broken.append((row.id, f"无法生成通知内容（{type(exc).__name__}：{exc}）"))
                    continue
                if rendered is None:   # everything in it was completed or waived since the sweep
                    skipped.append(row.id)
                    continue
                row.subject, row.text_body, row.html_body, row.items = (rendered.subject, rendered.text,
                                                                        rendered.html, rendered.items)
                # the To header names whom the greeting names: never a key child's village
                row.recipient_name = rendered.recipient or row.recipient_name
            out.append((Message(row.key, row.address or "", row.recipient_name, row.subject, row.text_body,
                                row.html_body), row.channel, row.attempts, row.id))
            routes[row.id] = (json.loads(row.route) if row.route else None, row.items,
                              row.recipient_kind == "supervisor")
        report.skipped += mark_skipped(session, skipped)
    with engine.connect() as conn:
        for oid, error in broken:
            mark_failed(conn, oid, error, dead=True, retry_at=dt.datetime.now(dt.UTC))
            report.dead += 1
            report.errors.append(f"{oid}: {error}")
    return out


def _send_one(conn, channels: Channels, settings: DeliverySettings, oid: int, msg: Message,
              channel: str, attempts: int, now: dt.datetime, report: DeliverReport) -> bool:
    """Send one message and record the outcome; True when its channel turned out unreachable."""
    routed = _routes.get(id(channels), {}).pop(oid, None)
    if routed is not None and routed[0] is not None:
        return _send_routed(conn, channels, settings, oid, msg, routed, attempts, now, report)
    adapter = channels.by_channel.get(channel)
    try:
        if adapter is None:
            raise SendError(f"不支持的渠道 {channel}", permanent=True)
        mid = adapter.send(msg)
    except Exception as exc:  # noqa: BLE001 - one message's failure is recorded on its row; the rest go on
        if not isinstance(exc, SendError):
            exc = SendError(f"无法发送此消息（{type(exc).__name__}：{exc}）", permanent=True)
        dead = exc.permanent or attempts >= settings.max_attempts
        mark_failed(conn, oid, str(exc), dead=dead, retry_at=now + backoff(attempts))
        report.dead += dead
        report.retried += not dead
        report.errors.append(f"{msg.key}: {exc}")
        return exc.unreachable
    mark_sent(conn, oid, message_id=mid, transport=adapter.name)
    report.sent += 1
    return False



# The routes of the rows of the current batch, by the run's Channels (set by _prepare, taken by
# _send_one): the route is a column of the row, read with it, not a second query.
_routes: dict[int, dict[int, tuple]] = {}


def _send_routed(conn, channels: Channels, settings: DeliverySettings, oid: int, msg: Message, routed: tuple,
                 attempts: int, now: dt.datetime, report: DeliverReport) -> bool:
    """Send along the row's route (notifications.routing): fallback, once a day, daily limits,
    the person's quiet hours. True when every channel of it turned out unreachable."""
    route, items, supervisor = routed
    try:
        done = routing.send_routed(conn, channels, getattr(channels, "apps", None), oid, msg, route, items,
                                   supervisor, now, settings.timezone)
    except routing.Later as later:
        postpone(conn, oid, attempts - 1, later.until, later.reason)
        report.waiting += 1
        return False
    except SendError as exc:
        dead = exc.permanent or attempts >= settings.max_attempts
        mark_failed(conn, oid, str(exc), dead=dead, retry_at=now + backoff(attempts), code=getattr(exc, "code", None))
        report.dead += dead
        report.retried += not dead
        report.errors.append(f"{msg.key}: {exc}")
        return exc.unreachable
    mark_sent(conn, oid, message_id=done.request_id, transport=done.transport, channel=done.channel,
              address=done.address)
    report.sent += 1
    return False
