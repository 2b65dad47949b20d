"""Reporting periods as people write them: 2025, 2025H1, 2025Q3, 2025-03, or FROM..TO."""
from __future__ import annotations

import datetime as dt
import re

from dateutil.relativedelta import relativedelta

from obligations.errors import DubanError
from obligations.words import period_words


class PeriodSyntaxError(DubanError, ValueError):
    pass


# the years a period may lie in: plans, items and reports of this century; a period outside is a
# typo (9999, 0001-01-01..9999-12-31), refused on every door before any date arithmetic
YEAR_MIN, YEAR_MAX = 2000, 2100
MAX_TEXT = 40


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """Return (first day, last day) of the period ``text`` names, within YEAR_MIN–YEAR_MAX."""
    if len(text) > MAX_TEXT:
        raise PeriodSyntaxError(f"期间过长（{len(text)} 个字符；示例：2025、2025H1、2025-01-01..2025-06-30）")
    start, end = _parse(text)
    if start.year < YEAR_MIN or end.year > YEAR_MAX:
        raise PeriodSyntaxError(f"期间 {text.strip()!r} 超出可用范围：只能是 {YEAR_MIN} 年至 {YEAR_MAX} 年之间的期间")
    return start, end


def _parse(text: str) -> tuple[dt.date, dt.date]:
    t = text.strip().upper()
    if ".." in t:
        a, b = t.split("..", 1)
        try:
            start, end = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
        except ValueError:
            raise PeriodSyntaxError(f"无法识别的日期范围 {text!r}（示例：2025-01-01..2025-06-30）") from None
        if end < start:
            raise PeriodSyntaxError(f"日期范围 {text!r} 的结束早于开始")
        return start, end
    if m := re.fullmatch(r"(\d{4})", t):
        y = int(m[1])
        return dt.date(y, 1, 1), dt.date(y, 12, 31)
    if m := re.fullmatch(r"(\d{4})-?H([12])", t):
        y, h = int(m[1]), int(m[2])
        start = dt.date(y, 1 if h == 1 else 7, 1)
        return start, start + relativedelta(months=6, days=-1)
    if m := re.fullmatch(r"(\d{4})-?Q([1-4])", t):
        y, q = int(m[1]), int(m[2])
        start = dt.date(y, 3 * q - 2, 1)
        return start, start + relativedelta(months=3, days=-1)
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", t):
        y, mo = int(m[1]), int(m[2])
        if 1 <= mo <= 12:
            start = dt.date(y, mo, 1)
            return start, start + relativedelta(months=1, days=-1)
    raise PeriodSyntaxError(f"无法识别的期间 {text!r}（示例：2025、2025H1、2025Q3、2025-03、2025-01-01..2025-06-30）")


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same kind just before: the previous month, quarter, half-year or year
    for a named period, else the same number of days just before."""
    first_of_month = start.day == 1 and (end + dt.timedelta(days=1)).day == 1
    if first_of_month:
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        prev_start = start - relativedelta(months=months)
        return prev_start, start - dt.timedelta(days=1)
    length = end - start
    prev_end = start - dt.timedelta(days=1)
    return prev_end - length, prev_end


PERIOD_KINDS = ("month", "quarter", "half", "year")


def last_complete(kind: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The last whole month, quarter, half-year or year ending before ``day`` (a scheduled report
    on 2025-07-01 with kind half covers 2025H1)."""
    if kind not in PERIOD_KINDS:
        raise PeriodSyntaxError(f"未知的期间类型 {kind!r}（可用：{'、'.join(PERIOD_KINDS)}）")
    months = {"month": 1, "quarter": 3, "half": 6, "year": 12}[kind]
    index = (day.year * 12 + day.month - 1) // months * months - months   # first month of the previous block
    start = dt.date(index // 12, index % 12 + 1, 1)
    return start, start + relativedelta(months=months, days=-1)


def period_key(start: dt.date, end: dt.date) -> str:
    """A short name for file names: 2025, 2025H1, 2025Q3, 2025-03, else 20250105-20250215."""
    label = period_words(start, end)
    if label == f"{start.year}年":
        return str(start.year)
    if label.endswith("半年"):
        return f"{start.year}H{1 if start.month == 1 else 2}"
    if label.endswith("季度"):
        return f"{start.year}Q{(start.month + 2) // 3}"
    if start.day == 1 and end == start + relativedelta(months=1, days=-1):
        return f"{start:%Y-%m}"
    return f"{start:%Y%m%d}-{end:%Y%m%d}"
