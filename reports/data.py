"""Report data for a plan (or all), a period and a jurisdiction (with its children or not),
from SQL aggregates only — never by loading occurrences into Python. Every output format reads
this one structure, so the numbers are the same whatever the format.

An occurrence belongs to the period when its due date falls in it; its status is judged on the
report day with everything known then (an item due in March and done on 3 April is "done late";
one still not done is "overdue").

One scan does the heavy work: the period's occurrences grouped by due date, obligation,
department and unit, the status rule carried as counts (tens of thousands of groups for a
province's half-year, from a million rows, aggregated as they are read from a covering index).
The tables per department, clause, unit, origin, month and key-child coverage are roll-ups of
those groups. The previous period (for the trend) is one more, smaller aggregate; the overdue
list and the notices are one indexed query each."""
from __future__ import annotations

import datetime as dt
import os
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func, select
from sqlmodel import Session

from notifications.outbox import OutboxStatus
from obligations.channels import CHANNEL_NAMES
from obligations.periods import previous_period
from obligations.scoring import ScoringRules, Tally
from obligations.scoring import scores as score_board
from reports.progress import summary as progress_summary
from storage.db import scan_slots
from storage.occurrences import (
    OccurrenceError,
    resolve_department,
    resolve_jurisdiction,
    split_tally,
    status_sql,
    status_tally,
    unmet_status,
)
from storage.tables import (
    Case,
    Clause,
    Completion,
    Department,
    ItemRequest,
    Jurisdiction,
    Notice,
    Obligation,
    Occurrence,
    Outbox,
    Plan,
)

# submitted (待审核): completed and awaiting a coordinator's review; in the total, not in the rates
COUNTS = ("done", "done_late", "overdue", "open", "due_soon", "waived", "submitted")
NOTICE_KINDS = ("remind", "due", "overdue", "escalate", "urge",   # urge: hand reminders (催办)
                "feedback")                                         # feedback: 进度反馈提醒 (obligations.feedback)


@dataclass
class ReportData:
    plan: str | None
    plan_title: str
    start: dt.date
    end: dt.date
    as_of: dt.date
    jurisdiction: str | None
    children: bool
    totals: dict[str, Any]
    by_department: list[dict[str, Any]]
    by_clause: list[dict[str, Any]]
    by_unit: list[dict[str, Any]]
    by_origin: list[dict[str, Any]]
    months: list[str]                       # "2025-01" … the period's months, for the heat map
    heat: list[dict[str, Any]]              # per department: {"department", "name", "months": {month: row}}
    overdue_items: list[dict[str, Any]]
    overdue_total: int
    case_coverage: list[dict[str, Any]]     # by township
    case_coverage_units: list[dict[str, Any]]  # by the units of by_unit
    notices: dict[str, int]
    previous: dict[str, Any] | None = None
    # delivery by channel (邮件, 钉钉, 企业微信, 短信): per channel the digests and the notice
    # stages (项次) in them, sent / failed for good / waiting; the channel is the one that
    # delivered a sent digest, the planned one otherwise
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    previous_start: dt.date | None = None
    previous_end: dt.date | None = None
    trend: dict[str, Any] = field(default_factory=dict)
    by_level: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # when asked: every unit, per level
    # progress feedback (进度反馈, reports/progress.py): reports in the period, open long items' latest percent
    progress: dict[str, Any] = field(default_factory=dict)
    returns: int = 0                        # completions of the period's items returned by a coordinator (退回)
    # items due in the period (and by the report day) whose co-departments had not all confirmed
    # their part (协办确认) by the due date (co_departments: confirm; _confirmations_missing)
    confirmations_missing: int = 0
    # 考核评分 (obligations/scoring.py): {"rules": [text…], "settings": {…}, "departments": [row…],
    # "units": [row…]}, each row with its score, rank, the counts and the parts behind them
    scores: dict[str, Any] = field(default_factory=dict)


def empty_row(**labels: Any) -> dict[str, Any]:
    return {**labels, **{s: 0 for s in (*COUNTS, "total")}}


