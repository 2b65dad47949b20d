"""The plan catalog: the interchange format every part of duban reads (DESIGN.md, "The catalog
format"). A typed model, validation that lists every problem as ``file:line: field: reason``,
and the effective catalog (policy cadence filled in where the text states none).

Pure: callers pass the text; nothing here touches files or the database.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from dateutil.rrule import rrulestr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from obligations.directory import Directory
from obligations.errors import ProblemsError
from obligations.feedback import check_feedback_value
from obligations.problems import from_validation_error
from obligations.words import CADENCE_KIND_NAMES, level_name
from obligations.yamlsource import Located, Problem, YamlSyntaxError, format_path, parse

CadenceKind = Literal["once", "monthly", "quarterly", "semiannual", "annual", "biennial", "rrule", "event"]
Scope = Literal["issuer", "province", "city", "county", "township", "village", "case"]
PLAN_ID = r"^[a-z0-9][a-z0-9-]*$"
# ``completion_review`` (plan: and each obligation, which overrides the plan): whether a
# completion waits for a coordinator's acceptance (办结审核). ``review`` is taken: it holds the
# extractor's free-text notes for whoever checks the draft.
COMPLETION_REVIEW = {"required": "须经协调员审核", "none": "登记即办结"}
DEFAULT_COMPLETION_REVIEW = "required"
# ``co_departments`` (plan: and each obligation, which overrides the plan): how the parties of an
# obligation owe it. ``separate`` (default): one item per party. ``confirm``: the first party of
# ``who`` (the lead, 牵头) owes the one item that reports for the clause; each other party (协办)
# confirms its part on that item (协办确认) instead of owing its own.
CO_DEPARTMENTS = {"separate": "各部门分别办理", "confirm": "牵头部门办理、协办部门确认"}
DEFAULT_CO_DEPARTMENTS = "separate"
# The party that owes what a plan gives one named unit (如城街道 among the departments): that
# unit's own government office, a standard department of the directory at the unit's level.
UNIT_OFFICE = {"township": "township_office"}



class CatalogError(ProblemsError, ValueError):
    """A catalog that failed validation; ``problems`` lists every located error."""

    head = "计划目录校验失败，未加载任何内容"


class _Open(BaseModel):
    # "add fields freely": unknown fields are kept and exported back out
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class After(_Open):
    obligation: str = Field(min_length=1)
    days: int = Field(ge=0)
    workdays: bool = False


class Cadence(_Open):
    kind: CadenceKind | None = None
    rrule: str | None = None
    months: list[int] | None = None
    count: int = Field(default=1, ge=1)
    start: dt.date | None = None
    deadline: dt.date | None = None
    after: After | None = None
    origin: Literal["stated", "policy"]
    text: str | None = None

    @field_validator("months")
    @classmethod
    def _months(cls, months: list[int] | None) -> list[int] | None:
        if months is not None:
            bad = [m for m in months if not 1 <= m <= 12]
            if bad:
                raise ValueError(f"月份必须在 1–12 之间，发现 {bad}")
            if len(set(months)) != len(months):
                raise ValueError("月份重复")
        return months

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, rule: str | None) -> str | None:
        if rule is not None:
            try:
                rrulestr(rule, dtstart=dt.datetime(2025, 1, 1))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"RRULE 无法解析: {exc}") from None
        return rule

    @model_validator(mode="after")
    def _consistent(self) -> Cadence:
        if self.origin == "stated":
            if self.kind is None:
                raise ValueError("原文规定的周期 (origin: stated) 必须给出 kind")
            if not self.text:
                raise ValueError("原文规定的周期 (origin: stated) 必须在 text 中引用原文短语")
        if self.kind == "once" and self.deadline is None:
            raise ValueError("一次性任务 (kind: once) 必须给出 deadline")
        if self.kind == "event" and self.after is None:
            raise ValueError("事件触发任务 (kind: event) 必须给出 after")
        if self.kind == "rrule" and not self.rrule:
            raise ValueError("kind: rrule 必须给出 rrule")
        if self.after is not None and self.kind != "event":
            raise ValueError("只有 kind: event 可以使用 after")
        return self


class NotifyOverride(_Open):
    """Per-obligation notification policy (overrides config.yaml's notify section)."""

    reminders: list[int] | None = None
    on_due_day: bool | None = None
    overdue_every: int | None = Field(default=None, ge=1)
    escalate_after: list[int] | None = None


class Obligation(_Open):
    id: str = Field(min_length=1)
    what: str = Field(min_length=1)
    who: list[str] = Field(min_length=1)
    scope: Scope
    cadence: Cadence
    notify: NotifyOverride | None = None
    # ``units: [code, …]``: only these units owe it. Kept as an extra field (checked in
    # check_catalog) so that documents without it dump and hash as before.


class DepartmentRef(_Open):
    name: str = Field(min_length=1)
    key: str | None = None
    # ``unit: <code>``: one named unit, not a kind of department (an extra field, checked in check_catalog)
    role: Literal["lead", "co"]


class Clause(_Open):
    id: str = Field(min_length=1)
    kind: Literal["task", "requirement", "checklist"]
    section: str | None = None
    title: str | None = None
    text: str = Field(min_length=1)
    lines: list[int] = Field(min_length=2, max_length=2)
    departments: list[DepartmentRef] = []
    obligations: list[Obligation] = []
    category: str | None = None
    target: str | None = None
    item: str | None = None

    @field_validator("lines")
    @classmethod
    def _lines(cls, lines: list[int]) -> list[int]:
        if lines[0] < 1 or lines[1] < lines[0]:
            raise ValueError(f"行号应为 [首行, 末行] 且 1 ≤ 首行 ≤ 末行，发现 {lines}")
        return lines


class PlanInfo(_Open):
    id: str = Field(pattern=PLAN_ID)
    title: str = Field(min_length=1)
    issuer: str = Field(min_length=1)
    locality: str = Field(min_length=1)
    level: Literal["province", "city", "county"]
    issued: dt.date | None = None
    implements: list[str] = []


class Catalog(_Open):
    plan: PlanInfo
    clauses: list[Clause] = Field(min_length=1)

    def obligations(self):
        for clause in self.clauses:
            for obligation in clause.obligations:
                yield clause, obligation


@dataclass(frozen=True)
class PolicyDefault:
    """The coordinator's default progress-report cadence for clauses that state none."""

    kind: str = "quarterly"
    scope: str = "issuer"
    what: str = "报送工作进展"
    rrule: str | None = None
    months: tuple[int, ...] | None = None
    count: int = 1


def parse_catalog(text: str, filename: str, directory: Directory, source_lines: int | None = None) -> Catalog:
    """Validate catalog text. Raise CatalogError listing every located problem: type errors
    from the model and the cross-field checks both run, so one pass shows everything."""
    try:
        located = parse(text, filename)
    except YamlSyntaxError as exc:
        raise CatalogError([exc.problem]) from None
    problems = [Problem(filename, line, format_path(path), "重复的键") for path, line in located.duplicates]
    data = located.data if located.data is not None else {}
    if not isinstance(data, dict):
        raise CatalogError([Problem(filename, 1, "(document)", "目录文件顶层应为映射 (plan, clauses)")])
    catalog = None
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as err:
        problems += from_validation_error(err, located, filename)
    problems += check_catalog(data, located, filename, directory, source_lines)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise CatalogError(sorted(unique, key=lambda p: p.line))
    return catalog


def check_catalog(
    data: dict, located: Located, filename: str, directory: Directory, source_lines: int | None
) -> list[Problem]:
    """Checks across fields, on the raw document so they run even where types are wrong:
    unique ids, known departments and parties, `after` references, line ranges."""
    out: list[Problem] = []

    def at(path: tuple, reason: str) -> None:
        out.append(Problem(filename, located.line_of(path), format_path(path), reason))

    def review_choice(path: tuple, value: Any) -> None:
        if value is not None and value not in COMPLETION_REVIEW:
            at(path, f"completion_review 应为 required（须经协调员审核）或 none（登记即办结），发现 {value!r}")

    def feedback_choice(path: tuple, value: Any) -> None:
        reason = check_feedback_value(value)
        if reason:
            at(path, reason)
    def co_choice(path: tuple, value: Any) -> None:
        if value is not None and value not in CO_DEPARTMENTS:
            at(path, f"co_departments 应为 separate（各部门分别办理）或 confirm（牵头部门办理、协办部门确认），发现 {value!r}")

    plan = data.get("plan")
    if isinstance(plan, dict):
        review_choice(("plan", "completion_review"), plan.get("completion_review"))
        feedback_choice(("plan", "feedback"), plan.get("feedback"))
        co_choice(("plan", "co_departments"), plan.get("co_departments"))
    clauses = data.get("clauses") if isinstance(data.get("clauses"), list) else []
    clause_ids: dict[str, int] = {}
    obligation_ids: dict[str, tuple] = {}
    afters: list[tuple[tuple, str, str]] = []
    for ci, clause in enumerate(clauses):
        if not isinstance(clause, dict):
            continue
        cpath = ("clauses", ci)
        cid = clause.get("id")
        if cid is not None:
            cid = str(cid)
            if cid in clause_ids:
                at(cpath + ("id",), f"条款编号 {cid!r} 重复 (第 {clause_ids[cid]} 行已有)")
            else:
                clause_ids[cid] = located.line_of(cpath + ("id",))
        lines = clause.get("lines")
        if (source_lines is not None and isinstance(lines, list) and len(lines) == 2
                and all(isinstance(n, int) for n in lines) and lines[1] > source_lines):
            at(cpath + ("lines",), f"行号 {lines} 超出原文 source.txt 的 {source_lines} 行")
        departments = clause.get("departments") if isinstance(clause.get("departments"), list) else []
        leads = [d for d in departments if isinstance(d, dict) and d.get("role") == "lead"]
        if len(leads) > 1:
            at(cpath + ("departments",), f"牵头部门只能有一个，发现 {len(leads)} 个")
        for di, dep in enumerate(departments):
            if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
                continue
            dpath = cpath + ("departments", di)
            if dep.get("unit") is not None:
                _check_unit_ref(dep, dpath, directory, at)
                continue
            found = directory.resolve(dep["name"])
            if found is None:
                at(dpath + ("name",), f"部门名称 {dep['name']!r} 不在部门目录中")
            elif dep.get("key") is not None and dep["key"] != found.key:
                at(dpath + ("key",), f"部门 {dep['name']!r} 在目录中对应 {found.key}，而不是 {dep['key']}")
        obligations = clause.get("obligations") if isinstance(clause.get("obligations"), list) else []
        for oi, ob in enumerate(obligations):
            if not isinstance(ob, dict):
                continue
            opath = cpath + ("obligations", oi)
            review_choice(opath + ("completion_review",), ob.get("completion_review"))
            feedback_choice(opath + ("feedback",), ob.get("feedback"))
            co_choice(opath + ("co_departments",), ob.get("co_departments"))
            oid = str(ob["id"]) if ob.get("id") is not None else None
            if oid is not None:
                if oid in obligation_ids:
                    at(opath + ("id",), f"义务编号 {oid!r} 重复")
                else:
                    obligation_ids[oid] = opath
            who = ob.get("who") if isinstance(ob.get("who"), list) else []
            for wi, key in enumerate(who):
                if isinstance(key, str) and not directory.knows(key):
                    at(opath + ("who", wi), f"{key!r} 不是部门目录中的部门键或角色键")
            units = ob.get("units") if isinstance(ob.get("units"), list) else []
            if "units" in ob and not (units and all(isinstance(c, (str, int)) for c in units)):
                at(opath + ("units",), "units 应为区划代码的列表，如 ['320682001']")
            for ui, code in enumerate(units):
                unit = directory.unit_by_code.get(str(code))
                if unit is None:
                    at(opath + ("units", ui), f"区划代码 {code!r} 不在部门目录的行政区划中")
                elif unit.level != ob.get("scope"):
                    at(opath + ("units", ui), f"单位 {unit.name}（{code}）是{level_name(unit.level)}，"
                                              f"与义务的 scope {ob.get('scope')!r} 不在同一层级")
            cadence = ob.get("cadence")
            after = cadence.get("after") if isinstance(cadence, dict) else None
            if isinstance(after, dict) and after.get("obligation") is not None:
                afters.append((opath + ("cadence", "after", "obligation"), str(after["obligation"]), oid))
    for path, target, oid in afters:
        if target not in obligation_ids:
            at(path, f"after 指向的义务 {target!r} 不存在")
        elif target == oid:
            at(path, "after 不能指向自身")
    return out


def _check_unit_ref(dep: dict, dpath: tuple, directory: Directory, at) -> None:
    """A department entry naming one unit: a known code, and a party key (given, or the unit's
    office at its level) the directory has."""
    unit = directory.unit_by_code.get(str(dep["unit"]))
    if unit is None:
        at(dpath + ("unit",), f"区划代码 {dep['unit']!r} 不在部门目录的行政区划中")
        return
    key = dep.get("key") or UNIT_OFFICE.get(unit.level)
    if key is None:
        at(dpath + ("key",), f"单位 {unit.name} 是{level_name(unit.level)}，须用 key 指明由哪个部门或角色承担")
    elif not directory.knows(key):
        at(dpath + ("key",), f"{key!r} 不是部门目录中的部门键或角色键（duban init 生成的目录含 township_office）")


def _unit_obligations(clause: dict, policy: PolicyDefault, directory: Directory) -> list[dict]:
    """Progress reports for the named units no obligation of the clause covers: one per party
    and level, owed only by those units."""
    covered = {(who, code) for ob in clause["obligations"] for who in ob["who"] for code in (ob.get("units") or [])}
    groups: dict[tuple[str, str], list[str]] = {}
    for dep in clause["departments"]:
        unit = directory.unit_by_code.get(str(dep.get("unit"))) if dep.get("unit") else None
        if unit is not None and dep.get("key") and (dep["key"], unit.code) not in covered:
            groups.setdefault((dep["key"], unit.level), []).append(unit.code)
    return [{"id": f"{clause['id']}.u{k}" if k else f"{clause['id']}.u",
             "what": f"{policy.what}：{clause.get('title') or clause.get('item') or clause['id']}",
             "who": [key], "scope": level, "units": codes, "cadence": {"origin": "policy"}, "generated": True}
            for k, ((key, level), codes) in enumerate(groups.items())]


def effective_catalog(catalog: Catalog, policy: PolicyDefault, directory: Directory) -> Catalog:
    """The catalog as duban schedules it: department keys resolved, and every clause with at
    least one obligation (the policy progress-report cadence where the text states none)."""
    data = catalog.model_dump(mode="json", exclude_none=False)
    for clause in data["clauses"]:
        for dep in clause["departments"]:
            if dep.get("key") is None and dep.get("unit"):
                unit = directory.unit_by_code.get(str(dep["unit"]))
                dep["key"] = UNIT_OFFICE.get(unit.level) if unit else None
            elif dep.get("key") is None:
                found = directory.resolve(dep["name"])
                dep["key"] = found.key if found else None
        # every listed department owes something: those no obligation names get the policy
        # progress report (a clause that states no cadence gets it for all its departments)
        named = {who for ob in clause["obligations"] for who in ob["who"]}
        keys = [k for k in dict.fromkeys(d["key"] for d in clause["departments"] if d.get("key") and not d.get("unit"))
                if k not in named]
        if keys:
            clause["obligations"].append({
                "id": f"{clause['id']}.p",
                "what": f"{policy.what}：{clause.get('title') or clause.get('item') or clause['id']}",
                "who": keys,
                "scope": policy.scope,
                "cadence": {"origin": "policy"},
                "generated": True,
            })
        clause["obligations"] += _unit_obligations(clause, policy, directory)
        for ob in clause["obligations"]:
            cad = ob["cadence"]
            if cad["origin"] == "policy" and cad.get("kind") is None:
                cad.update(kind=policy.kind, rrule=policy.rrule, count=policy.count,
                           months=list(policy.months) if policy.months else None)
    return Catalog.model_validate(data)


def completion_review(plan_doc: dict | None, obligation_doc: dict | None) -> bool:
    """Whether a completion of the obligation waits for a coordinator's acceptance: the
    obligation's ``completion_review``, else the plan's, else required."""
    for doc in (obligation_doc or {}, plan_doc or {}):
        if doc.get("completion_review") in COMPLETION_REVIEW:
            return doc["completion_review"] == "required"
    return DEFAULT_COMPLETION_REVIEW == "required"


def co_departments(plan_doc: dict | None, obligation_doc: dict | None) -> str:
    """How the obligation's parties owe it: the obligation's ``co_departments``, else the
    plan's, else ``separate`` (one item per party)."""
    for doc in (obligation_doc or {}, plan_doc or {}):
        if doc.get("co_departments") in CO_DEPARTMENTS:
            return doc["co_departments"]
    return DEFAULT_CO_DEPARTMENTS


def content_hash(value: Any) -> str:
    blob = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def describe_cadence(cadence: dict[str, Any]) -> str:
    """A cadence in words, for people: 每半年（4、10月）, 每季度 6 次, 一次性（2024-11-30 前）."""
    kind = cadence.get("kind")
    if kind == "once":
        text = f"一次性（{cadence.get('deadline')} 前）"
    elif kind == "event":
        after = cadence.get("after") or {}
        unit = "个工作日" if after.get("workdays") else "日"
        text = f"{after.get('obligation')} 完成后 {after.get('days')} {unit}内"
    elif kind == "rrule":
        text = _describe_rrule(cadence.get("rrule") or "")
    else:
        text = CADENCE_KIND_NAMES.get(kind, str(kind))
    months = cadence.get("months")
    if months and kind != "rrule":
        text += "（" + "、".join(str(m) for m in months) + "月）"
    count = cadence.get("count") or 1
    if count > 1:
        text += f" {count} 次"
    if cadence.get("start"):
        text += f"，{str(cadence['start'])[:4]}年起"
    return text


def _describe_rrule(rule: str) -> str:
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    freq, interval = parts.get("FREQ"), int(parts.get("INTERVAL", "1"))
    unit = {"DAILY": "日", "WEEKLY": "周", "MONTHLY": "个月", "YEARLY": "年"}.get(freq or "")
    if unit and not (set(parts) - {"FREQ", "INTERVAL"}):
        return f"每{interval}{unit}" if interval > 1 else f"每{unit.removeprefix('个')}"
    return f"RRULE {rule}"
