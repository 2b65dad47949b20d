"""One vocabulary for people: how duban names a clause, a period, a status, a notice stage, a
unit level, a channel, a date and a number in Chinese. The web pages, the mail, the reports and
the command line all take their words from here, so that the same thing is never called two
names (工作要求第2段 on a page and 第2项 in a mail; 2025-Q4 beside 2025年第4季度).

Pure: strings and dates in, strings out."""
from __future__ import annotations

import datetime as dt
import re

from dateutil.relativedelta import relativedelta

STATUS_NAMES = {"open": "未到期", "due_soon": "即将到期", "overdue": "逾期未办", "done": "按期办结",
                "done_late": "逾期办结", "waived": "已豁免", "submitted": "待审核"}
# the review of a completion (办结审核): awaiting, returned to the department, accepted
REVIEW_NAMES = {"submitted": "待审核", "returned": "已退回", "accepted": "审核通过"}
NOTICE_KIND_NAMES = {"remind": "到期提醒", "due": "今日到期", "overdue": "逾期催办", "escalate": "逾期督办",
                     "urge": "协调员催办",   # urge: a coordinator's reminder sent by hand
                     "return": "退回重办",
                     "feedback": "进度反馈提醒"}   # feedback: a long item's feedback day (obligations.feedback)
NOTICE_KIND_NAMES["confirm"] = "协办确认提醒"   # to a co-department, on the lead's item
LEVEL_NAMES = {"province": "省级", "city": "市级", "county": "县级", "township": "乡镇（街道）", "village": "村（社区）"}
CHANNEL_NAMES = {"cli": "命令行", "web": "网页", "email": "通知链接", "api": "接口", "demo": "演示", "import": "表格导入",
                 "dingtalk": "钉钉", "wecom": "企业微信", "file": "邮件文件", "none": "无"}
REQUEST_STATUS_NAMES = {"pending": "待审核", "approved": "已批准", "rejected": "已驳回"}
OUTBOX_STATUS_NAMES = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "skipped": "无需发送",
                       "dead": "发送失败"}
UNIT_LEVEL_NAMES = {"province": "省", "city": "市", "county": "县（市、区）", "township": "乡镇（街道）",
                    "village": "村（社区）"}
SCOPE_NAMES = {"issuer": "发文单位", "province": "各省", "city": "各市", "county": "各县（市、区）",
               "township": "各乡镇（街道）", "village": "各村（社区）", "case": "每名重点关爱对象"}
CADENCE_KIND_NAMES = {"once": "一次性", "monthly": "每月", "quarterly": "每季度", "semiannual": "每半年",
                      "annual": "每年", "biennial": "每两年", "rrule": "自定义周期", "event": "事件触发"}
WEEKDAYS = "一二三四五六日"
_DIGITS = "零一二三四五六七八九"


def numeral(n: int) -> str:
    """A number in Chinese numerals, as in headings and ordinals: 1 → 一, 10 → 十, 12 → 十二,
    20 → 二十, 105 → 一百零五 (0–9999)."""
    if not 0 <= n <= 9999:
        return str(n)
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if zero and out else "") + _DIGITS[d] + unit
            zero = False
        elif out:
            zero = True
    return out


def clause_label(code: str) -> str:
    """How people cite a clause: 第3条, 工作要求第2段, 基础清单第19项."""
    if code == "assigned":         # the one clause of an ad-hoc assignment (storage.tasks)
        return "交办事项"
    kind, _, n = str(code).partition("-")
    if n and kind == "req":
        return f"工作要求第{n}段"
    if n and kind == "list":
        return f"基础清单第{n}项"
    return f"第{code}条"


_DOC_KINDS = ("实施方案", "工作方案", "行动方案", "方案", "实施意见", "意见", "通知", "办法")
_LOCALITY = re.compile(r"^.{1,12}?(?:自治区|自治州|特别行政区|省|市|州|盟|县|区|旗)")


