"""Ad-hoc assignments (交办 / 批示件): a coordinator assigns a task outside any plan.

An assignment is stored as a plan of its own whose ``doc.origin`` is ``assigned``, with one
clause (code ``assigned``, shown as 交办事项) and one obligation (origin ``assigned``, cadence
``once`` with the deadline). So its items are ordinary occurrences: the sweep, delivery, the
lists, the item page, completion, access rules and reports read them unchanged. The items are
written by materialize's own fan-out (one ``INSERT … SELECT`` per scope family), so an
assignment to every county of a province is one statement, and a later materialize adds
nothing (same schedule hash, same period key).

``assign`` is the one door (CLI, web form, API, workbook import, demo): it checks every rule
before its first write and writes the audit row."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session

from obligations.cadence import expand
from obligations.catalog import content_hash
from obligations.errors import DubanError, Forbidden, ProblemsError
from obligations.words import LEVEL_NAMES, SCOPE_NAMES, UNIT_LEVEL_NAMES
from obligations.workcal import WorkCalendar
from storage import audit
from storage.occurrences import OccurrenceError, resolve_jurisdiction
from storage.schedule import _fan_out, _schedule_hash, insert_ignore
from storage.tables import (
    Clause,
    ClauseDepartment,
    Contact,
    Department,
    Jurisdiction,
    Obligation,
    ObligationParty,
    Occurrence,
    Plan,
    SchedulePeriod,
)
from storage.workbook import read_rows

ORIGIN = "assigned"            # plan.doc.origin, obligation.origin
CLAUSE_CODE = "assigned"       # the one clause of an assignment (words.clause_label: 交办事项)
SOURCES = ("批示", "会议", "来文", "督查", "信访", "其他")
LEVELS = ("province", "city", "county", "township", "village")
MAX_TITLE = 100
MAX_TEXT = 2000
MAX_SOURCE = 20
MAX_COUNT = 1000
MAX_WITHIN = 250               # working days: about a year
MAX_AHEAD = 2 * 366            # a deadline at most two years ahead
MAX_DEPARTMENTS = 10
# a level as people write it: 县级, 县（市、区）, 各县（市、区）, 县, 乡镇 …
LEVEL_WORDS = ({v: k for k, v in LEVEL_NAMES.items()} | {v: k for k, v in UNIT_LEVEL_NAMES.items()}
               | {v: k for k, v in SCOPE_NAMES.items() if k in LEVELS}
               | {"省": "province", "市": "city", "县": "county", "区": "county", "乡镇": "township", "街道": "township",
                  "村": "village", "社区": "village"})


class TaskInput(DubanError, ValueError):
    """A value of an assignment the rules refuse; ``field`` names it (for the workbook's column)."""

    http_status = 422

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class TaskSheetError(ProblemsError, ValueError):
    head = "交办任务表有误，未导入任何任务"


@dataclass
class Assigned:
    plan_id: str
    title: str
    due: dt.date
    units: int            # target units
    items: int            # items created
    departments: list[str] = field(default_factory=list)


def _text(value: str | None, name: str, limit: int, *, required: bool = False, field_: str = "") -> str | None:
    value = (value or "").strip()
    if required and not value:
        raise TaskInput(f"请填写{name}", field_)
    if len(value) > limit:
        raise TaskInput(f"{name}不能超过 {limit} 个字（现有 {len(value)} 个）", field_)
    if "\x00" in value or any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise TaskInput(f"{name}中含有无法保存的字符", field_)
    return value or None


def department_lookup(session: Session) -> dict[str, str]:
    """Every way a department may be named → its key: the key, its name, its names per level and
    its aliases (教育局, 教育部门, education …)."""
    out: dict[str, str] = {}
    for d in session.scalars(select(Department).order_by(Department.kind, Department.key)):
        names = [d.key, d.name, *(d.doc.get("names") or {}).values(), *(d.doc.get("aliases") or [])]
        for n in names:
            out.setdefault(str(n).strip(), d.key)
    return out


def resolve_departments(session: Session, given: list[str] | str) -> list[str]:
    """Department keys from keys or Chinese names (a unit's prefix such as 福州市 is ignored),
    in order, the first leading; an unknown name is refused naming it."""
    if isinstance(given, str):
        given = [g for g in re.split(r"[,，、;；\s]+", given) if g]
    given = [g.strip() for g in given if g and g.strip()]
    if not given:
        raise TaskInput("请至少指定一个责任部门（牵头部门在前）", "departments")
    if len(given) > MAX_DEPARTMENTS:
        raise TaskInput(f"责任部门不能超过 {MAX_DEPARTMENTS} 个", "departments")
    lookup = department_lookup(session)
    keys, unknown = [], []
    for name in given:
        key = lookup.get(name) or next((k for n, k in lookup.items() if len(n) >= 2 and name.endswith(n)), None)
        if key is None:
            unknown.append(name)
        elif key not in keys:
            keys.append(key)
    if unknown:
        raise TaskInput(f"未知的部门：{'、'.join(unknown)}（可用部门键或名称，如 education 或 教育局；"
                        "duban departments list 可查看）", "departments")
    return keys


def deadline(*, due: dt.date | None, within: int | None, today: dt.date, calendar: WorkCalendar) -> dt.date:
    """The due date from a date or from N working days (counted from tomorrow), moved past rest
    days as every deadline is; not before today, at most two years ahead."""
    if (due is None) == (within is None):
        raise TaskInput("请给出截止日期，或“N 个工作日内”（二者选一）", "due")
    if within is not None:
        if isinstance(within, bool) or not isinstance(within, int) or not 1 <= within <= MAX_WITHIN:
            raise TaskInput(f"工作日数必须是 1 到 {MAX_WITHIN} 之间的整数", "within")
        return calendar.add_workdays(today, within)
    if due < today:
        raise TaskInput(f"截止日期 {due} 早于今天（{today}）", "due")
    if due > today + dt.timedelta(days=MAX_AHEAD):
        raise TaskInput(f"截止日期 {due} 太远（最多两年以内）", "due")
    return calendar.due(due)


def _targets(session: Session, unit: Jurisdiction, level: str | None):
    """The units an assignment reaches, as a SELECT of jurisdiction ids."""
    if level is None:
        return select(Jurisdiction.id).where(Jurisdiction.id == unit.id)
    return select(Jurisdiction.id).where(Jurisdiction.level == level, Jurisdiction.path.like(unit.path + "%"))


def _next_id(session: Session, today: dt.date) -> str:
    prefix = f"task-{today.year}-"
    ids = session.scalars(select(Plan.id).where(Plan.id.like(prefix + "%"))).all()
    n = max((int(i[len(prefix):]) for i in ids if i[len(prefix):].isdigit()), default=0) + 1
    return f"{prefix}{n:04d}"


def assign(session: Session, by, *, title: str, departments: list[str] | str, jurisdiction: str,
           level: str | None = None, due: dt.date | None = None, within: int | None = None,
           source: str | None = None, text: str | None = None, count: int = 1, evidence: bool = False,
           today: dt.date, calendar: WorkCalendar, now: dt.datetime | None = None) -> Assigned:
    """Assign a task to a unit (``level`` None) or to every unit of ``level`` within it, owed by
    ``departments`` (the first leads). ``by`` is a ``storage.workflow.Actor``: with a principal,
    only a coordinator may assign, and only within their own jurisdiction. Refused, naming the
    units, when a department is missing at any target unit. The caller owns the transaction."""
    p = by.principal
    if p is not None and not p.can_review:
        raise Forbidden("只有协调员可以交办任务")
    title = _text(title, "任务名称", MAX_TITLE, required=True, field_="title")
    text = _text(text, "任务内容", MAX_TEXT, field_="text")
    source = _text(source, "任务来源", MAX_SOURCE, field_="source") or "交办"
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise TaskInput(f"应完成次数必须是 1 到 {MAX_COUNT} 之间的整数", "count")
    keys = resolve_departments(session, departments)
    name = _text(jurisdiction, "地区", 64, required=True, field_="jurisdiction")
    try:
        unit = resolve_jurisdiction(session, name)
    except OccurrenceError as exc:
        raise TaskInput(str(exc), "jurisdiction") from None
    if p is not None and not unit.path.startswith(p.jurisdiction_path):
        raise Forbidden(f"{unit.name} 不在您的管辖范围（{p.jurisdiction_name}）内，不能交办")
    if level is not None:
        level = level.strip() or None
    if level is not None:
        level = LEVEL_WORDS.get(level, level)
        if level not in LEVELS:
            raise TaskInput(f"未知的层级 {level}（可用：{'、'.join(UNIT_LEVEL_NAMES.values())}，或 {'、'.join(LEVELS)}）",
                            "level")
        if unit.level not in LEVELS or LEVELS.index(level) <= LEVELS.index(unit.level):
            raise TaskInput(f"层级须低于{unit.name}（{LEVEL_NAMES.get(unit.level, unit.level)}）", "level")
    due_day = deadline(due=due, within=within, today=today, calendar=calendar)

    targets = _targets(session, unit, level)
    n_units = session.scalar(select(func.count()).select_from(targets.subquery())) or 0
    if not n_units:
        raise TaskInput(f"{unit.name}下没有{LEVEL_NAMES.get(level, level)}单位", "level")
    lacking = []
    names = dict(session.execute(select(Department.key, Department.name)).all())
    target_level = level or unit.level
    for key in keys:
        levels = (session.get(Department, key).doc or {}).get("levels")
        if levels and target_level not in levels:
            lacking.append(f"{names.get(key, key)}在{LEVEL_NAMES.get(target_level, target_level)}一级未设置")
            continue
        missing = select(Jurisdiction.name).where(
            Jurisdiction.id.in_(targets),
            ~select(Contact.id).where(Contact.jurisdiction_id == Jurisdiction.id, Contact.department_key == key).exists())
        n_missing = session.scalar(select(func.count()).select_from(missing.subquery())) or 0
        if n_missing:
            shown = session.scalars(missing.order_by(Jurisdiction.path).limit(10)).all()
            more = f" 等 {n_missing} 个单位" if n_missing > len(shown) else ""
            lacking.append(f"{'、'.join(shown)}{more}没有{names.get(key, key)}")
    if lacking:
        raise TaskInput("部门目录中，" + "；".join(lacking) + "。请先在部门目录中补充，或交办给其他部门或地区",
                        "departments")

    now = now or dt.datetime.now(dt.timezone.utc)
    plan_id = _next_id(session, today)
    doc = {"origin": ORIGIN, "source": source, "text": text, "unit_code": unit.code, "level": level,
           "departments": keys, "due": due_day.isoformat(), "count": count, "evidence": evidence,
           "assigned_by": by.name, "assigned_on": today.isoformat(), "channel": by.channel}
    issuer = p.display_name if p is not None else by.name
    session.add(Plan(id=plan_id, title=title, issuer=issuer, locality=unit.name, level=unit.level, issued=today,
                     content_hash=content_hash(doc), doc=doc, loaded_at=now, updated_at=now))
    session.flush()
    clause = Clause(plan_id=plan_id, code=CLAUSE_CODE, position=1, kind=ORIGIN, section=source, title=title,
                    text=text or title, line_first=0, line_last=0, content_hash=content_hash(doc), doc={})
    session.add(clause)
    session.flush()
    cadence = {"kind": "once", "deadline": due_day.isoformat(), "start": today.isoformat(), "count": count,
               "origin": ORIGIN}
    ob = Obligation(plan_id=plan_id, clause_id=clause.id, code="1", position=1, what=title, scope=level or "issuer",
                    cadence_kind="once", origin=ORIGIN, cadence=cadence, content_hash=content_hash(cadence),
                    doc={"evidence": bool(evidence)})
    session.add(ob)
    session.flush()
    session.execute(sa.insert(ClauseDepartment), [
        {"clause_id": clause.id, "position": i, "name": names.get(k, k), "department_key": k,
         "role": "lead" if i == 0 else "co"} for i, k in enumerate(keys)])
    session.execute(sa.insert(ObligationParty), [
        {"obligation_id": ob.id, "position": i, "party_key": k} for i, k in enumerate(keys)])
    start = today
    periods = expand(cadence, start, due_day, calendar)
    session.execute(insert_ignore(SchedulePeriod.__table__, session.get_bind().dialect.name), [
        dict(obligation_id=ob.id, period_key=pr.key, period_start=pr.start, period_end=pr.end, due=pr.due,
             required=count, schedule_hash=_schedule_hash(ob, keys, start)) for pr in periods])
    items = _fan_out(session, plan_id, unit, due_day)
    audit.record(session, actor=by.name, action="task.assign", object_type="plan", object_id=plan_id,
                 jurisdiction_id=unit.id, at=now,
                 after={"title": title, "source": source, "unit": unit.name, "level": level, "departments": keys,
                        "due": due_day, "count": count, "evidence": evidence, "units": n_units, "items": items,
                        "channel": by.channel})
    return Assigned(plan_id, title, due_day, n_units, items, keys)


def evidence_required(session: Session, occurrence: Occurrence) -> bool:
    """Whether the item's obligation asks for an evidence file with its completion."""
    doc = session.scalar(select(Obligation.doc).where(Obligation.id == occurrence.obligation_id))
    return bool((doc or {}).get("evidence"))


def is_assignment(plan: Plan | None) -> bool:
    return plan is not None and (plan.doc or {}).get("origin") == ORIGIN


def list_assignments(session: Session, *, area_path: str | None = None, today: dt.date,
                     limit: int | None = 200) -> list[dict[str, Any]]:
    """Assignments, newest first, with their items' progress (one aggregate); ``limit`` None: all."""
    o = Occurrence
    progress = (select(o.plan_id, func.count().label("n"), func.count().filter(o.done_count >= o.required).label("done"),
                       func.count().filter(o.done_count < o.required, o.waived_at.is_(None), o.due < today)
                       .label("overdue"))
                .where(o.plan_id.like("task-%")).group_by(o.plan_id).subquery())
    unit = Jurisdiction
    q = (select(Plan.id, Plan.title, Plan.issuer, Plan.locality, Plan.issued, Plan.doc,
                func.coalesce(progress.c.n, 0), func.coalesce(progress.c.done, 0),
                func.coalesce(progress.c.overdue, 0))
         .join(unit, unit.code == Plan.doc["unit_code"].as_string())
         .outerjoin(progress, progress.c.plan_id == Plan.id).where(Plan.id.like("task-%"))
         .order_by(Plan.issued.desc(), Plan.id.desc()).limit(limit))
    if area_path is not None:
        q = q.where(unit.path.like(area_path + "%"))
    out = []
    for pid, title, issuer, locality, issued, doc, n, done, overdue in session.execute(q):
        if (doc or {}).get("origin") != ORIGIN:
            continue
        out.append({"id": pid, "title": title, "issuer": issuer, "unit": locality, "level": doc.get("level"),
                    "source": doc.get("source"), "departments": doc.get("departments", []), "due": doc.get("due"),
                    "count": doc.get("count", 1), "evidence": doc.get("evidence", False),
                    "assigned_on": issued.isoformat() if issued else None, "assigned_by": doc.get("assigned_by"),
                    "items": n, "done": done, "overdue": overdue})
    return out


# ---------------------------------------------------------------- the workbook

HEADERS = {"任务名称": "title", "任务来源": "source", "任务内容": "text", "责任部门": "departments",
           "地区": "jurisdiction", "下达层级": "level", "截止日期": "due", "工作日内": "within",
           "应完成次数": "count", "须附佐证材料": "evidence"}
REQUIRED = ("任务名称", "责任部门", "地区")
COLUMN_OF = {v: k for k, v in HEADERS.items()}
YES = {"是", "需要", "要", "y", "yes", "true", "1", "√"}
NO = {"", "否", "不需要", "不要", "n", "no", "false", "0"}


def read_sheet(path: Path) -> list[tuple[str, int, dict[str, Any]]]:
    return read_rows(path, required=REQUIRED, known=HEADERS, error=TaskSheetError,
                     header_hint=f"可用列：{'、'.join(HEADERS)}")


def _cell_date(v) -> dt.date | None:
    if v is None or str(v).strip() == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v).strip())
    except ValueError:
        raise TaskInput(f"{v!r} 不是日期（格式 2025-07-15）", "due") from None


