"""Reporting periods as people write them: 2025, 2025H1, 2025Q3, 2025-03, or FROM..TO."""
from __future__ import annotations

import datetime as dt
import re

from dateutil.relativedelta import relativedelta


class PeriodSyntaxError(ValueError):
    pass


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """Return (first day, last day) of the period ``text`` names."""
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
