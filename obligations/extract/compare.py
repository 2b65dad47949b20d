"""Two catalogs side by side (a draft and the curated catalog, or two versions of one): which
clauses each has, and for the clauses both have, the departments (key and lead), the line
ranges, and the obligations — stated cadences matched by what they say (kind, months, count,
start, deadline, interval, after), then who and scope compared. Also the recall and precision
figures the reader is measured by. Pure: two documents (dicts) in."""
from __future__ import annotations

from dataclasses import dataclass, field

from obligations.catalog import describe_cadence
from obligations.words import SCOPE_NAMES

_SIGNATURE = ("kind", "months", "count", "start", "deadline", "rrule")


@dataclass
class Counts:
    tp: int = 0
    fn: int = 0          # in the reference, missed by the other
    fp: int = 0          # in the other, not in the reference

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0


@dataclass
class Comparison:
    clauses: Counts = field(default_factory=Counts)
    departments: Counts = field(default_factory=Counts)
    leads: Counts = field(default_factory=Counts)
    cadences: Counts = field(default_factory=Counts)        # stated cadences
    policy: Counts = field(default_factory=Counts)          # 定期 duties (policy cadence)
    who_same: int = 0
    scope_same: int = 0
    lines_same: int = 0
    plan: list[str] = field(default_factory=list)           # differing plan fields
    changes: list[tuple[str, str]] = field(default_factory=list)   # (clause id, what differs)

    def figures(self) -> dict[str, float]:
        matched = self.cadences.tp + self.policy.tp
        return {
            "clause_recall": self.clauses.recall, "clause_precision": self.clauses.precision,
            "lines": self.lines_same / self.clauses.tp if self.clauses.tp else 1.0,
            "dept_recall": self.departments.recall, "dept_precision": self.departments.precision,
            "lead": self.leads.recall,
            "cadence_recall": self.cadences.recall, "cadence_precision": self.cadences.precision,
            "policy_recall": self.policy.recall, "policy_precision": self.policy.precision,
            "who": self.who_same / matched if matched else 1.0,
            "scope": self.scope_same / matched if matched else 1.0,
        }

    @property
    def same(self) -> bool:
        return not self.plan and not self.changes


def signature(cadence: dict) -> tuple:
    sig = tuple(str(cadence.get(k)) if cadence.get(k) is not None else None for k in _SIGNATURE)
    after = cadence.get("after") or {}
    return sig + (after.get("days"), bool(after.get("workdays")) if after else None)


def compare(draft: dict, reference: dict) -> Comparison:
    """``reference`` is taken as right: recall is how much of it ``draft`` has."""
    out = Comparison()
    for key in ("id", "title", "issuer", "locality", "level", "issued", "implements"):
        a, b = draft.get("plan", {}).get(key), reference.get("plan", {}).get(key)
        if str(a) != str(b):
            out.plan.append(f"plan.{key}: {_show(a)} ≠ {_show(b)}")
    mine = {str(c["id"]): c for c in draft.get("clauses", [])}
    theirs = {str(c["id"]): c for c in reference.get("clauses", [])}
    for cid in theirs:
        if cid not in mine:
            out.clauses.fn += 1
            out.changes.append((cid, "缺少此条款"))
    for cid in mine:
        if cid not in theirs:
            out.clauses.fp += 1
            out.changes.append((cid, "多出此条款"))
    for cid, ref in theirs.items():
        if cid not in mine:
            continue
        out.clauses.tp += 1
        _clause(out, cid, mine[cid], ref)
    return out


