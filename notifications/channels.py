"""Channels: one small adapter each, one interface (``open``, ``send``, ``close``).

- FileSink: .eml files, the embedded default; written atomically under a name derived from the
  idempotency key, so a repeated send overwrites instead of duplicating.
- Smtp: STARTTLS or SSL, login, one connection reused for a batch, UTF-8 headers, a stable
  Message-ID derived from the idempotency key. Selected by DUBAN_SMTP_URL.
- DingTalk and WeCom group robots over HTTPS (httpx); DingTalk requests are signed with the
  robot's secret (timestamp + HMAC-SHA256); a 200 reply with a non-zero errcode is a failure.
Secrets come from the environment only."""
from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import os
import smtplib
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import httpx

from obligations.mailbox import mailbox
from storage.atomic import write_atomic

WECOM_LIMIT = 4096  # bytes of markdown content a WeCom robot accepts


@dataclass(frozen=True)
class Message:
    key: str
    address: str
    name: str | None
    subject: str
    text: str
    html: str


class SendError(Exception):
    """A failed send. ``permanent`` failures are not retried; ``unreachable``: the channel itself
    is down (connection refused), so the messages after this one need not be tried now."""

    def __init__(self, message: str, permanent: bool = False, unreachable: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.unreachable = unreachable


def message_id(key: str, sender: str) -> str:
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "duban.local"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def recipient(msg: Message) -> Address:
    """The recipient as the email library's Address. The address must be one mailbox, else a
    permanent failure of this message (recorded on its outbox row); a display name that is not
    plain text (an address, a comma, a line break — see obligations.mailbox) is left out rather
    than let it add a recipient or a header."""
    try:
        return mailbox(msg.name, msg.address)
    except ValueError:
        pass
    try:
        return mailbox(None, msg.address)
    except ValueError as exc:
        raise SendError(f"收件地址无效：{exc}", permanent=True) from None


def sender_address(sender: str) -> Address:
    """notify.sender (``督办系统 <duban@example.org>`` or a bare address) as an Address."""
    name, addr = email.utils.parseaddr(sender)
    try:
        return mailbox(name or None, addr)
    except ValueError as exc:
        raise SendError(f"发件人 notify.sender 无效：{exc}", permanent=True) from None


def formatted(address: Address) -> str:
    """An Address as a header value: the name quoted, or RFC 2047 UTF-8 when not ASCII."""
    return email.utils.formataddr((address.display_name, address.addr_spec), charset="utf-8") \
        if address.display_name else address.addr_spec


def build_email(msg: Message, sender: str) -> MIMEMultipart:
    """A multipart/alternative (text + HTML) message with RFC 2047 UTF-8 headers. Built with the
    compat32 MIME classes: the default policy's header folding costs more than sending. From and
    To are the email library's Address objects, formatted by it — never concatenated text."""
    # a boundary from the key: the same bytes on a resend, and no random pick plus search of the
    # body for it ("_" is not a base64 character, so no encoded line can equal it)
    out = MIMEMultipart("alternative", boundary="=_duban_" + hashlib.sha256(msg.key.encode()).hexdigest()[:24])
    out["Subject"] = Header(msg.subject, "utf-8")
    out["From"] = formatted(sender_address(sender))
    out["To"] = formatted(recipient(msg))
    out["Date"] = email.utils.formatdate(localtime=False)
    out["Message-ID"] = message_id(msg.key, sender)
    out["X-Duban-Key"] = msg.key
    out.attach(MIMEText(msg.text, "plain", "utf-8"))
    out.attach(MIMEText(msg.html, "html", "utf-8"))
    return out


class FileSink:
    name = "file"

    def __init__(self, folder: Path, sender: str):
        self.folder, self.sender = folder, sender

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in key)
        return self.folder / f"{safe}.eml"

    def send(self, msg: Message) -> str:
        data = build_email(msg, self.sender)
        self.open()
        target = self.path_for(msg.key)
        try:
            write_atomic(target, data.as_bytes())
        except OSError as exc:
            raise SendError(f"写入 {target} 失败：{exc}") from exc
        return data["Message-ID"]

    def close(self) -> None:
        pass


