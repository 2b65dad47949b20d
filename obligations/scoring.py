"""考核评分: each department's and each unit's score for a period, and its rank. Pure: counts in,
scores out (the counts come from SQL aggregates, reports/data.py).

The rule, as a 督查室 states it (``rules_text``):

- Every item owed in the period (its due date has passed or it is done: 按期办结, 逾期办结 or
  逾期未办) is worth ``on_time`` points (1 by default) times its weight; 未到期, 已豁免 and
  待审核 items are not scored.
- An item done on time earns ``on_time`` points, done late ``late`` (0.6), still overdue
  ``overdue`` (0; a negative number deducts).
- Each return (退回) deducts ``per_return`` (0.2) and each approved extension (延期)
  ``per_extension`` (0.1), times the item's weight.
- An item's weight is its plan's weight (``plan_weights``, default 1) times its origin's
  (``origin_weights``: stated 原文规定周期, policy 统一要求报送, assigned 交办任务; assigned 1.5
  by default).
- Score = earned ÷ possible × ``full`` (100), kept between 0 and ``full``, to one decimal.
  A department or unit with nothing owed in the period has no score and no rank.
- Ranked by score, highest first; equal scores (to the printed decimal) share a rank (并列),
  and the next rank skips as many places (1, 2, 2, 4).

Scale: the input is one row per department (or unit) × plan × origin, never per item."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ORIGINS = ("stated", "policy", "assigned")
ORIGIN_WORDS = {"stated": "原文规定周期的任务", "policy": "按统一要求报送的任务", "assigned": "交办任务"}
COUNT_KEYS = ("on_time", "late", "overdue", "returned", "extended")


@dataclass(frozen=True)
class ScoringRules:
    full: float = 100.0
    on_time: float = 1.0
    late: float = 0.6
    overdue: float = 0.0
    per_return: float = 0.2
    per_extension: float = 0.1
    origin_weights: tuple[tuple[str, float], ...] = (("assigned", 1.5),)
    plan_weights: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.full <= 0:
            raise ValueError("满分应大于 0")
        if self.on_time <= 0:
            raise ValueError("按期办结得分应大于 0")
        if self.late > self.on_time or self.overdue > self.on_time:
            raise ValueError("逾期办结、逾期未办的得分不能高于按期办结")
        if self.per_return < 0 or self.per_extension < 0:
            raise ValueError("退回、延期扣分不能为负数")
        for _, w in (*self.origin_weights, *self.plan_weights):
            if w <= 0:
                raise ValueError("权重应大于 0")

    def weight(self, plan: str | None, origin: str | None) -> float:
        return dict(self.plan_weights).get(plan or "", 1.0) * dict(self.origin_weights).get(origin or "", 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {"full": self.full, "on_time": self.on_time, "late": self.late, "overdue": self.overdue,
                "per_return": self.per_return, "per_extension": self.per_extension,
                "origin_weights": dict(self.origin_weights), "plan_weights": dict(self.plan_weights)}


@dataclass
class Part:
    """The counts of one department (or unit) for one plan and origin."""

    plan: str
    origin: str
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    returned: int = 0
    extended: int = 0

    def add(self, other: Mapping[str, int]) -> None:
        for k in COUNT_KEYS:
            setattr(self, k, getattr(self, k) + int(other.get(k, 0)))


@dataclass
class Tally:
    key: str
    labels: dict[str, Any] = field(default_factory=dict)
    parts: dict[tuple[str, str], Part] = field(default_factory=dict)

    def part(self, plan: str, origin: str) -> Part:
        p = self.parts.get((plan, origin))
        if p is None:
            p = self.parts[plan, origin] = Part(plan, origin)
        return p


def _num(v: float) -> str:
    """2.0 → "2", 0.25 → "0.25": a rule's number as a person writes it."""
    return f"{v:g}"


def score_of(parts: Iterable[Part], rules: ScoringRules) -> dict[str, Any]:
    """The counts, the weighted points earned and possible, and the score (None when nothing
    is owed)."""
    counts = {k: 0 for k in COUNT_KEYS}
    earned = possible = 0.0
    for p in parts:
        w = rules.weight(p.plan, p.origin)
        for k in COUNT_KEYS:
            counts[k] += getattr(p, k)
        earned += w * (rules.on_time * p.on_time + rules.late * p.late + rules.overdue * p.overdue
                       - rules.per_return * p.returned - rules.per_extension * p.extended)
        possible += w * rules.on_time * (p.on_time + p.late + p.overdue)
    owed = counts["on_time"] + counts["late"] + counts["overdue"]
    score = None
    if possible > 0:
        score = round(min(rules.full, max(0.0, rules.full * earned / possible)) + 1e-9, 1)
    return {**counts, "owed": owed, "earned": round(earned, 4), "possible": round(possible, 4), "score": score}


