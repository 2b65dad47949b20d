"""What the provider adapters (DingTalk work notices, WeCom app messages, SMS) share: the
error that carries the provider's code, a cached access token, per-recipient pacing, the
links of a digest, and the file sink that stands in for a provider when its secret is not set.

A provider adapter's interface: ``send(msg, to, ctx) -> request id`` (raising ``ProviderError``),
``close()``, and ``name`` (the transport recorded on the outbox row)."""
from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from notifications.channels import Message, SendError
from storage.atomic import write_atomic


class ProviderError(SendError):
    """A failed send with the provider's own error code (``errcode`` 60121, ``isv.MOBILE_NUMBER_ILLEGAL`` …)."""

    def __init__(self, message: str, *, code: str | None = None, permanent: bool = False,
                 unreachable: bool = False):
        super().__init__(message, permanent=permanent, unreachable=unreachable)
        self.code = code


@dataclass(frozen=True)
class Context:
    """What an adapter may need beyond the message: the digest's item count and notice kinds."""
    items: int = 0
    kinds: frozenset[str] = frozenset()
    supervisor: bool = False


_LINK = re.compile(r"https?://[^\s<>\"'）)]+/c/[A-Za-z0-9._~-]+")


def links_of(text: str) -> list[str]:
    """The completion links of a digest, in order, each once."""
    return list(dict.fromkeys(_LINK.findall(text or "")))


def cut(text: str, limit: int, tail: str = "…") -> str:
    """At most ``limit`` characters, ending with ``tail`` when cut."""
    text = text or ""
    return text if len(text) <= limit else text[: max(limit - len(tail), 0)] + tail


def cut_bytes(text: str, limit: int, tail: str = "…") -> str:
    """At most ``limit`` UTF-8 bytes, never splitting a character."""
    data = (text or "").encode()
    if len(data) <= limit:
        return text or ""
    return data[: limit - len(tail.encode())].decode(errors="ignore") + tail


class TokenCache:
    """Access tokens by (endpoint, app): fetched once, kept until shortly before ``expires_in``
    runs out, and dropped when the provider calls one expired or invalid. Shared by every adapter
    of the process (a deliver run, and the next ones in a long-lived ``duban up``)."""

    _lock = threading.Lock()
    _tokens: dict[tuple[str, str], tuple[str, float]] = {}
    margin = 300.0   # seconds before the stated expiry when a token is renewed

    def __init__(self, key: tuple[str, str], fetch: Callable[[], tuple[str, int]],
                 clock: Callable[[], float] = time.monotonic):
        self.key, self.fetch, self.clock = key, fetch, clock

    def get(self) -> str:
        with self._lock:
            hit = self._tokens.get(self.key)
            if hit and hit[1] > self.clock():
                return hit[0]
        token, expires_in = self.fetch()
        with self._lock:
            self._tokens[self.key] = (token, self.clock() + max(expires_in - self.margin, 60))
        return token

    def drop(self) -> None:
        with self._lock:
            self._tokens.pop(self.key, None)

    @classmethod
    def clear(cls) -> None:
        with cls._lock:
            cls._tokens.clear()


class Pacer:
    """At most ``limit`` sends to one recipient in any ``period`` seconds: a send over the limit
    waits (a delay, never a loss: WeCom silently drops what goes over its per-member limit)."""

    def __init__(self, limit: int, period: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.limit, self.period, self.clock, self.sleep = limit, period, clock, sleep
        self._sent: dict[str, deque[float]] = {}
        self.waited = 0.0

    def wait(self, recipient: str) -> None:
        times = self._sent.setdefault(recipient, deque())
        now = self.clock()
        while times and times[0] <= now - self.period:
            times.popleft()
        if len(times) >= self.limit:
            pause = times[0] + self.period - now
            if pause > 0:
                self.sleep(pause)
                self.waited += pause
            times.popleft()
        times.append(self.clock())

    def done(self, recipient: str) -> None:
        """The send has been answered: count it from now (the provider saw it between the two
        moments; counting from the later one keeps the window on the safe side)."""
        times = self._sent.get(recipient)
        if times:
            times[-1] = self.clock()


@dataclass
class HttpApi:
    """JSON over HTTPS with one httpx client; every failure below the provider's own answer is
    a transient ``ProviderError`` (a connection refused: ``unreachable``)."""
    base: str
    label: str
    timeout: float = 10.0
    _client: httpx.Client | None = field(default=None, repr=False)

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        return self._client

    def call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None) -> dict:
        url = self.base.rstrip("/") + path
        try:
            reply = self.client().request(method, url, params=params, json=body)
        except httpx.ConnectError as exc:
            raise ProviderError(f"{self.label}接口无法连接：{exc}", code="connect", unreachable=True) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.label}接口请求失败：{exc}", code="http") from exc
        if reply.status_code >= 500 or reply.status_code == 429:
            raise ProviderError(f"{self.label}接口返回 HTTP {reply.status_code}", code=f"HTTP {reply.status_code}")
        if reply.status_code >= 400:
            raise ProviderError(f"{self.label}接口拒绝请求：HTTP {reply.status_code}", code=f"HTTP {reply.status_code}",
                                permanent=True)
        try:
            data = reply.json()
        except ValueError:
            raise ProviderError(f"{self.label}接口返回的不是 JSON", code="json") from None
        if not isinstance(data, dict):
            raise ProviderError(f"{self.label}接口返回的不是 JSON 对象", code="json")
        return data

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class ProviderSink:
    """Stands in for a provider whose secret is not set (the demo, a machine offline): writes the
    request the adapter would send to ``<folder>/<key>.<channel>.json``, once per key."""

    name = "file"

    def __init__(self, folder: Path, channel: str, render: Callable[[Message, str, Context], dict]):
        self.folder, self.channel, self.render = folder, channel, render

    def send(self, msg: Message, to: str, ctx: Context) -> str:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in msg.key)
        target = self.folder / f"{safe}.{self.channel}.json"
        body = {"channel": self.channel, "to": to, "request": self.render(msg, to, ctx)}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(target, json.dumps(body, ensure_ascii=False, indent=2).encode())
        except OSError as exc:
            raise ProviderError(f"写入 {target} 失败：{exc}", code="file") from exc
        return f"file:{safe}.{self.channel}"

    def close(self) -> None:
        pass
