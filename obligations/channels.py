"""Notice channels and each person's preferences, as people write them in the contacts workbook
(通知渠道 ``钉钉、邮件``, 通知时间 ``08:30``, 免打扰时段 ``22:00-07:00``) and as they are stored
(``dingtalk,email``). Pure: no I/O."""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

CHANNELS = ("email", "dingtalk", "wecom", "sms")
CHANNEL_WORDS = {"邮件": "email", "邮箱": "email", "电子邮件": "email", "email": "email",
                 "钉钉": "dingtalk", "钉钉工作通知": "dingtalk", "dingtalk": "dingtalk",
                 "企业微信": "wecom", "企微": "wecom", "wecom": "wecom",
                 "短信": "sms", "sms": "sms"}
CHANNEL_NAMES = {"email": "邮件", "dingtalk": "钉钉", "wecom": "企业微信", "sms": "短信", "im": "钉钉/企业微信",
                 "none": "无"}
_TIME = re.compile(r"^([01]?\d|2[0-3])[:：]([0-5]\d)$")


# ---------------------------------------------------------------- preferences (pure)

def parse_channels(text: str | None) -> str | None:
    """``钉钉、邮件`` → ``dingtalk,email``; ValueError naming an unknown word."""
    words = [w.strip() for w in re.split(r"[,，、;；/\s>→]+", str(text or "")) if w.strip()]
    if not words:
        return None
    out = []
    for w in words:
        ch = CHANNEL_WORDS.get(w.lower())
        if ch is None:
            raise ValueError(f"不认识的通知渠道 {w!r}（可用：钉钉、企业微信、短信、邮件，按先后顺序用顿号分开）")
        if ch not in out:
            out.append(ch)
    return ",".join(out)


def channels_text(stored: str | None) -> str:
    """``dingtalk,email`` → ``钉钉、邮件`` (the workbook's words)."""
    return "、".join(CHANNEL_NAMES[c] for c in (stored or "").split(",") if c in CHANNEL_NAMES)


def parse_time(text: str | None) -> str | None:
    """``8:30`` → ``08:30``."""
    value = str(text or "").strip()
    if isinstance(text, dt.time):
        return text.strftime("%H:%M")
    if not value:
        return None
    m = _TIME.match(value[:5] if re.match(r"^\d\d:\d\d:\d\d$", value) else value)
    if not m:
        raise ValueError(f"{value!r} 不是时间（如 08:30）")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def parse_quiet(text: str | None) -> str | None:
    """``22:00-07:00`` (from, to; may run past midnight)."""
    value = str(text or "").strip()
    if not value:
        return None
    parts = re.split(r"\s*[-–—~～至到]\s*", value)
    if len(parts) != 2:
        raise ValueError(f"{value!r} 不是时段（如 22:00-07:00）")
    start, end = parse_time(parts[0]), parse_time(parts[1])
    if start == end:
        raise ValueError(f"{value!r} 的开始与结束相同")
    return f"{start}-{end}"


def quiet_window(stored: str | None) -> tuple[dt.time, dt.time] | None:
    if not stored:
        return None
    a, b = stored.split("-")
    return dt.time.fromisoformat(a), dt.time.fromisoformat(b)


def quiet_until(now: dt.datetime, stored: str | None, timezone: str) -> dt.datetime | None:
    """When the person's quiet hours end, if ``now`` falls in them; None otherwise."""
    window = quiet_window(stored)
    if window is None:
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    start, end = window
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() + dt.timedelta(days=1) if (start > end and t >= start) else local.date()
    return dt.datetime.combine(day, end, zone).astimezone(dt.UTC)
