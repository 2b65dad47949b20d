"""China's working-day calendar: public holidays and make-up working days (调休) through
`chinesecalendar`, hand-added days from config.yaml, and a weekend-only fallback (with a
warning) for years the library does not know. Pure: no I/O."""
from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable

import chinese_calendar


class UnknownYearWarning(UserWarning):
    """chinesecalendar has no data for a year: weekends only, unless config.yaml adds days."""


class WorkCalendar:
    def __init__(self, holidays: Iterable[dt.date] = (), workdays: Iterable[dt.date] = (),
                 roll_forward: bool = True):
        self.extra_holidays = frozenset(holidays)
        self.extra_workdays = frozenset(workdays)
        self.roll_forward = roll_forward
        self.fallback_years: set[int] = set()
        self._cache: dict[dt.date, bool] = {}

    def is_workday(self, day: dt.date) -> bool:
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        if day in self.extra_workdays:
            result = True
        elif day in self.extra_holidays:
            result = False
        else:
            try:
                result = chinese_calendar.is_workday(day)
            except NotImplementedError:
                if day.year not in self.fallback_years:
                    self.fallback_years.add(day.year)
                    warnings.warn(f"{day.year} 年的法定节假日数据缺失（chinesecalendar 未收录），"
                                  f"按周末计算；可在 config.yaml 的 calendar 中补充", UnknownYearWarning, stacklevel=2)
                result = day.weekday() < 5
        self._cache[day] = result
        return result

    def next_workday(self, day: dt.date) -> dt.date:
        """``day`` itself if it is a working day, else the next one."""
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def due(self, day: dt.date) -> dt.date:
        """A deadline as Chinese administrative practice counts it: moved past rest days when
        ``roll_forward`` (the default)."""
        return self.next_workday(day) if self.roll_forward else day

    def add_workdays(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day after ``day`` (N个工作日内 counts from the next day)."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        while remaining:
            day += dt.timedelta(days=step)
            if self.is_workday(day):
                remaining -= 1
        return day

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative when end < start."""
        if end < start:
            return -self.workdays_between(end, start)
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_workday(day)
        return count
