"""Each person's channels: which ones, in what order, and the rules around them.

A digest's route is fixed when delivery first renders it: the recipient's channels in their own
order (the contacts workbook's 通知渠道, else ``notify.channels``), each with the address it
needs (e-mail address, robot webhook, DingTalk/WeCom userid, mobile), keeping only the channels
that are set up and, for SMS, only digests holding a kind ``notify.sms.kinds`` names (by
default red escalations). Sending walks the route: the first channel that takes the message
delivers it, a failed one falls back to the next. The outbox row records the channel, address
and transport that delivered, and the provider's request id.

Rules kept here, before anything is sent:

- the same content to the same person through the same channel at most once a (local) day:
  a resend finds the ``channel_send`` row and is recorded as delivered, not sent again;
- each app's daily limit (``daily_limit``) and DingTalk's per-person limit: a channel over its
  limit is skipped for the next; with none left the digest waits for tomorrow;
- the person's quiet hours: the digest waits until they end, without spending an attempt."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from notifications.channels import Channels, Message, SendError
from notifications.providers import Context, ProviderError, ProviderSink
from obligations.channels import CHANNEL_NAMES, CHANNELS, quiet_until
from storage.tables import ChannelSend, Contact, Jurisdiction, Notice

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


# ---------------------------------------------------------------- the apps of a run

@dataclass
class Apps:
    """The provider adapters of a delivery run and the rules around them (from config.yaml and
    the environment: notifications.service)."""
    adapters: dict[str, object] = field(default_factory=dict)    # dingtalk | wecom | sms → adapter
    order: tuple[str, ...] = ("email", "dingtalk", "wecom", "sms")
    sms_kinds: frozenset[str] = frozenset({"escalate", "return"})
    daily_limits: dict[str, int] = field(default_factory=dict)   # channel → messages a day (0: none)
    per_person_daily: dict[str, int] = field(default_factory=lambda: {"dingtalk": 500})
    timezone: str = "Asia/Shanghai"

    def close(self) -> None:
        for a in self.adapters.values():
            a.close()


def apps_from_config(notify, data_dir: Path, timezone: str, env: dict | None = None) -> Apps:
    """The adapters config.yaml sets up. A channel whose secret is not in the environment writes
    its requests to ``data_dir/outbox/<channel>/`` instead (the demo, a machine offline)."""
    from notifications import dingtalk, wecom
    from notifications.sms import AliyunSms, TencentSms

    env = os.environ if env is None else env
    folder = data_dir / "outbox"
    apps = Apps(order=tuple(notify.channels), sms_kinds=frozenset(notify.sms.kinds), timezone=timezone)
    d = notify.dingtalk
    if d.app_key and d.agent_id:
        secret = env.get(d.secret_env)
        apps.adapters["dingtalk"] = (dingtalk.DingTalkApp(d.app_key, secret, d.agent_id, d.api) if secret
                                     else ProviderSink(folder, "dingtalk", dingtalk.render(d.agent_id)))
        apps.daily_limits["dingtalk"] = d.daily_limit
        apps.per_person_daily["dingtalk"] = d.per_person_daily
    w = notify.wecom
    if w.corp_id and w.agent_id:
        secret = env.get(w.secret_env)
        apps.adapters["wecom"] = (wecom.WeComApp(w.corp_id, secret, w.agent_id, w.api, w.per_member_per_minute)
                                  if secret else ProviderSink(folder, "wecom", wecom.render(w.agent_id)))
        apps.daily_limits["wecom"] = w.daily_limit
    s = notify.sms
    if s.provider != "none":
        key_id, key_secret = env.get(s.key_id_env), env.get(s.key_secret_env)
        if key_id and key_secret and s.provider == "aliyun":
            adapter = AliyunSms(key_id, key_secret, s.sign_name, s.template_code, endpoint=s.endpoint,
                                region=s.region, var_max_chars=s.var_max_chars)
        elif key_id and key_secret:
            adapter = TencentSms(key_id, key_secret, s.sdk_app_id, s.sign_name, s.template_code, endpoint=s.endpoint,
                                 region=s.region, var_max_chars=s.var_max_chars)
        else:
            shape = AliyunSms if s.provider == "aliyun" else TencentSms
            probe = shape.__new__(shape)
            probe.sign_name, probe.template_code, probe.limit = s.sign_name, s.template_code, s.var_max_chars
            probe.sdk_app_id, probe.template_id = s.sdk_app_id, s.template_code
            adapter = ProviderSink(folder, "sms", probe.request)
        apps.adapters["sms"] = adapter
        apps.daily_limits["sms"] = s.daily_limit
    return apps


# ---------------------------------------------------------------- routes

@dataclass(frozen=True)
class Person:
    email: str | None
    webhook: str | None
    im_account: str | None
    mobile: str | None
    channels: str | None
    quiet_hours: str | None


def _is_wecom_hook(url: str) -> bool:
    return "/cgi-bin/webhook/send" in url


def plan_route(person: Person, kinds: set[str], apps: Apps | None) -> list[list[str]]:
    """[[channel, address], …] in the person's order (only the channels they chose; without a
    choice, ``notify.channels``): each channel the person can be reached on and duban has set up."""
    apps = apps or Apps()
    own = [c for c in (person.channels or "").split(",") if c in CHANNELS]
    order = own or list(apps.order)
    hops: list[list[str]] = []
    for ch in order:
        if ch == "email" and person.email:
            hops.append(["email", person.email])
        elif ch == "dingtalk":
            if person.webhook and not _is_wecom_hook(person.webhook):
                hops.append(["dingtalk", person.webhook])
            if "dingtalk" in apps.adapters and (person.im_account or person.mobile):
                hops.append(["dingtalk", person.im_account or person.mobile])
        elif ch == "wecom":
            if person.webhook and _is_wecom_hook(person.webhook):
                hops.append(["wecom", person.webhook])
            if "wecom" in apps.adapters and person.im_account:
                hops.append(["wecom", person.im_account])
        elif ch == "sms" and "sms" in apps.adapters and person.mobile and _MOBILE.match(person.mobile) \
                and kinds & apps.sms_kinds:
            hops.append(["sms", person.mobile])
    return hops


def resolve_routes(session: Session, rows: list, apps: Apps | None) -> None:
    """Fix the route of each outbox row about to be rendered (two queries for the recipients and
    one for the digests' kinds, for the whole batch); sets ``route`` and the first ``channel``."""
    if not rows:
        return
    ids = [r.id for r in rows]
    kinds: dict[int, set[str]] = {i: set() for i in ids}
    for digest_id, kind in session.execute(sa.select(Notice.digest_id, Notice.kind).where(Notice.digest_id.in_(ids))
                                           .group_by(Notice.digest_id, Notice.kind)):
        kinds[digest_id].add(kind)
    contact_ids = [r.recipient_id for r in rows if r.recipient_kind == "contact"]
    unit_ids = [r.recipient_id for r in rows if r.recipient_kind == "supervisor"]
    people: dict[tuple[str, int], Person] = {}
    if contact_ids:
        c = Contact.__table__.c
        for r in session.execute(sa.select(c.id, c.email, c.webhook, c.im_account, c.mobile, c.channels,
                                           c.quiet_hours).where(c.id.in_(contact_ids))):
            people["contact", r.id] = Person(r.email, r.webhook, r.im_account, r.mobile, r.channels, r.quiet_hours)
    if unit_ids:
        j = Jurisdiction.__table__.c
        for r in session.execute(sa.select(j.id, j.supervisor_email, j.supervisor_webhook, j.supervisor_im_account,
                                           j.supervisor_mobile, j.supervisor_channels, j.supervisor_quiet_hours)
                                 .where(j.id.in_(unit_ids))):
            people["supervisor", r.id] = Person(*r[1:])
    for row in rows:
        person = people.get((row.recipient_kind, row.recipient_id))
        if person is None:
            hops = [[row.channel, row.address]] if row.address else []
            quiet = None
        else:
            hops, quiet = plan_route(person, kinds[row.id], apps), person.quiet_hours
        row.route = json.dumps({"hops": hops, "quiet": quiet, "kinds": sorted(kinds[row.id])}, ensure_ascii=False)
        if hops:
            row.channel, row.address = hops[0][0], hops[0][1]


# ---------------------------------------------------------------- sending along a route

@dataclass(frozen=True)
class Delivered:
    channel: str
    address: str
    transport: str
    request_id: str
    repeated: bool = False     # already sent today: recorded, not sent again


class Later(Exception):
    """Not now, and not a failure: quiet hours, or every channel over its daily limit."""

    def __init__(self, until: dt.datetime, reason: str):
        super().__init__(reason)
        self.until, self.reason = until, reason


def content_digest(msg: Message) -> str:
    return hashlib.sha256(f"{msg.subject}\n{msg.text}".encode()).hexdigest()


def _adapter(channels: Channels, apps: Apps | None, channel: str, address: str):
    """(adapter, kind): the robot or mail adapters of channels.py for addresses and webhooks,
    the app adapters for userids and mobiles."""
    if channel == "email":
        return channels.email, "plain"
    if address.startswith(("http://", "https://")):
        return channels.by_channel.get(channel), "plain"
    adapter = (apps.adapters if apps else {}).get(channel)
    return adapter, "app"


def _read(conn: Connection, stmt):
    """A read on the marker connection, in its own short transaction (the connection commits
    each outcome with begin(), so nothing may be left open on it)."""
    with conn.begin():
        return conn.execute(stmt).first()


def _count(conn: Connection, *where) -> int:
    t = ChannelSend.__table__
    return _read(conn, sa.select(sa.func.count()).select_from(t).where(*where))[0] or 0


def send_routed(conn: Connection, channels: Channels, apps: Apps | None, oid: int, msg: Message, route: dict,
                items: int, supervisor: bool, now: dt.datetime, timezone: str) -> Delivered:
    """Walk the route: the first channel that takes the message delivers it. Raises Later
    (quiet hours, every channel over its daily limit) or SendError: permanent only when every
    channel failed for good, unreachable only when every channel was unreachable; its ``code``
    is the last provider error code."""
    until = quiet_until(now, route.get("quiet"), timezone)
    if until is not None:
        raise Later(until, "免打扰时段，结束后发送")
    hops = route.get("hops") or []
    if not hops:
        raise ProviderError("无可用的通知渠道：联系人没有所选渠道的账号、手机或邮箱", code="no-channel", permanent=True)
    t = ChannelSend.__table__
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date()
    digest = content_digest(msg)
    ctx = Context(items=items, kinds=frozenset(route.get("kinds") or ()), supervisor=supervisor)
    failures: list[tuple[str, SendError]] = []
    limited = 0
    for channel, address in hops:
        adapter, kind = _adapter(channels, apps, channel, address)
        if adapter is None:
            failures.append((channel, ProviderError(f"渠道 {channel} 未配置", code="not-configured", permanent=True)))
            continue
        if kind == "app":   # the providers' rules: once a day per content, daily limits
            done = _read(conn, sa.select(t.c.transport, t.c.request_id).where(
                t.c.channel == channel, t.c.recipient == address, t.c.day == day, t.c.digest == digest))
            if done is not None:       # the platforms' once-a-day rule: it went out already
                return Delivered(channel, address, done.transport, done.request_id or "", repeated=True)
            limit = (apps.daily_limits.get(channel, 0) if apps else 0)
            per_person = apps.per_person_daily.get(channel, 0) if apps else 0
            if (limit and _count(conn, t.c.channel == channel, t.c.day == day) >= limit) or \
                    (per_person and _count(conn, t.c.channel == channel, t.c.day == day, t.c.recipient == address) >= per_person):
                limited += 1
                failures.append((channel, ProviderError(f"{CHANNEL_NAMES[channel]}今日发送量已达上限", code="daily-limit")))
                continue
        try:
            request_id = adapter.send(msg, address, ctx) if kind == "app" else adapter.send(
                Message(msg.key, address, msg.name, msg.subject, msg.text, msg.html))
        except SendError as exc:
            failures.append((channel, exc))
            continue
        if kind == "app":
            with conn.begin():
                conn.execute(sa.insert(t).values(channel=channel, recipient=address[:255], day=day, digest=digest,
                                                 outbox_id=oid, transport=adapter.name,
                                                 request_id=(request_id or "")[:120], sent_at=dt.datetime.now(dt.UTC)))
        return Delivered(channel, address, adapter.name, request_id or "")
    if limited and limited == len(failures):
        tomorrow = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(8, 0), zone).astimezone(dt.UTC)
        raise Later(tomorrow, "各渠道今日发送量已达上限，明日发送")
    text = "；".join(f"{CHANNEL_NAMES.get(ch, ch)}：{exc}" for ch, exc in failures)
    last = failures[-1][1]
    raise ProviderError(text, code=getattr(last, "code", None),
                        permanent=all(exc.permanent for _, exc in failures),
                        unreachable=all(exc.unreachable for _, exc in failures))
