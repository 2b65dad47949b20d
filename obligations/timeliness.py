"""When an item counts as done on time: every rule of timeliness, in one place, pure (no I/O).

A completion carries two dates: the day the department says it did the work (``claimed``,
办理日期) and the day it was recorded (登记日期, the door's today). The rules:

1. A claimed day after the recording day, or before the item's period began, is refused.
2. A claimed day more than ``grace_days`` working days before the recording day is accepted but
   flagged (补登待核) and judged by the recording day: a late entry is never silently on time.
3. Otherwise the completion is judged by its claimed day.
4. The item is done on the latest judged day of its completions (when their count reaches the
   required count); done on or before its due date is on time (按期办结), after it late (逾期办结).
5. A waiver or extension request is taken only for an item still open and not past its due
   date; an approved extension moves the due date and keeps the original beside it.
6. Where the catalog requires review (``completion_review``, the default), an item whose
   completions reach the required count awaits a coordinator (待审核) and is not overdue while
   it waits; accepted, it is judged by rule 4 (the submission's judged day, not the day of the
   acceptance); returned, the returned completion no longer counts and the item is open again.

``storage.workflow`` applies these at every door (CLI, pages, API, links, demo), the SQL status
(``storage.occurrences.status_sql``) compares the item's judged completion day with its due
date, and ``rules_text`` is what the report's method note prints."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from obligations.errors import DubanError, Refused
from obligations.workcal import WorkCalendar

GRACE_DAYS = 3


class ClaimRefused(DubanError, ValueError):
    """A claimed completion day the rules do not accept."""

    http_status = 422


@dataclass(frozen=True)
class Judged:
    """A completion's dates: what was claimed, what timeliness uses, and whether it is flagged."""

    claimed: dt.date
    judged: dt.date
    flagged: bool


def judge_claim(claimed: dt.date, *, period_start: dt.date, recorded: dt.date, grace_days: int = GRACE_DAYS,
                calendar: WorkCalendar | None = None) -> Judged:
    """Rules 1–3. ``recorded`` is the recording day as the door's clock sees it; ``calendar``
    counts working days (China's calendar with no additions without one)."""
    if claimed > recorded:
        raise ClaimRefused(f"办理日期 {claimed} 晚于今天（{recorded}），不能登记")
    if claimed < period_start:
        raise ClaimRefused(f"办理日期 {claimed} 早于本期开始日期 {period_start}，不能登记"
                           "（请填写实际办理日期；本期以前的工作不计入本期）")
    earliest = (calendar or WorkCalendar()).add_workdays(recorded, -grace_days) if grace_days > 0 else recorded
    if claimed < earliest:
        return Judged(claimed, recorded, True)
    return Judged(claimed, claimed, False)


def done_on(judged: Iterable[dt.date]) -> dt.date | None:
    """Rule 4: the day an item is done is the latest judged day of its completions."""
    return max(judged, default=None)


def on_time(done: dt.date | None, due: dt.date) -> bool:
    """Rule 4: done on or before the due date."""
    return done is not None and done <= due


def check_request(*, occurrence_id: int, finished: bool, due: dt.date, today: dt.date) -> None:
    """Rule 5: a waiver or extension is asked for while the item is open and not past due."""
    if finished:
        raise Refused(f"督办事项 {occurrence_id} 已办结或已豁免，不能再申请豁免或延期")
    if today > due:
        raise Refused(f"督办事项 {occurrence_id} 已于 {due} 到期，逾期后不能再申请豁免或延期；请尽快办理并登记")


def rules_text(grace_days: int = GRACE_DAYS) -> list[str]:
    """The rules as the report's method note states them."""
    return [
        "办理日期为责任单位填报的实际办理日期，晚于登记当日或早于事项所属期间开始日期的不予登记。",
        f"办理日期早于登记日期 {grace_days} 个工作日以上的（补登），予以登记并标注“补登待核”，"
        "按登记日期而非填报的办理日期判定是否按期。",
        "事项累计完成次数达到应完成次数时办结，办结日期取各次登记判定日期中最晚的一天；"
        "办结日期不晚于截止日期的为按期办结，晚于截止日期的为逾期办结。",
        "豁免、延期申请须在事项办结前、截止日期届满前提出；批准延期的按新截止日期判定，原截止日期一并保留列示。",
        "须经审核的事项，登记办结后为“待审核”，审核期间不计为逾期；审核通过的按登记的办结日期判定是否按期，"
        "被退回的该次登记不再计入，事项重新计为未办结。",
    ]