def rates(row: dict[str, Any]) -> dict[str, Any]:
    """Owed = items whose due date has passed or that are done (on time, late or overdue); the
    on-time rate is on time / owed, the completion rate (on time + late) / owed."""
    owed = row["done"] + row["done_late"] + row["overdue"]
    row["owed"] = owed
    row["on_time_rate"] = round(row["done"] / owed, 4) if owed else None
    row["completion_rate"] = round((row["done"] + row["done_late"]) / owed, 4) if owed else None
    return row


def _add(row: dict[str, Any], status: str, n: int) -> None:
    row[status] += n
    row["total"] += n


def _months(start: dt.date, end: dt.date) -> list[str]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class _Scope:
    def __init__(self, plan: str | None, start: dt.date, end: dt.date, unit: Jurisdiction | None, children: bool,
                 department: str | None = None, clause: str | None = None):
        self.plan, self.start, self.end, self.unit, self.children = plan, start, end, unit, children
        self.department, self.clause = department, clause

    def conditions(self) -> list:
        """Everything but the due-date range."""
        out = []
        if self.plan:
            out.append(Occurrence.plan_id == self.plan)
        if self.department:
            out.append(Occurrence.party_key == self.department)
        if self.clause:
            out.append(Occurrence.obligation_id.in_(
                select(Obligation.id).join(Clause, Clause.id == Obligation.clause_id)
                .where(Clause.code == self.clause, Clause.plan_id == self.plan)))
        if self.unit is not None:
            out.append(Occurrence.jurisdiction_id.in_(self.unit_ids()) if self.children
                       else Occurrence.jurisdiction_id == self.unit.id)
        return out

    def apply(self, q, start: dt.date | None = None, end: dt.date | None = None):
        q = q.where(Occurrence.due >= (start or self.start), Occurrence.due <= (end or self.end))
        return q.where(*self.conditions())

    def unit_ids(self):
        return select(Jurisdiction.id).where(Jurisdiction.path.like(self.unit.path + "%")).scalar_subquery()


