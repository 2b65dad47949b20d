"""Completion links: a signed, expiring token per notice item (HMAC-SHA256 over the payload).
Single use is enforced where the link is served (``notice.link_used_at``)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from obligations.errors import DubanError


class LinkError(DubanError, ValueError):
    http_status = 410


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: bytes, *, notice_id: int, occurrence_id: int, expires: dt.date) -> str:
    payload = _b64(json.dumps({"n": notice_id, "o": occurrence_id, "e": expires.isoformat()},
                              separators=(",", ":")).encode())
    sig = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:20])
    return f"{payload}.{sig}"


def read_token(secret: bytes, token: str, today: dt.date) -> dict:
    """The payload of a valid token; LinkError (in Chinese) when forged or expired."""
    try:
        payload, sig = token.split(".", 1)
        expected = _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest()[:20])
        if not hmac.compare_digest(sig, expected):
            raise LinkError("链接无效（签名不符），请使用通知中的原始链接")
        data = json.loads(_unb64(payload))
    except (ValueError, json.JSONDecodeError) as exc:
        if isinstance(exc, LinkError):
            raise
        raise LinkError("链接无效，请使用通知中的原始链接") from None
    if dt.date.fromisoformat(data["e"]) < today:
        raise LinkError(f"链接已于 {data['e']} 过期，请登录督办系统办理")
    return {"notice_id": data["n"], "occurrence_id": data["o"], "expires": data["e"]}


def load_secret(data_dir: Path) -> bytes:
    """DUBAN_SECRET from the environment, else a random key kept in data_dir/secret.key."""
    env = os.environ.get("DUBAN_SECRET")
    if env:
        return env.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