class Smtp:
    name = "smtp"

    def __init__(self, url: str, sender: str, timeout: float = 30):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"DUBAN_SMTP_URL 应以 smtp:// 或 smtps:// 开头，而不是 {parts.scheme}://")
        query = urllib.parse.parse_qs(parts.query)
        self.ssl = parts.scheme == "smtps"
        self.starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.verify = query.get("verify", ["1"])[0] not in ("0", "false", "no")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.ssl else 25)
        self.user = urllib.parse.unquote(parts.username) if parts.username else None
        self.password = urllib.parse.unquote(parts.password) if parts.password else None
        self.sender, self.timeout = sender, timeout
        self._conn: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def open(self) -> None:
        if self._conn is not None:
            return
        try:
            if self.ssl:
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    conn.starttls(context=self._context())
            if self.user:
                conn.login(self.user, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP 登录失败：{exc.smtp_code} {exc.smtp_error!r}", permanent=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"无法连接 SMTP 服务器 {self.host}:{self.port}：{exc}", unreachable=True) from exc
        self._conn = conn

    def send(self, msg: Message) -> str:
        data = build_email(msg, self.sender)
        for attempt in (1, 2):
            self.open()
            try:
                # the envelope names the one checked recipient, not whatever the headers parse to
                self._conn.send_message(data, from_addr=sender_address(self.sender).addr_spec,
                                        to_addrs=[recipient(msg).addr_spec])
                return data["Message-ID"]
            except smtplib.SMTPServerDisconnected as exc:
                self._conn = None           # a reused connection went stale: reconnect once
                if attempt == 2:
                    raise SendError(f"SMTP 连接中断：{exc}", unreachable=True) from exc
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                raise SendError(f"收件人被拒绝：{exc.recipients}", permanent=all(c >= 500 for c in codes)) from exc
            except smtplib.SMTPResponseException as exc:
                raise SendError(f"SMTP 错误 {exc.smtp_code}：{exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
            except (TimeoutError, OSError, smtplib.SMTPException) as exc:
                self._conn = None
                raise SendError(f"SMTP 发送失败：{exc}") from exc
        raise SendError("SMTP 发送失败")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._conn = None


def markdown_of(msg: Message) -> str:
    return f"### {msg.subject}\n\n" + msg.text.replace("\n", "\n\n")


class _Robot:
    def __init__(self, timeout: float = 10):
        self.timeout = timeout
        self._client: httpx.Client | None = None

    def open(self) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _post(self, url: str, body: dict) -> None:
        self.open()
        try:
            reply = self._client.post(url, json=body)
        except httpx.HTTPError as exc:
            raise SendError(f"机器人接口无法访问：{exc}") from exc
        if reply.status_code >= 500 or reply.status_code == 429:
            raise SendError(f"机器人接口返回 HTTP {reply.status_code}")
        if reply.status_code >= 400:
            raise SendError(f"机器人接口拒绝请求：HTTP {reply.status_code}", permanent=True)
        try:
            data = reply.json()
        except ValueError:
            raise SendError("机器人接口返回的不是 JSON") from None
        if data.get("errcode", 0) != 0:
            # rate limits and system busy are worth retrying; anything else is a configuration fault
            transient = data.get("errcode") in (-1, 130101, 45009, 45033)
            raise SendError(f"机器人接口返回错误 errcode={data.get('errcode')} {data.get('errmsg', '')}",
                            permanent=not transient)


class DingTalk(_Robot):
    name = "dingtalk"

    def __init__(self, secret: str | None, timeout: float = 10):
        super().__init__(timeout)
        self.secret = secret

    def signed_url(self, url: str, timestamp_ms: int | None = None) -> str:
        if not self.secret:
            return url
        ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
        digest = hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(), hashlib.sha256).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(digest))
        return f"{url}{'&' if '?' in url else '?'}timestamp={ts}&sign={sign}"

    def send(self, msg: Message) -> str:
        self._post(self.signed_url(msg.address), {"msgtype": "markdown",
                                                  "markdown": {"title": msg.subject, "text": markdown_of(msg)}})
        return msg.key


class WeCom(_Robot):
    name = "wecom"

    def send(self, msg: Message) -> str:
        content = markdown_of(msg)
        if len(content.encode()) > WECOM_LIMIT:
            tail = "\n\n……内容过长，其余事项请查看邮件或登录督办系统。"
            budget = WECOM_LIMIT - len(tail.encode())
            content = content.encode()[:budget].decode(errors="ignore") + tail
        self._post(msg.address, {"msgtype": "markdown", "markdown": {"content": content}})
        return msg.key


class Channels:
    """The adapters for a delivery run, chosen from the environment."""

    def __init__(self, outbox_dir: Path, sender: str, smtp_url: str | None = None,
                 dingtalk_secret: str | None = None):
        self.email = Smtp(smtp_url, sender) if smtp_url else FileSink(outbox_dir, sender)
        self.by_channel = {"email": self.email, "dingtalk": DingTalk(dingtalk_secret), "wecom": WeCom()}
        self.apps = None   # notifications.routing.Apps: DingTalk/WeCom apps and SMS, set by notifications.service

    @classmethod
    def from_env(cls, outbox_dir: Path, sender: str) -> Channels:
        return cls(outbox_dir, sender, os.environ.get("DUBAN_SMTP_URL") or None,
                   os.environ.get("DUBAN_DINGTALK_SECRET") or None)

    def close(self) -> None:
        for adapter in self.by_channel.values():
            adapter.close()
        if self.apps is not None:
            self.apps.close()
