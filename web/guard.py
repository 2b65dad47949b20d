"""What every request and response passes through, as plain ASGI middleware:

- BodyLimit: a request body larger than the configured limit is refused with 413 before any
  route parses it — by its Content-Length when it gives one, and by counting the bytes as they
  arrive otherwise (a chunked body, or a Content-Length that lies). The routes that take an
  evidence file get the larger limit (web.max_upload_bytes), everything else web.max_body_bytes.
- SecurityHeaders: a Content-Security-Policy without inline script or style (the pages load
  /static/duban.css only; /api/docs its own swagger-ui files), no framing, nosniff, no referrer
  (completion links carry their token in the URL), and no caching of anything but /static."""
from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# the routes that take an evidence file: the item's completion form, a notice's completion link,
# the API's completion (the file in Base64 inside the JSON)
UPLOAD_ROUTES = re.compile(r"^/(items/\d+/complete|c/[^/]+|api/v1/occurrences/\d+/completions)/?$")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class BodyTooLarge(Exception):
    pass


def megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


class BodyLimit:
    """413 for a body over the limit, before the route reads it (see the module's docstring).
    ``render(scope, status, title, message)`` gives the refusal's response for a page."""

    def __init__(self, app, *, max_body: int, max_upload: int, render: Callable | None = None):
        self.app, self.max_body, self.max_upload, self.render = app, max_body, max_upload, render

    def limit_for(self, path: str) -> int:
        return self.max_upload if UPLOAD_ROUTES.match(path) else self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            text = declared[0].decode("latin-1").strip()
            if len(declared) > 1 or not text.isdigit() or len(text) > 18:
                return await self._refuse(scope, send, 400, "请求有误", "请求头 Content-Length 无效")
            if int(text) > limit:
                return await self._too_large(scope, send, limit)
        received = 0
        too_big = started = False

        async def counted() -> Message:
            nonlocal received, too_big
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_big = True
                    raise BodyTooLarge()
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if too_big:          # whatever the route made of the cut-off body is not sent
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not too_big or started:
                raise
        if too_big and not started:
            await self._too_large(scope, send, limit)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        what = "附件连同表单" if limit == self.max_upload and UPLOAD_ROUTES.match(scope["path"]) else "请求内容"
        await self._refuse(scope, send, 413, "内容过大", f"{what}超过 {megabytes(limit)} 的上限，未予接收")

    async def _refuse(self, scope: Scope, send: Send, status: int, title: str, message: str) -> None:
        if scope["path"].startswith("/api/") or self.render is None:
            body, kind = json.dumps({"detail": message}, ensure_ascii=False).encode(), b"application/json"
        else:
            body, kind = self.render(scope, status, title, message).encode(), b"text/html; charset=utf-8"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """The headers of the module's docstring on every response (a route's own header wins)."""

    def __init__(self, app, *, cache_paths: tuple[str, ...] = ("/static/",)):
        self.app, self.cache_paths = app, cache_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cacheable = scope["path"].startswith(self.cache_paths)

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if not cacheable and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # an unexpected error: the person gets a plain 500 in Chinese, with these headers (the
            # server's own error page would go out without them); the error still reaches the log
            if not started:
                api = scope["path"].startswith("/api/")
                body = (json.dumps({"detail": "服务器内部错误"}).encode() if api
                        else "<!doctype html><meta charset=utf-8><title>出错了</title>"
                             "<p>服务器内部错误，请稍后再试；如反复出现，请联系本单位协调员。</p>".encode())
                kind = b"application/json" if api else b"text/html; charset=utf-8"
                await with_headers({"type": "http.response.start", "status": 500,
                                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
                await with_headers({"type": "http.response.body", "body": body})
            raise