def build(session: Session, *, start: dt.date, end: dt.date, today: dt.date, plan: str | None = None,
          jurisdiction: str | None = None, children: bool = True, soon_days: int = 7,
          with_previous: bool = True, top: int | None = 50, department: str | None = None,
          clause: str | None = None, levels: bool = False, scoring: ScoringRules | None = None) -> ReportData:
    """``scoring``: the rules of the scores (config.yaml report.scoring; default the defaults)."""
    plan_row = session.get(Plan, plan) if plan else None
    if plan and plan_row is None:
        raise OccurrenceError(f"没有编号为 {plan} 的已加载计划")
    if end < start:
        raise OccurrenceError(f"期间的结束日 {end} 早于开始日 {start}")
    unit = resolve_jurisdiction(session, jurisdiction) if jurisdiction else None
    if clause and not plan:
        raise OccurrenceError("按条款筛选时须同时指定计划")
    if department:
        department = resolve_department(session, department).key
    scope = _Scope(plan, start, end, unit, children, department, clause)
    st = status_sql(today, soon_days).label("status")

    conn = session.connection()         # Core rows: the ORM's result machinery is not needed here
    obligations = {oid: (clause_id, origin, scope_, what) for oid, clause_id, origin, scope_, what in conn.execute(
        select(Obligation.id, Obligation.clause_id, Obligation.origin, Obligation.scope, Obligation.what))}
    plan_titles = dict(conn.execute(select(Plan.id, Plan.title)).all())
    plan_places = dict(conn.execute(select(Plan.id, Plan.locality)).all())
    clauses = {cid: (pid, plan_titles.get(pid, pid), plan_places.get(pid) or plan_titles.get(pid, pid), code, title, pos)
               for cid, pid, code, title, pos in conn.execute(
        select(Clause.id, Clause.plan_id, Clause.code, Clause.title, Clause.position))}
    dept_names = dict(conn.execute(select(Department.key, Department.name)).all())
    units = {jid: (path, name, code, level, parent) for jid, path, name, code, level, parent in conn.execute(
        select(Jurisdiction.id, Jurisdiction.path, Jurisdiction.name, Jurisdiction.code, Jurisdiction.level,
               Jurisdiction.parent_id))}

    # The period is scanned in slices of months; the previous period, the overdue list and the
    # notices run beside them. The database does the work and releases the interpreter meanwhile,
    # so with connections to spare two cores halve the wall time; when the process's scan
    # connections are taken (other reports are running), the parts run one after another on this
    # session's own connection instead of waiting (see _run_parts).
    case_obligations = {oid: v[3] for oid, v in obligations.items() if v[2] == "case"}
    prev_start, prev_end = previous_period(start, end)
    slices = _slices(start, end, SCAN_SLICES)
    soon = today + dt.timedelta(days=soon_days)
    parts = [(_scan, (scope, today, soon, a, b, case_obligations)) for a, b in slices]
    parts += [(_overdue, (st, scope, today, top)), (_notices, (scope,)), (_deliveries, (scope,)),
              (_score_events, (scope,)), (progress_summary, (scope,)), (_confirmations_missing, (scope, today))]
    if with_previous:
        parts.append((_previous_counts, (scope, today, soon, prev_start, prev_end)))
    # the longest parts start first (the previous period's counts, then the slices), so that the
    # short ones fill in around them instead of leaving one long part running alone at the end
    longest_first = [len(parts) - 1, *range(len(parts) - 1)] if with_previous else None
    results = _run_parts(session, parts, longest_first)
    scans, (overdue_rows, notice_counts, deliveries, score_events, progress, confirmations_missing, *previous) = \
        results[:len(slices)], results[len(slices):]
    returns = sum(n for (_, _, _, what), n in score_events.items() if what == "returned")
    c_ob, c_unit, cov_n, cov_done, cov_req, cov_complete, c_scored = scans[0]
    for more in scans[1:]:
        for mine, theirs in zip((c_ob, c_unit, cov_n, cov_done, cov_req, cov_complete, c_scored), more, strict=True):
            for k, v in theirs.items():
                mine[k] += v

    months = _months(start, end)
    c_dept, c_clause, c_origin, c_heat = (defaultdict(int) for _ in range(4))
    for (oid, party, month, status), n in c_ob.items():
        clause_id, orig, _, _ = obligations[oid]
        c_dept[party, status] += n
        c_clause[clause_id, status] += n
        c_origin[orig, status] += n
        c_heat[party, month, status] += n

    dept = _collect(c_dept, lambda p: {"department": p, "name": dept_names.get(p, p)})
    totals = empty_row()
    for row in dept.values():
        for k in (*COUNTS, "total"):
            totals[k] += row[k]
    by_department = sorted((rates(r) for r in dept.values()),
                           key=lambda r: (r["on_time_rate"] is None, r["on_time_rate"] or 0, r["department"]))
    by_clause = sorted((rates(r) for r in _collect(c_clause, lambda cid: dict(zip(
        ("plan", "plan_title", "plan_place", "clause", "title", "position"), clauses[cid], strict=True))).values()),
        key=lambda r: (r["plan"], r["position"]))
    by_origin = [rates(r) for r in sorted(_collect(c_origin, lambda o: {"origin": o}).values(), key=lambda r: r["origin"])]
    per_unit = _collect(c_unit, lambda jid: {})
    head = _unit_heads(per_unit, units, unit)
    by_unit = _by_unit(per_unit, units, head)
    heat = _collect(c_heat, lambda key: {})
    heat_rows = [{"department": d["department"], "name": d["name"],
                  "months": {m: rates(heat[(d["department"], m)]) for m in months if (d["department"], m) in heat}}
                 for d in sorted(by_department, key=lambda r: r["department"])]
    case_coverage, case_coverage_units = _coverage(units, head, cov_n, cov_done, cov_req, cov_complete)
    data = ReportData(plan, plan_row.title if plan_row else "全部计划", start, end, today,
                      unit.name if unit else None, children, rates(totals), by_department, by_clause, by_unit,
                      by_origin, months, heat_rows,
                      overdue_rows, totals["overdue"], case_coverage, case_coverage_units, notice_counts,
                      returns=returns)
    data.deliveries = deliveries
    data.progress = progress
    data.confirmations_missing = confirmations_missing
    data.scores = _scores(c_scored, score_events, obligations, clauses, dept_names, units, head,
                          scoring or ScoringRules())
    if with_previous:
        _apply_previous(data, prev_start, prev_end, *previous[0])
    if levels:
        data.by_level = _by_level(per_unit, units)
    return data


