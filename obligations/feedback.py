"""Progress feedback (进度反馈): the rules of a progress report and the feedback days on which
items with long periods are asked for one. Pure: no I/O; the door (storage.workflow
.report_progress) and the sweep (notifications.sweep) apply these.

Feedback days
    ``notify.feedback`` in config.yaml: ``every`` month or quarter, on ``day`` (1–28) of the month
    (for a quarter: of its last month, 3/6/9/12). An open item asks for progress when
    - its period is long: due date minus period start ≥ ``min_period_days`` (a year, a one-off
      or assigned task with a far deadline; a month or a quarter is not);
    - a whole feedback interval has passed since it began (its period started on or before the
      feedback day before this one: a year starting 1 January is first asked on 25 February);
    - the feedback day is more than ``QUIET_BEFORE_DUE`` days before its due date (the last days
      belong to the due-date reminders);
    - and no progress report was made since the previous feedback day.
    The reminder (notice kind ``feedback``, stage ``feedback-YYMMDD``) goes out on the first
    sweep on or after the feedback day, within ``CATCH_UP_DAYS`` (a sweep that was down for
    weeks does not remind about a feedback day long gone); the unique (item, stage) key sends it
    once. A plan or obligation overrides the defaults with its catalog key ``feedback``:
    ``none`` (never asked) or a mapping of any of ``every``, ``day``, ``min_period_days``.

Progress reports
    percent 0–100, never below the latest earlier report's percent (progress does not go
    backwards) unless the item's completion was returned (退回) since that report; what was done
    is required, difficulties and next steps optional, each at most ``MAX_TEXT`` characters; the
    report's date is not after today, not before the item's period began and not before the
    latest earlier report's date (reports stay in date order)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

EVERY = {"month": "每月", "quarter": "每季度"}
QUIET_BEFORE_DUE = 10     # days before the due date with no feedback day of their own
CATCH_UP_DAYS = 10        # a feedback day is reminded of by a sweep at most this many days after it
MAX_TEXT = 2000
MAX_REPORTS = 500         # progress reports on one item (hostile floods stop here)
FEEDBACK_KEYS = ("every", "day", "min_period_days")


class ProgressRefused(ValueError):
    """A progress report the rules do not accept; the message is for people (Chinese)."""


@dataclass(frozen=True)
class FeedbackPolicy:
    every: str = "month"
    day: int = 25
    min_period_days: int = 120
    enabled: bool = True

    def merged(self, override: Any) -> FeedbackPolicy:
        """The policy with a catalog's ``feedback`` value applied: ``none`` turns it off, a
        mapping replaces the keys it names (unknown or ill-typed values are refused at load)."""
        if override is None:
            return self
        if override == "none" or override is False:
            return replace(self, enabled=False)
        if isinstance(override, dict):
            values = {k: override[k] for k in FEEDBACK_KEYS if override.get(k) is not None}
            return replace(self, enabled=True, **values)
        return self

    def when(self) -> str:
        """The feedback days in words: 每月25日, 每季度季末月25日."""
        where = f"{self.day}日" if self.every == "month" else f"季末月{self.day}日"
        return f"{EVERY[self.every]}{where}"

    def describe(self) -> str:
        if not self.enabled:
            return "不要求进度反馈"
        return f"{self.when()}（期限 {self.min_period_days} 天及以上的事项）"

    def long_enough(self, *, period_start: dt.date, due: dt.date) -> bool:
        """Whether an item with this period is one that reports progress at all (a long item
        under a policy that is on), whatever the day."""
        return self.enabled and (due - period_start).days >= self.min_period_days

    def _step(self) -> int:
        return 1 if self.every == "month" else 3

    def last_day(self, today: dt.date) -> dt.date:
        """The latest feedback day on or before ``today``."""
        y, m = today.year, today.month
        while True:
            if (self.every == "month" or m % 3 == 0) and dt.date(y, m, self.day) <= today:
                return dt.date(y, m, self.day)
            y, m = (y - 1, 12) if m == 1 else (y, m - 1)

    def previous(self, day: dt.date) -> dt.date:
        """The feedback day before the feedback day ``day``."""
        m = day.month - self._step()
        y = day.year
        if m < 1:
            y, m = y - 1, m + 12
        return dt.date(y, m, self.day)

    def window(self, today: dt.date) -> tuple[dt.date, dt.date] | None:
        """(feedback day, the one before it) when a sweep on ``today`` reminds of a feedback day,
        else None."""
        if not self.enabled:
            return None
        day = self.last_day(today)
        if (today - day).days > CATCH_UP_DAYS:
            return None
        return day, self.previous(day)

    def asks(self, *, period_start: dt.date, due: dt.date, day: dt.date) -> bool:
        """Whether an open item with this period owes feedback on the feedback day ``day`` (the
        reference the sweep's SQL is tested against)."""
        return (self.long_enough(period_start=period_start, due=due)
                and period_start <= self.previous(day) and (due - day).days > QUIET_BEFORE_DUE)


def stage(day: dt.date) -> str:
    """The notice stage of a feedback day: feedback-YYMMDD (the stage column holds 16)."""
    return f"feedback-{day:%y%m%d}"


def check_feedback_value(value: Any) -> str | None:
    """Why a catalog's ``feedback`` value is wrong (Chinese), or None when it is right."""
    if value is None or value == "none":
        return None
    if not isinstance(value, dict):
        return f"feedback 应为 none（不要求进度反馈）或 {{every, day, min_period_days}}，发现 {value!r}"
    unknown = sorted(set(value) - set(FEEDBACK_KEYS))
    if unknown:
        return f"feedback 不认识的键 {'、'.join(map(str, unknown))}（可用：{'、'.join(FEEDBACK_KEYS)}）"
    if value.get("every") is not None and value["every"] not in EVERY:
        return f"feedback.every 应为 month（每月）或 quarter（每季度），发现 {value['every']!r}"
    day = value.get("day")
    if day is not None and (not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 28):
        return f"feedback.day 应为 1 到 28 之间的整数，发现 {day!r}"
    days = value.get("min_period_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3660):
        return f"feedback.min_period_days 应为 1 到 3660 之间的整数，发现 {days!r}"
    return None


def feedback_policy(default: FeedbackPolicy, plan_doc: dict | None, obligation_doc: dict | None) -> FeedbackPolicy:
    """The policy for one obligation: config, then the plan's ``feedback``, then the obligation's."""
    policy = default
    for doc in (plan_doc or {}, obligation_doc or {}):
        policy = policy.merged(doc.get("feedback"))
    return policy


@dataclass(frozen=True)
class Checked:
    percent: int
    done: str
    difficulties: str | None
    next_steps: str | None
    on: dt.date


def _text(value: Any, field: str, *, required: bool = False) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ProgressRefused(f"{field}应为文字")
    text = (value or "").strip()
    if required and not text:
        raise ProgressRefused(f"请填写{field}")
    if len(text) > MAX_TEXT:
        raise ProgressRefused(f"{field}不能超过 {MAX_TEXT} 个字（现有 {len(text)} 个）")
    if "\x00" in text:
        raise ProgressRefused(f"{field}中含有无法保存的字符")
    return text or None


def check_report(*, percent: Any, done: Any, difficulties: Any, next_steps: Any, on: dt.date, today: dt.date,
                 period_start: dt.date, last: tuple[dt.date, int] | None, returned_since_last: bool,
                 reports: int) -> Checked:
    """Every rule of a progress report on an open item; ``last`` = (date, percent) of the latest
    earlier report. Raises ProgressRefused with the reason."""
    if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
        raise ProgressRefused(f"完成进度应为 0 到 100 之间的整数（百分比），发现 {percent!r}")
    if on > today:
        raise ProgressRefused(f"反馈日期 {on} 不能晚于今天（{today}）")
    if on < period_start:
        raise ProgressRefused(f"反馈日期 {on} 早于本期开始日期 {period_start}")
    if last is not None:
        if on < last[0]:
            raise ProgressRefused(f"反馈日期 {on} 早于上次进度反馈的日期 {last[0]}")
        if percent < last[1] and not returned_since_last:
            raise ProgressRefused(f"完成进度 {percent}% 低于上次反馈的 {last[1]}%（{last[0]}），进度不能倒退")
    if reports >= MAX_REPORTS:
        raise ProgressRefused(f"该事项的进度反馈已达 {MAX_REPORTS} 条上限")
    return Checked(percent, _text(done, "已完成的工作", required=True), _text(difficulties, "存在的困难"),
                   _text(next_steps, "下一步计划"), on)