def rank(rows: list[dict[str, Any]], *, tiebreak: str = "key") -> list[dict[str, Any]]:
    """Rows with a ``score`` (or None), highest first, each given a ``rank``: equal scores share
    one (并列) and the next skips (1, 2, 2, 4); rows without a score last, with rank None.
    Equal scores are listed by ``tiebreak``."""
    scored = sorted((r for r in rows if r["score"] is not None), key=lambda r: (-r["score"], str(r[tiebreak])))
    rest = sorted((r for r in rows if r["score"] is None), key=lambda r: str(r[tiebreak]))
    previous, place = None, 0
    for i, r in enumerate(scored, 1):
        if r["score"] != previous:
            place, previous = i, r["score"]
        r["rank"] = place
    ties = {}
    for r in scored:
        ties[r["rank"]] = ties.get(r["rank"], 0) + 1
    for r in scored:
        r["tied"] = ties[r["rank"]] > 1
    for r in rest:
        r["rank"], r["tied"] = None, False
    return scored + rest


def board(tallies: Iterable[Tally], rules: ScoringRules, *, tiebreak: str = "key") -> list[dict[str, Any]]:
    """One ranked row per tally: its labels, counts, points, score, rank, and the parts behind
    them (per plan and origin, with the weight used)."""
    rows = []
    for t in tallies:
        parts = [t.parts[k] for k in sorted(t.parts)]
        rows.append({"key": t.key, **t.labels, **score_of(parts, rules),
                     "parts": [{"plan": p.plan, "origin": p.origin, "weight": rules.weight(p.plan, p.origin),
                                **{k: getattr(p, k) for k in COUNT_KEYS}} for p in parts]})
    return rank(rows, tiebreak=tiebreak)


def rescore(scores: Mapping[str, Any], rules: ScoringRules,
            plan_titles: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A scores structure (``scores(...)``'s result) scored again under other rules, from the
    parts it carries."""
    out = {"rules": rules_text(rules, plan_titles), "settings": rules.as_dict()}
    for what in ("departments", "units"):
        tallies = []
        for row in scores.get(what, []):
            labels = {k: v for k, v in row.items() if k not in (*COUNT_KEYS, "key", "owed", "earned", "possible",
                                                                  "score", "rank", "tied", "parts")}
            t = Tally(row["key"], labels)
            for p in row["parts"]:
                t.part(p["plan"], p["origin"]).add(p)
            tallies.append(t)
        out[what] = board(tallies, rules)
    return out


def scores(departments: Iterable[Tally], units: Iterable[Tally], rules: ScoringRules,
           plan_titles: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The report's ``scores``: the rules in words and as numbers, the departments and the
    units ranked."""
    return {"rules": rules_text(rules, plan_titles), "settings": rules.as_dict(),
            "departments": board(departments, rules), "units": board(units, rules)}


def rules_text(rules: ScoringRules, plan_titles: Mapping[str, str] | None = None) -> list[str]:
    """The rules as the report's method note states them."""
    def points(v: float) -> str:
        return f"得{_num(v)}分" if v >= 0 else f"扣{_num(-v)}分"

    out = [f"纳入评分的为本期已到期或已办结的事项（按期办结、逾期办结、逾期未办），每项应得{_num(rules.on_time)}分；"
           "未到期、已豁免和待审核的事项不计分。",
           f"按期办结的每项{points(rules.on_time)}，逾期办结的每项{points(rules.late)}，"
           f"逾期未办的每项{points(rules.overdue)}；"
           f"办结情况每被退回一次扣{_num(rules.per_return)}分，每批准延期一次扣{_num(rules.per_extension)}分。"]
    weights = [f"{ORIGIN_WORDS.get(o, o)}×{_num(w)}" for o, w in rules.origin_weights if w != 1]
    weights += [f"{(plan_titles or {}).get(p, p)}的事项×{_num(w)}" for p, w in rules.plan_weights if w != 1]
    if weights:
        out.append("各项得分、扣分按事项权重计算：" + "，".join(weights) + "，其余事项×1。")
    out.append(f"考核得分 = 实得分 ÷ 应得分 × {_num(rules.full)}，最低0分、最高{_num(rules.full)}分，保留一位小数；"
               "本期无到期事项的部门（地区）不评分。得分相同的名次并列，其后名次顺延。")
    return out