def _cell_int(v, name: str, key: str) -> int | None:
    if v is None or str(v).strip() == "":
        return None
    try:
        f = float(str(v).strip())
    except ValueError:
        raise TaskInput(f"{name}应为整数，而不是 {v!r}", key) from None
    if f != int(f):
        raise TaskInput(f"{name}应为整数，而不是 {v!r}", key)
    return int(f)


def import_sheet(session: Session, by, path: Path, *, today: dt.date, calendar: WorkCalendar) -> list[Assigned]:
    """Every row of the workbook as one assignment, or none: each bad row is reported as
    ``sheet!row: column: reason`` and the caller's transaction is rolled back (a savepoint
    undoes the rows already assigned before the error is raised)."""
    rows = read_sheet(path)
    if not rows:
        raise TaskSheetError([f"{path}: 没有任务行"])
    problems, done = [], []
    savepoint = session.begin_nested()
    for sheet, number, values in rows:
        try:
            evidence_text = str(values.get("须附佐证材料") or "").strip().lower()
            if evidence_text not in YES | NO:
                raise TaskInput(f"应填“是”或“否”，而不是 {values.get('须附佐证材料')!r}", "evidence")
            done.append(assign(
                session, by, title=str(values.get("任务名称") or ""), departments=str(values.get("责任部门") or ""),
                jurisdiction=str(values.get("地区") or ""), level=str(values.get("下达层级") or "") or None,
                due=_cell_date(values.get("截止日期")), within=_cell_int(values.get("工作日内"), "工作日数", "within"),
                source=str(values.get("任务来源") or "") or None, text=str(values.get("任务内容") or "") or None,
                count=_cell_int(values.get("应完成次数"), "应完成次数", "count") or 1,
                evidence=evidence_text in YES, today=today, calendar=calendar))
        except TaskInput as exc:
            problems.append(f"{sheet}!{number}: {COLUMN_OF.get(exc.field, '—')}: {exc}")
        except DubanError as exc:
            problems.append(f"{sheet}!{number}: —: {exc}")
    if problems:
        savepoint.rollback()
        raise TaskSheetError(problems)
    savepoint.commit()
    return done