def _by_level(per_unit: dict, units: dict) -> dict[str, list[dict[str, Any]]]:
    """Every unit that holds items or contains units that do, rolled up, per level (province
    first): each unit's counts are its own items and those of every unit below it."""
    by_path = {v[0]: jid for jid, v in units.items()}
    out: dict[int, dict] = {}
    for jid, counts in per_unit.items():
        path = units[jid][0]
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            anc = by_path.get("/".join(parts[:depth]) + "/") if not path.startswith("/") else \
                by_path.get("/" + "/".join(parts[:depth]) + "/")
            if anc is None:
                continue
            row = out.get(anc)
            if row is None:
                _, name, code, level, parent = units[anc]
                row = out[anc] = empty_row(unit=name, code=code, level=level,
                                           parent=units[parent][1] if parent in units else "")
            for k in (*COUNTS, "total"):
                row[k] += counts[k]
    levels: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(out.values(), key=lambda r: (len(r["code"]), r["code"])):
        levels.setdefault(row["level"], []).append(rates(row))
    order = ("province", "city", "county", "township", "village")
    return {k: levels[k] for k in sorted(levels, key=lambda lv: order.index(lv) if lv in order else 9)}


SCAN_SLICES = 2


def _slices(start: dt.date, end: dt.date, n: int) -> list[tuple[dt.date, dt.date]]:
    """Split [start, end] into at most n ranges of about equal length (whole days)."""
    days = (end - start).days + 1
    n = max(1, min(n, days))
    bounds = [start + dt.timedelta(days=days * i // n) for i in range(n + 1)]
    return [(bounds[i], bounds[i + 1] - dt.timedelta(days=1)) for i in range(n)]


def _scan(conn, scope: _Scope, today: dt.date, soon: dt.date, start: dt.date, end: dt.date,
          case_obligations: dict[int, str]):
    """One slice of the period: the occurrences grouped by due date, plan, obligation,
    department and unit (the leading columns of ix_occurrence_due_cover: SQLite aggregates as it
    reads the index, with no sort), with the status rule as counts (``status_tally``), folded
    into flat counters keyed by (dimension value…, status). Per group only the obligation ×
    month and the unit counters move (and key-child coverage for case duties); the other tables
    are rolled up from the first."""
    capped = case((Occurrence.done_count > Occurrence.required, Occurrence.required), else_=Occurrence.done_count)
    q = select(_due_raw(), Occurrence.obligation_id, Occurrence.party_key, Occurrence.jurisdiction_id,
               *status_tally(), func.sum(capped), func.sum(Occurrence.required)).select_from(Occurrence)
    q = scope.apply(q, start, end).group_by(Occurrence.due, Occurrence.plan_id, Occurrence.obligation_id,
                                            Occurrence.party_key, Occurrence.jurisdiction_id)
    c_ob, c_unit, c_scored = defaultdict(int), defaultdict(int), defaultdict(int)
    cov_n, cov_done, cov_req, cov_complete = (defaultdict(int) for _ in range(4))
    days = _Days(today, soon)
    for due, oid, party, jid, n, waived, met, submitted, done, done_sum, req_sum in conn.execute(q).fetchall():
        month, unmet = days[due]
        what = case_obligations.get(oid)
        for status, k in split_tally(unmet, n, waived, met, submitted, done):
            c_ob[oid, party, month, status] += k
            c_unit[jid, status] += k
            if status in SCORED:
                c_scored[oid, party, jid, SCORED[status]] += k
            if what is not None and status in ("done", "done_late"):
                cov_complete[jid, what] += k
        if what is not None:
            key = (jid, what)
            cov_n[key] += n
            cov_done[key] += int(done_sum or 0)
            cov_req[key] += int(req_sum or 0)
    return c_ob, c_unit, cov_n, cov_done, cov_req, cov_complete, c_scored


def _due_raw():
    """The due date as the driver gives it (ISO text on SQLite, a date on PostgreSQL): the scans'
    groups share a few hundred due dates, parsed once each by ``_Days`` rather than row by row."""
    return sa.type_coerce(Occurrence.due, sa.String)


class _Days(dict):
    """A due date (as ``_due_raw`` gives it) → ('YYYY-MM', the status of its unmet items)."""

    def __init__(self, today: dt.date, soon: dt.date):
        super().__init__()
        self.today, self.soon = today, soon

    def __missing__(self, raw) -> tuple[str, str]:
        due = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(raw)
        value = self[raw] = (f"{due.year:04d}-{due.month:02d}", unmet_status(due, self.today, self.soon))
        return value


def _run_parts(session: Session, parts: list[tuple[Any, tuple]], order: list[int] | None = None) -> list:
    """Run each part ``fn(conn, *args)`` (started in ``order``, a list of their indexes, when
    given); the results in the parts' order. This thread works on the session's own
    connection; up to len(parts) - 1 helper threads (on SQLite, the cores less one) each open
    one more, as many as the process-wide scan limit has free right now
    (``storage.db.scan_slots``: never waited for, so reports cannot hold connections while they
    wait for more, and the pool is never exhausted by reports). With none free the parts run one
    after another. Each connection is tuned once (``_tune``) before its first part."""
    slots = scan_slots(session.get_bind())
    wanted = len(parts) - 1
    if session.get_bind().dialect.name == "sqlite":
        # SQLite works inside this process: threads beyond the cores only take turns at the
        # interpreter (province benchmark, 2 cores: 1.39 s with one helper, 1.93 s with four)
        wanted = min(wanted, max(1, _cores() - 1))
    helpers = 0
    while helpers < wanted and slots.acquire(blocking=False):
        helpers += 1
    results: list = [None] * len(parts)
    todo = [(i, parts[i]) for i in (order if order is not None else range(len(parts)))]
    lock = threading.Lock()

    def work(conn) -> None:
        _tune(conn)
        while True:
            with lock:
                if not todo:
                    return
                i, (fn, args) = todo.pop(0)
            results[i] = fn(conn, *args)

    def helper() -> None:
        try:
            with session.get_bind().connect() as conn:
                work(conn)
        finally:
            slots.release()

    if not helpers:
        work(session.connection())
        return results
    with ThreadPoolExecutor(max_workers=helpers) as pool:
        futures = [pool.submit(helper) for _ in range(helpers)]
        try:
            work(session.connection())
        except BaseException:
            with lock:
                todo.clear()          # the helpers stop after their current part
            raise
        for f in futures:
            f.result()
    return results


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def _tune(conn) -> None:
    """PostgreSQL, for this transaction only: let the grouping hash in memory (tens of MB)
    instead of spilling a sort to disk; the aggregates are too short for JIT compilation to pay
    off; and a random read of an index costs about a sequential one (the indexes the report
    reads are cached or on solid state; PostgreSQL's default of 4 assumes a spinning disk and
    would rather scan every item of the period than probe the 15,000 returned ones by key)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET LOCAL work_mem = '128MB'"))
        conn.execute(sa.text("SET LOCAL jit = off"))
        conn.execute(sa.text("SET LOCAL random_page_cost = 1.1"))


def _collect(counter: dict, labels) -> dict:
    """{(key…, status): n} → {key: row with the labels and the counts}."""
    out: dict = {}
    for (*key, status), n in counter.items():
        key = key[0] if len(key) == 1 else tuple(key)
        row = out.get(key)
        if row is None:
            row = out[key] = empty_row(**labels(key))
        _add(row, status, n)
    return out


def _unit_heads(per_unit: dict, units: dict, unit: Jurisdiction | None):
    """A function mapping a unit to the unit one level below the report's jurisdiction that
    contains it (the jurisdiction itself for its own items). Without a jurisdiction: below the
    deepest unit that holds every item (a province)."""
    if unit is not None:
        base = unit.path
    else:
        common = os.path.commonprefix([units[jid][0] for jid in per_unit]) if per_unit else ""
        base = common[:common.rfind("/") + 1]        # whole codes only
    by_path = {v[0]: jid for jid, v in units.items()}
    cache: dict[int, int] = {}

    def head(jid: int) -> int:
        if jid not in cache:
            rest = units[jid][0][len(base):]
            cache[jid] = by_path[base + rest.split("/")[0] + "/"] if rest else jid
        return cache[jid]
    return head


def _by_unit(per_unit: dict, units: dict, head) -> list[dict[str, Any]]:
    out: dict[int, dict] = {}
    for jid, counts in per_unit.items():
        h = head(jid)
        row = out.get(h)
        if row is None:
            _, name, code, level, _ = units[h]
            row = out[h] = empty_row(unit=name, code=code, level=level)
        for k in (*COUNTS, "total"):
            row[k] += counts[k]
    return sorted((rates(r) for r in out.values()), key=lambda r: r["code"])


def _coverage(units: dict, head, cov_n, cov_done, cov_req, cov_complete) -> tuple[list, list]:
    """Key-child contacts and visits, done versus required: by township, and by the units of the
    per-unit table."""
    towns: dict[tuple[str, str], dict] = {}
    heads: dict[tuple[str, str], dict] = {}
    for (jid, what), n in cov_n.items():
        town = jid if units[jid][3] != "village" else units[jid][4]
        h = head(jid)
        for table, key, label in ((towns, (units[town][2], what), {"township": units[town][1]}),
                                  (heads, (units[h][2], what), {"unit": units[h][1]})):
            row = table.get(key)
            if row is None:
                row = table[key] = {**label, "what": what, "items": 0, "done": 0, "required": 0, "complete_items": 0}
            row["items"] += n
            row["done"] += cov_done[jid, what]
            row["required"] += cov_req[jid, what]
            row["complete_items"] += cov_complete[jid, what]

    def finish(table):
        return [{**r, "coverage": round(r["complete_items"] / r["items"], 4) if r["items"] else None}
                for _, r in sorted(table.items())]
    return finish(towns), finish(heads)


def _previous_counts(conn, scope: _Scope, today: dt.date, soon: dt.date, prev_start: dt.date, prev_end: dt.date):
    """The period of the same kind just before (previous month, quarter, half-year, year, or
    the same number of days), judged on the same report day: totals and per-department counts
    (one aggregate, grouped as the scan is, by leading columns of the covering index)."""
    q = select(_due_raw(), Occurrence.party_key, *status_tally()).select_from(Occurrence)
    q = scope.apply(q, prev_start, prev_end).group_by(Occurrence.due, Occurrence.plan_id, Occurrence.obligation_id,
                                                      Occurrence.party_key)
    totals, dept, days = empty_row(), {}, _Days(today, soon)
    for due, party, *tally in conn.execute(q).fetchall():
        row = dept.get(party) or dept.setdefault(party, empty_row())
        for status, n in split_tally(days[due][1], *tally):
            _add(totals, status, n)
            _add(row, status, n)
    return totals, dept


def _apply_previous(data: ReportData, prev_start: dt.date, prev_end: dt.date, totals: dict, dept: dict) -> None:
    data.previous, data.previous_start, data.previous_end = rates(totals), prev_start, prev_end
    data.trend = {k: _delta(data.totals[k], totals[k]) for k in ("on_time_rate", "completion_rate")}
    for row in data.by_department:
        before = rates(dept[row["department"]]) if row["department"] in dept else None
        row["previous_on_time_rate"] = before["on_time_rate"] if before else None
        row["trend"] = _delta(row["on_time_rate"], row["previous_on_time_rate"])


def _delta(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 4)


def _overdue(conn, st, scope: _Scope, as_of: dt.date, top: int | None) -> list[dict[str, Any]]:
    """The longest-overdue items first, with days late and the highest escalation sent: the
    first ``top`` of them, or every one (``top=None``, the workbook's ledger)."""
    if top == 0:
        return []
    unit = sa.orm.aliased(Jurisdiction)
    escalation = (select(func.max(Notice.stage)).where(Notice.occurrence_id == Occurrence.id,
                                                       Notice.kind == "escalate").scalar_subquery())
    q = (select(Occurrence.id, Occurrence.plan_id, Clause.code, Obligation.what, unit.name, Department.name,
                Occurrence.period_key, Occurrence.due, Occurrence.done_count, Occurrence.required, Case.code,
                escalation, Occurrence.original_due, Clause.title)
         .select_from(Occurrence).join(Obligation, Obligation.id == Occurrence.obligation_id)
         .join(Clause, Clause.id == Obligation.clause_id).join(Department, Department.key == Occurrence.party_key)
         .join(unit, unit.id == Occurrence.jurisdiction_id).outerjoin(Case, Case.id == Occurrence.case_id)
         .where(st == "overdue"))
    # in the order of the covering due-date index, so the database stops after `top` rows
    q = scope.apply(q).order_by(Occurrence.due, Occurrence.plan_id, Occurrence.obligation_id, Occurrence.party_key,
                                Occurrence.jurisdiction_id, Occurrence.id).limit(top)
    return [{"id": r[0], "plan": r[1], "clause": r[2], "what": r[3], "unit": r[4], "department": r[5],
             "period": r[6], "due": _date(r[7]).isoformat(), "days_late": (as_of - _date(r[7])).days, "done": r[8],
             "required": r[9], "case": r[10], "escalation": int(r[11].rsplit("-", 1)[1]) if r[11] else 0,
             "original_due": _date(r[12]).isoformat() if r[12] else None, "clause_title": r[13] or ""}
            for r in conn.execute(q).fetchall()]


def _date(v) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(v)


def _confirmations_missing(conn, scope: _Scope, as_of: dt.date) -> int:
    """Items of the scope due in the period and before ``as_of`` with a co-department that had not
    confirmed its part by the end of the due date (UTC timestamps; a confirmation still pending
    counts). One grouped query over co_confirmation, which holds only confirm-mode items."""
    from storage.tables import CoConfirmation

    cc = CoConfirmation
    if conn.dialect.name == "postgresql":
        day = sa.cast(cc.confirmed_at, sa.Date)
    else:
        day = func.date(cc.confirmed_at)
    late = sa.or_(cc.confirmed_at.is_(None), day > Occurrence.due)
    q = (select(func.count(sa.distinct(Occurrence.id))).select_from(cc)
         .join(Occurrence, Occurrence.id == cc.occurrence_id)
         .where(late, Occurrence.waived_at.is_(None), Occurrence.due < as_of))
    return int(conn.execute(scope.apply(q)).scalar() or 0)


def _of_items(q, scope: _Scope):
    """Notices of the scope's items: joined to their items only when the scope narrows them (a
    plan, a unit, a department, a clause); for everything, no join (every notice has its item)."""
    conditions = scope.conditions()
    if not conditions:
        return q
    return q.join(Occurrence, Occurrence.id == Notice.occurrence_id).where(*conditions)


def _notices(conn, scope: _Scope) -> dict[str, int]:
    """Notice stages written in the period for the scope's items, by kind, and how many of them
    went out (their digest was sent)."""
    q = _of_items(select(Notice.kind, func.count(), func.sum(case((Outbox.status == OutboxStatus.SENT, 1), else_=0)))
                  .select_from(Notice), scope).outerjoin(Outbox, Outbox.id == Notice.digest_id) \
        .where(Notice.swept_on >= scope.start, Notice.swept_on <= scope.end)
    out = {k: 0 for k in NOTICE_KINDS} | {f"{k}_sent": 0 for k in NOTICE_KINDS}
    for kind, n, sent in conn.execute(q.group_by(Notice.kind)).fetchall():
        out[kind], out[f"{kind}_sent"] = n, int(sent or 0)
    out["total"] = sum(out[k] for k in NOTICE_KINDS)
    out["sent"] = sum(out[f"{k}_sent"] for k in NOTICE_KINDS)
    return out


CHANNEL_ORDER = ("email", "dingtalk", "wecom", "sms", "im", "none")


def _deliveries(conn, scope: _Scope) -> list[dict[str, Any]]:
    """The period's notice stages of the scope's items by the channel of their digest: one
    grouped query."""
    q = (_of_items(select(Outbox.channel, Outbox.status, func.count(func.distinct(Outbox.id)), func.count())
                   .select_from(Notice), scope)
         .join(Outbox, Outbox.id == Notice.digest_id)
         .where(Notice.swept_on >= scope.start, Notice.swept_on <= scope.end)
         .group_by(Outbox.channel, Outbox.status))
    rows: dict[str, dict[str, Any]] = {}
    for channel, status, digests, notices in conn.execute(q).fetchall():
        row = rows.setdefault(channel, {"channel": channel, "name": CHANNEL_NAMES.get(channel, channel),
                                        "digests": 0, "notices": 0, "sent": 0, "sent_digests": 0, "dead": 0,
                                        "waiting": 0})
        row["digests"] += digests
        row["notices"] += notices
        if status == OutboxStatus.SENT:
            row["sent"] += notices
            row["sent_digests"] += digests
        elif status == OutboxStatus.DEAD:
            row["dead"] += notices
        elif status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
            row["waiting"] += notices
    order = {c: i for i, c in enumerate(CHANNEL_ORDER)}
    return sorted(rows.values(), key=lambda r: (order.get(r["channel"], 99), r["channel"]))


# -- 考核评分 (scores) ------------------------------------------------------------------------

SCORED = {"done": "on_time", "done_late": "late", "overdue": "overdue"}   # status → obligations.scoring count


def _score_events(conn, scope: _Scope) -> dict[tuple, int]:
    """Returns (退回: completions a coordinator returned) and approved extensions (延期) of the
    scope's items, by obligation, department and unit: two grouped queries."""
    out: dict[tuple, int] = defaultdict(int)
    keys = (Occurrence.obligation_id, Occurrence.party_key, Occurrence.jurisdiction_id)
    # the few returned completions first (ix_completion_returned), then their items by key: driven
    # from the items' due-date index instead, the join would probe every item of the period
    per_item = (select(Completion.occurrence_id, func.count().label("n")).where(Completion.returned_at.is_not(None))
                .group_by(Completion.occurrence_id).subquery("returned"))
    returned = (select(*keys, func.sum(per_item.c.n)).select_from(per_item)
                .join(Occurrence, Occurrence.id == per_item.c.occurrence_id))
    extended = (select(*keys, func.count()).select_from(ItemRequest)
                .join(Occurrence, Occurrence.id == ItemRequest.occurrence_id)
                .where(ItemRequest.kind == "extension", ItemRequest.status == "approved"))
    for what, q in (("returned", returned), ("extended", extended)):
        for oid, party, jid, n in conn.execute(scope.apply(q).group_by(*keys)).fetchall():
            out[oid, party, jid, what] += n
    return out


def _scores(c_scored: dict, events: dict, obligations: dict, clauses: dict, dept_names: dict, units: dict, head,
            rules: ScoringRules) -> dict[str, Any]:
    """Each department's and each unit's (the units of by_unit) counts per plan and origin,
    scored and ranked (obligations.scoring). The scan's groups (tens of thousands) are summed
    into plain counters first; each Part then takes its counts once."""
    by_dept: dict[tuple, int] = defaultdict(int)
    by_head: dict[tuple, int] = defaultdict(int)
    kinds: dict[int, tuple[str, str]] = {}
    for counter in (c_scored, events):
        for (oid, party, jid, what), n in counter.items():
            kind = kinds.get(oid)
            if kind is None:
                clause_id, origin, _, _ = obligations[oid]
                kind = kinds[oid] = (clauses[clause_id][0], origin)
            by_dept[party, kind, what] += n
            by_head[head(jid), kind, what] += n
    depts: dict[str, Tally] = {}
    for (party, kind, what), n in by_dept.items():
        d = depts.get(party)
        if d is None:
            d = depts[party] = Tally(party, {"department": party, "name": dept_names.get(party, party)})
        d.part(*kind).add({what: n})
    heads: dict[int, Tally] = {}
    for (h, kind, what), n in by_head.items():
        u = heads.get(h)
        if u is None:
            _, name, code, level, _ = units[h]
            u = heads[h] = Tally(code, {"unit": name, "code": code, "level": level})
        u.part(*kind).add({what: n})
    plan_titles = {v[0]: v[1] for v in clauses.values()}
    return score_board(depts.values(), heads.values(), rules, plan_titles)
