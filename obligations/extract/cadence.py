"""Stated cadences in a clause's text: 每月 / 每个月 / 每季度 / 每三个月 / 每半年 / 每年 / 每两年 /
按月 / 逐月 / 按季度 / 按半年 / 按年度 /
至少每…一次 / 每年4月和10月 / 不低于每季度6次 / X年X月底前 / X年起 / 下发后10日内 / N个工作日内,
寒暑假、中高考期间 (seasonal, flagged),
each turned into the catalog's cadence (kind, months, count, start, deadline, after) with the
phrase it came from. 定期 with no period is reported for the coordinator (a policy cadence).
Definitions are not cadences: 居住或生活6个月以上 has no 每, 到2026年 is a goal year."""
from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

_CN = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十二": 12}
_NUM = r"(\d{1,2}|十二|[一两二三四五六七八九十])"


# the month a season's duty falls due in (the start of the holiday, the exam month)
_SEASONS = {"寒暑假": "1,7", "暑假": "7", "寒假": "1", "中高考": "6", "中考": "6", "高考": "6"}


def _n(text: str) -> int:
    return int(text) if text.isdigit() else _CN[text]


def _month(text: str) -> int:
    m = _n(text)
    if not 1 <= m <= 12:
        raise ValueError(f"month {m}")
    return m


@dataclass
class Found:
    phrase: str                  # the words of the text the cadence came from
    cadence: dict
    flags: list[str] = field(default_factory=list)
    begin: int = 0               # where in the phrase the cadence words are
    end: int = 0


# (pattern, builder) in priority order; each pattern is tried on one phrase (text between ，。；)
_RULES: list[tuple[re.Pattern, callable]] = [
    (re.compile(r"(寒暑假|暑假|寒假|中高考|中考|高考)(?:期间|前后|前)"),
     lambda m: {"kind": "rrule", "rrule": "FREQ=YEARLY;BYMONTH=" + _SEASONS[m[1]], "months": [int(x) for x in _SEASONS[m[1]].split(",")],
                "review": f"季节性时段“{m[0]}”按每年{_SEASONS[m[1]]}月排定，请核对"}),
    (re.compile(r"每年" + _NUM + r"月和" + _NUM + r"月"),
     lambda m: {"kind": "semiannual", "months": [_month(m[1]), _month(m[2])],
                "rrule": f"FREQ=YEARLY;BYMONTH={_month(m[1])},{_month(m[2])}"}),
    (re.compile(r"(?:不低于|不少于)?每季度" + _NUM + r"次"), lambda m: {"kind": "quarterly", "count": _n(m[1])}),
    (re.compile(r"每" + _NUM + r"个月"), lambda m: {"kind": "rrule", "rrule": f"FREQ=MONTHLY;INTERVAL={_n(m[1])}"}
     if _n(m[1]) > 1 else {"kind": "monthly"}),
    (re.compile(r"每(?:个)?(?:周|星期)"), lambda m: {"kind": "rrule", "rrule": "FREQ=WEEKLY"}),
    (re.compile(r"每(?:个)?季度"), lambda m: {"kind": "quarterly"}),
    (re.compile(r"每半年"), lambda m: {"kind": "semiannual"}),
    (re.compile(r"每(两|2)年"), lambda m: {"kind": "biennial"}),
    (re.compile(r"每(?:个)?月"), lambda m: {"kind": "monthly"}),
    # 按月/逐月 完成…, 按季度 报送…, 按年度 …: a period said with 按 or 逐 instead of 每
    (re.compile(r"(?:按|逐)(?:个)?月(?!份)"), lambda m: {"kind": "monthly"}),
    (re.compile(r"(?:按|逐)季(?:度)?(?!末)"), lambda m: {"kind": "quarterly"}),
    (re.compile(r"按半年"), lambda m: {"kind": "semiannual"}),
    (re.compile(r"(?:按|逐)年度"), lambda m: {"kind": "annual"}),
    (re.compile(r"每年(?!\d|[一二三四五六七八九十]+月)"), lambda m: {"kind": "annual"}),
    (re.compile(r"(\d{4})年(\d{1,2})月底前"),
     lambda m: {"kind": "once", "deadline": dt.date(int(m[1]), int(m[2]),
                                                    calendar.monthrange(int(m[1]), int(m[2]))[1])}),
    (re.compile(r"(?:制定)?(?:下发|印发|制定)后(\d{1,3})(个工作日|日|天)内"),
     lambda m: {"kind": "event", "after": {"days": int(m[1]), "workdays": m[2] == "个工作日"}}),
    (re.compile(r"(\d{1,3})个工作日内"), lambda m: {"kind": "event", "after": {"days": int(m[1]), "workdays": True}}),
]
_COUNT = re.compile(r"(?:至少|不少于|不低于)?[^，。；]{0,12}?" + r"([一两二三四五六七八九十]|\d{1,2})次")
# 定期 describing a standing mechanism (定期…工作机制, 定期…制度) is no duty
_MECHANISM = re.compile(r"定期[\u4e00-\u9fff]{0,12}(?:机制|制度)")
_START = re.compile(r"(\d{4})年起")


def phrases(text: str) -> list[str]:
    return [p for p in re.split(r"[，。；！？,;、]", text) if p.strip()]


def normalize(text: str) -> str:
    """The form the readers match on: NFKC (half-width punctuation), no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def read_phrase(phrase: str, start: dt.date | None = None) -> tuple[Found | None, str | None]:
    """The cadence one phrase states (or None), and a note for the coordinator (or None)."""
    for pattern, build in _RULES:
        m = pattern.search(phrase)
        if not m:
            continue
        try:
            cadence = build(m)
        except (ValueError, KeyError):     # 2025年13月底前, 每年0月: not a date, say so
            return None, f"“{phrase}”像是周期或期限，但日期无法识别，请核对"
        if "count" not in cadence:
            c = _COUNT.search(phrase[m.start():])
            cadence["count"] = _n(c[1]) if c else 1
        if start and cadence["kind"] not in ("once", "event"):
            cadence["start"] = start
        flags = [cadence.pop("review")] if "review" in cadence else []
        return Found(phrase, cadence, flags, m.start(), m.end()), None
    if "定期" in phrase and not _MECHANISM.search(phrase):
        return None, f"“{phrase}”只说定期，未说明周期：按统一要求报送（policy），请协调员确认"
    return None, None


def start_of(phrase: str) -> dt.date | None:
    """2025年起 → 2025-01-01."""
    m = _START.search(phrase)
    return dt.date(int(m[1]), 1, 1) if m else None


def find_cadences(text: str) -> tuple[list[Found], list[str]]:
    """Cadences stated in ``text``, and notes (定期 without a period, impossible dates)."""
    found: list[Found] = []
    notes: list[str] = []
    start = None
    for phrase in phrases(normalize(text)):
        start = start_of(phrase) or start
        hit, note = read_phrase(phrase, start)
        if hit:
            found.append(hit)
        if note:
            notes.append(note)
    return found, notes
