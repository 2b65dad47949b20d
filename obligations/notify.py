"""Notification policy: which stage an occurrence is in on a given day, in working days.

The three-colour practice: blue reminders before the due date (``remind-N``), the due-day
notice, yellow overdue notices repeated every N working days (``overdue-k``), and red
escalations after M working days to the unit's supervisor (``escalate-1``) and then one level
up (``escalate-2``). Pure: the sweep turns these windows into SQL over a working-day index."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

COLOURS = {"remind": "蓝色提醒", "due": "蓝色提醒", "overdue": "黄色预警", "escalate": "红色督办", "urge": "请即办理",
           "return": "退回重办", "feedback": "进度反馈"}
COLOURS["confirm"] = "协办确认"   # a co-department's pending confirmation (协办确认提醒)


@dataclass(frozen=True)
class NotifyPolicy:
    reminders: tuple[int, ...] = (7, 1)      # working days before the due date
    on_due_day: bool = True
    overdue_every: int = 3                   # working days between overdue notices
    escalate_after: tuple[int, ...] = (5, 10)  # working days late: supervisor, then one level up

    def merged(self, override: dict[str, Any] | None) -> NotifyPolicy:
        if not override:
            return self
        values = {k: override[k] for k in ("reminders", "on_due_day", "overdue_every", "escalate_after")
                  if override.get(k) is not None}
        for k in ("reminders", "escalate_after"):
            if k in values:
                values[k] = tuple(values[k])
        return replace(self, **values)

    def reminder_windows(self) -> list[tuple[str, int, int]]:
        """(stage, lo, hi): remind when lo < working days left ≤ hi. Windows do not overlap, so
        an item first seen one day before its due date gets only the most urgent reminder."""
        leads = sorted(set(n for n in self.reminders if n > 0))
        out, lo = [], 0
        for n in leads:
            out.append((f"remind-{n}", lo, n))
            lo = n
        return out

    def overdue_stage(self, late: int) -> str | None:
        if late < 1:
            return None
        return f"overdue-{1 + (late - 1) // max(self.overdue_every, 1)}"

    def escalation_stages(self, late: int) -> list[str]:
        return [f"escalate-{i + 1}" for i, m in enumerate(sorted(self.escalate_after)[:2]) if late >= m]


def stages_on(policy: NotifyPolicy, *, left: int, late: int, due_today: bool) -> list[str]:
    """Every stage an occurrence is in today (the reference the SQL sweep is tested against).
    ``left`` = working days from today to the due date; ``late`` = working days past it."""
    out = [stage for stage, lo, hi in policy.reminder_windows() if lo < left <= hi and not due_today]
    if due_today and policy.on_due_day:
        out.append("due")
    stage = policy.overdue_stage(late)
    if stage:
        out.append(stage)
    out += policy.escalation_stages(late)
    return out


def stage_kind(stage: str) -> str:
    return stage.split("-")[0]