def _clause(out: Comparison, cid: str, mine: dict, ref: dict) -> None:
    if list(mine.get("lines", [])) == list(ref.get("lines", [])):
        out.lines_same += 1
    else:
        out.changes.append((cid, f"行号 {mine.get('lines')} ≠ {ref.get('lines')}"))
    a = [d.get("key") for d in mine.get("departments", [])]
    b = [d.get("key") for d in ref.get("departments", [])]
    out.departments.tp += len(set(a) & set(b))
    out.departments.fp += len(set(a) - set(b))
    out.departments.fn += len(set(b) - set(a))
    if set(a) - set(b):
        out.changes.append((cid, "多出部门 " + "、".join(sorted(set(a) - set(b)))))
    if set(b) - set(a):
        out.changes.append((cid, "缺少部门 " + "、".join(sorted(set(b) - set(a)))))
    lead_a = next((d.get("key") for d in mine.get("departments", []) if d.get("role") == "lead"), None)
    lead_b = next((d.get("key") for d in ref.get("departments", []) if d.get("role") == "lead"), None)
    if lead_b is not None:
        if lead_a == lead_b:
            out.leads.tp += 1
        else:
            out.leads.fn += 1
            out.changes.append((cid, f"牵头部门 {lead_a} ≠ {lead_b}"))
    for origin, counts in (("stated", out.cadences), ("policy", out.policy)):
        _obligations(out, cid, counts, [o for o in mine.get("obligations", []) if _origin(o) == origin],
                     [o for o in ref.get("obligations", []) if _origin(o) == origin])


def _origin(ob: dict) -> str:
    return (ob.get("cadence") or {}).get("origin", "")


def _obligations(out: Comparison, cid: str, counts: Counts, mine: list[dict], ref: list[dict]) -> None:
    left = list(mine)
    for ob in ref:
        sig = signature(ob["cadence"])
        same = [m for m in left if signature(m["cadence"]) == sig]
        # several with one cadence (one per level): pair by scope first
        hit = next((m for m in same if m.get("scope") == ob.get("scope")), same[0] if same else None)
        label = f"{ob.get('id')}（{describe_cadence(ob['cadence']) if ob['cadence'].get('kind') else '定期'}）"
        if hit is None:
            counts.fn += 1
            out.changes.append((cid, f"缺少义务 {label}：{ob.get('what')}"))
            continue
        left.remove(hit)
        counts.tp += 1
        if sorted(hit.get("who", [])) == sorted(ob.get("who", [])):
            out.who_same += 1
        else:
            out.changes.append((cid, f"义务 {label} 责任主体 {hit.get('who')} ≠ {ob.get('who')}"))
        if hit.get("scope") == ob.get("scope"):
            out.scope_same += 1
        else:
            out.changes.append((cid, f"义务 {label} 落实层级 {SCOPE_NAMES.get(hit.get('scope'), hit.get('scope'))}"
                                     f" ≠ {SCOPE_NAMES.get(ob.get('scope'), ob.get('scope'))}"))
    for m in left:
        counts.fp += 1
        kind = describe_cadence(m["cadence"]) if m["cadence"].get("kind") else "定期"
        out.changes.append((cid, f"多出义务 {m.get('id')}（{kind}）：{m.get('what')}"))


def _show(value) -> str:
    return "（空）" if value in (None, "", []) else str(value)


def render(result: Comparison, left: str, right: str) -> str:
    """The comparison for people: what differs, clause by clause, then the figures."""
    lines = [f"比较 {left}（左）与 {right}（右，作为基准）"]
    lines += [f"  {p}" for p in result.plan]
    for cid, change in result.changes:
        lines.append(f"  条款 {cid}: {change}")
    if result.same:
        lines.append("  两者一致。")
    f = result.figures()
    lines.append(
        f"条款 召回 {f['clause_recall']:.3f} 精确 {f['clause_precision']:.3f}（行号一致 {f['lines']:.3f}）；"
        f"部门 召回 {f['dept_recall']:.3f} 精确 {f['dept_precision']:.3f}（牵头一致 {f['lead']:.3f}）；"
        f"原文周期 召回 {f['cadence_recall']:.3f} 精确 {f['cadence_precision']:.3f}；"
        f"“定期” 召回 {f['policy_recall']:.3f} 精确 {f['policy_precision']:.3f}；"
        f"已配对义务中责任主体一致 {f['who']:.3f}、落实层级一致 {f['scope']:.3f}")
    return "\n".join(lines)