def short_title(title: str, limit: int = 12) -> str:
    """A plan's title where space is tight: its locality and the kind of document
    (福建省加强流动儿童关爱保护行动实施方案 → 福建省实施方案); a title already short, or
    one that names no locality, as it is (cut with … past ``limit``)."""
    text = re.sub(r"[（(][^）)]*[）)]$", "", title.strip()) or title.strip()
    if len(text) <= limit:
        return text
    where = _LOCALITY.match(text)
    kind = next((k for k in _DOC_KINDS if text.endswith(k)), None)
    if where and kind and len(where.group(0)) + len(kind) <= limit:
        return where.group(0) + kind
    return text[:limit - 1] + "…"


def period_label(key: str) -> str:
    """A stored period key for people: 2025年3月, 2025年第1季度, 2025年上半年, 2025—2026年."""
    if key == "once":
        return "一次性"
    if "~" in key:
        a, b = key.split("~")
        return f"{a}—{b}年"
    if "-Q" in key:
        y, q = key.split("-Q")
        return f"{y}年第{q}季度"
    if "-H" in key:
        y, h = key.split("-H")
        return f"{y}年{'上' if h == '1' else '下'}半年"
    if len(key) == 4:
        return f"{key}年"
    if len(key) == 7:
        y, m = key.split("-")
        return f"{y}年{int(m)}月"
    if len(key) == 10:
        return f"{key}起"
    return key


def period_words(start: dt.date, end: dt.date) -> str:
    """A date range in words: 2025年、2025年上半年、2025年第4季度、2025年3月, else
    2025年1月1日至2025年2月15日 (the same quarter names as ``period_label``)."""
    if start.day == 1 and end == start + relativedelta(years=1, days=-1) and start.month == 1:
        return f"{start.year}年"
    if start.day == 1 and start.month in (1, 7) and end == start + relativedelta(months=6, days=-1):
        return f"{start.year}年{'上' if start.month == 1 else '下'}半年"
    if start.day == 1 and start.month % 3 == 1 and end == start + relativedelta(months=3, days=-1):
        return f"{start.year}年第{(start.month + 2) // 3}季度"
    if start.day == 1 and end == start + relativedelta(months=1, days=-1):
        return f"{start.year}年{start.month}月"
    return f"{date_words(start)}至{date_words(end)}"


def date_words(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def weekday(d: dt.date) -> str:
    """周一 … 周日."""
    return f"周{WEEKDAYS[d.weekday()]}"


def date_with_weekday(d: dt.date) -> str:
    """2025年4月28日（星期一）, as mail and letters write it."""
    return f"{date_words(d)}（星期{WEEKDAYS[d.weekday()]}）"


def status_name(status: str) -> str:
    return STATUS_NAMES.get(status, status)


def level_name(level: str) -> str:
    return LEVEL_NAMES.get(level, level)


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


def stage_name(stage: str) -> str:
    """A notice stage for people: remind-7 → 到期提醒（提前7个工作日）, due → 今日到期,
    overdue-3 → 逾期催办（第3次）, escalate-1 → 逾期督办（第一级）."""
    kind, _, n = stage.partition("-")
    name = NOTICE_KIND_NAMES.get(kind, stage)
    if kind == "remind" and n.isdigit():
        return f"{name}（提前{n}个工作日）"
    if kind == "overdue" and n.isdigit():
        return f"{name}（第{n}次）"
    if kind == "urge" and n.isdigit():
        return f"{name}（第{n}次）"
    if kind == "escalate" and n.isdigit():
        return f"{name}（第{numeral(int(n))}级）"
    return name


def days_left(due: dt.date, today: dt.date) -> str:
    """The time to or past a due date in calendar days: 今日到期, 剩 3 天, 逾期 12 天."""
    delta = (due - today).days
    if delta == 0:
        return "今日到期"
    return f"剩 {delta} 天" if delta > 0 else f"逾期 {-delta} 天"


def late_words(workdays: int, days: int) -> str:
    """How late an item is, as the mail and the pages both say it: working days first, the
    calendar days beside (逾期 5 个工作日（7 天）); 今日到期 on the due day."""
    if days <= 0:
        return "今日到期" if days == 0 else f"剩 {-days} 天"
    return f"逾期 {workdays} 个工作日（{days} 天）"
