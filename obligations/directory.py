"""The directory: department keys and the names each level and locality uses, roles, and the
jurisdiction tree whose units hold their departments' contacts and a supervisor.

Pure: ``parse_directory(text, filename)`` validates a YAML document; ``Directory`` answers
name resolution (``市卫健委`` → ``health``) and flattens the tree for storage.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from obligations.channels import parse_channels
from obligations.errors import ProblemsError
from obligations.mailbox import check_email, check_name
from obligations.problems import from_validation_error
from obligations.yamlsource import Problem, YamlSyntaxError, format_path, parse

Level = Literal["province", "city", "county", "township", "village"]
LEVELS: tuple[str, ...] = ("province", "city", "county", "township", "village")
KEY_PATTERN = r"^[a-z][a-z0-9_]*$"


class DirectoryError(ProblemsError, ValueError):
    """A directory that failed validation; ``problems`` lists every located error."""

    head = "部门目录校验失败，未加载任何内容"


class DepartmentDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    levels: list[Level] = Field(min_length=1)
    names: dict[Level, str] = {}
    aliases: list[str] = []
    review: str | None = None     # a proposed department (duban plans extract): what a person should check


class RoleDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1)
    level: Level
    aliases: list[str] = []


# names and addresses that end up in mail headers: checked here, where they are entered
MailName = Annotated[str, AfterValidator(lambda v: check_name(v, "名称"))]
MailAddress = Annotated[str, AfterValidator(check_email)]


def _channels(value: list[str] | None) -> list[str] | None:
    """[钉钉, 邮件] → [dingtalk, email] (a dumped directory reads back the same)."""
    stored = parse_channels("、".join(value)) if value else None
    return stored.split(",") if stored else None


class ContactDef(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    name: MailName | None = None
    email: MailAddress | None = None
    webhook: str | None = None
    channel: str | None = None
    mobile: str | None = Field(default=None, pattern=r"^1[3-9]\d{9}$")
    im_account: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@-]{1,64}$")   # DingTalk / WeCom userid
    channels: Annotated[list[str] | None, AfterValidator(_channels)] = None   # in order: [钉钉, 邮件]


class SupervisorDef(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    name: Annotated[MailName, Field(min_length=1)]
    email: MailAddress | None = None
    webhook: str | None = None
    mobile: str | None = Field(default=None, pattern=r"^1[3-9]\d{9}$")
    im_account: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    channels: Annotated[list[str] | None, AfterValidator(_channels)] = None


class UnitDef(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    name: str = Field(min_length=1)
    code: str = Field(pattern=r"^[0-9A-Za-z-]+$")
    level: Level
    email_domain: str | None = None
    supervisor: SupervisorDef | None = None
    names: dict[str, str] = {}
    contacts: dict[str, ContactDef] = {}
    children: list[UnitDef] = []


class DirectoryDoc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    departments: list[DepartmentDef] = Field(min_length=1)
    roles: list[RoleDef] = []
    jurisdictions: list[UnitDef] = []


@dataclass(frozen=True)
class Resolved:
    key: str
    kind: str  # department | role
    level: str | None  # level read off the name's prefix (省 → province), if any


@dataclass(frozen=True)
class ContactRow:
    department_key: str
    name: str
    email: str | None
    webhook: str | None
    mobile: str | None = None
    im_account: str | None = None
    channels: str | None = None        # stored form: dingtalk,email


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    level: str
    parent_code: str | None
    path: str  # codes from the root, '/'-joined, ending with '/': subtree = LIKE path || '%'
    supervisor_name: str | None
    supervisor_email: str | None
    supervisor_webhook: str | None
    contacts: tuple[ContactRow, ...]
    supervisor_mobile: str | None = None
    supervisor_im_account: str | None = None
    supervisor_channels: str | None = None


# Prefixes that say which level a department belongs to, longest first.
_LEVEL_PREFIXES: tuple[tuple[str, str | None], ...] = (
    ("设区市", "city"), ("市、县区", "city"), ("市、县（区）", "city"), ("市县", "city"), ("县（市、区）", "county"),
    ("县(市、区)", "county"), ("县区", "county"), ("区县", "county"), ("县(区)", "county"),
    ("区(县)", "county"), ("县(市)", "county"), ("市(州)", "city"), ("市州", "city"), ("省级", "province"), ("市级", "city"), ("县级", "county"), ("各级", None), ("各地", None), ("各县", "county"),
    ("省", "province"), ("市", "city"), ("县", "county"), ("区", "county"),
    ("乡镇", "township"), ("街道", "township"), ("村", "village"), ("社区", "village"),
)
_LEAGUE = re.compile(r"^团(省|市|县|区)委$")


def normalize_name(name: str) -> str:
    """NFKC (full-width → half-width punctuation), no whitespace."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))


class Directory:
    def __init__(self, doc: DirectoryDoc):
        self.doc = doc
        self.departments = {d.key: d for d in doc.departments}
        self.roles = {r.key: r for r in doc.roles}
        self._aliases: dict[str, Resolved] = {}
        for d in doc.departments:
            for alias in [d.name, *d.names.values(), *d.aliases]:
                self._aliases.setdefault(normalize_name(alias), Resolved(d.key, "department", None))
        for r in doc.roles:
            for alias in [r.name, *r.aliases]:
                self._aliases.setdefault(normalize_name(alias), Resolved(r.key, "role", None))
        self._localities = sorted(
            {normalize_name(u.name) for u in _iter_units(doc.jurisdictions)}, key=len, reverse=True
        )
        self.unit_by_code = {u.code: u for u in _iter_units(doc.jurisdictions)}

    def units_named(self, name: str, level: str | None = None) -> list[UnitDef]:
        """The directory's units of this name (at ``level``): names repeat across a province."""
        text = normalize_name(name)
        return [u for u in self.unit_by_code.values()
                if normalize_name(u.name) == text and (level is None or u.level == level)]

    def knows(self, key: str) -> bool:
        return key in self.departments or key in self.roles

    def display_name(self, key: str) -> str:
        if key in self.departments:
            return self.departments[key].name
        if key in self.roles:
            return self.roles[key].name
        return key

    def resolve(self, name: str) -> Resolved | None:
        """Resolve a department name as a plan writes it (省民政厅, 市教体局, 团省委 …) to its key."""
        text = normalize_name(name)
        if text.startswith("中共") and len(text) > 2:
            text = text[2:]
        candidates: list[tuple[str, str | None]] = [(text, None)]
        for locality in self._localities:
            if text.startswith(locality) and len(text) > len(locality):
                candidates.append((text[len(locality):], _level_of_locality(locality)))
                break
        expanded: list[tuple[str, str | None]] = []
        for cand, level in candidates:
            expanded.append((cand, level))
            for prefix, plevel in _LEVEL_PREFIXES:
                if cand.startswith(prefix) and len(cand) > len(prefix):
                    expanded.append((cand[len(prefix):], level or plevel))
                    break
        for cand, level in expanded:
            found = self._aliases.get(cand)
            if found:
                league = _LEAGUE.match(text)
                if league and level is None:
                    level = {"省": "province", "市": "city"}.get(league.group(1), "county")
                return Resolved(found.key, found.kind, level)
        return None

    def units(self) -> list[UnitRow]:
        rows: list[UnitRow] = []

        def visit(unit: UnitDef, parent: UnitRow | None, domain: str | None) -> None:
            domain = unit.email_domain or (f"{unit.code}.{domain}" if domain else None)
            path = (parent.path if parent else "") + unit.code + "/"
            contacts: list[ContactRow] = []
            holders = [(d.key, d.names.get(unit.level, d.name)) for d in self.doc.departments if unit.level in d.levels]
            holders += [(r.key, r.name) for r in self.doc.roles if r.level == unit.level]
            for key, suffix in holders:
                explicit = unit.contacts.get(key) or ContactDef()
                local = unit.names.get(key)
                name = explicit.name or (unit.name + (local or suffix))
                email = explicit.email or (f"{key}@{domain}" if domain else None)
                contacts.append(ContactRow(key, name, email, explicit.webhook, explicit.mobile, explicit.im_account,
                                           ",".join(explicit.channels) if explicit.channels else None))
            sup = unit.supervisor
            row = UnitRow(
                unit.code, unit.name, unit.level, parent.code if parent else None, path,
                sup.name if sup else None, sup.email if sup else None, sup.webhook if sup else None,
                tuple(contacts), sup.mobile if sup else None, sup.im_account if sup else None,
                ",".join(sup.channels) if sup and sup.channels else None,
            )
            rows.append(row)
            for child in unit.children:
                visit(child, row, domain)

        for top in self.doc.jurisdictions:
            visit(top, None, None)
        return rows


def _level_of_locality(locality: str) -> str | None:
    if locality.endswith("省"):
        return "province"
    if locality.endswith("市") or locality.endswith("实验区"):
        return "city"
    if locality.endswith(("县", "区")):
        return "county"
    return None


def _iter_units(units: list[UnitDef]):
    for u in units:
        yield u
        yield from _iter_units(u.children)


@dataclass(frozen=True)
class NewUnit:
    """A unit to add to the directory (from China's division list): parents come first."""

    code: str
    name: str
    level: str
    parent_code: str | None


def add_units(doc: DirectoryDoc, units: list[NewUnit]) -> tuple[DirectoryDoc, int, list[tuple[str, str, str]]]:
    """The directory with ``units`` added where they are missing (matched by code), each under
    its parent (or at the top when the parent is not in the directory). Units already there
    keep everything they have (names, contacts, supervisor, children). Returns the new document,
    how many units were added (adding the same units again adds none) and the codes the
    directory already gives another name: (code, the directory's name, the new name)."""
    doc = doc.model_copy(deep=True)
    known = {u.code: u for u in _iter_units(doc.jurisdictions)}
    added, conflicts = 0, []
    for unit in units:
        if unit.code in known:
            if known[unit.code].name != unit.name:
                conflicts.append((unit.code, known[unit.code].name, unit.name))
            continue
        node = UnitDef(name=unit.name, code=unit.code, level=unit.level)
        parent = known.get(unit.parent_code) if unit.parent_code else None
        (parent.children if parent is not None else doc.jurisdictions).append(node)
        known[unit.code] = node
        added += 1
    return doc, added, conflicts


def dump_directory(doc: DirectoryDoc, header: str = "") -> str:
    """The directory as YAML text (what ``parse_directory`` reads back to the same document)."""
    import yaml

    body = yaml.safe_dump(doc.model_dump(mode="json", exclude_defaults=True), allow_unicode=True, sort_keys=False,
                          width=120)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + body


def parse_directory(text: str, filename: str) -> Directory:
    """Validate a directory document; raise DirectoryError listing every located problem."""
    try:
        located = parse(text, filename)
    except YamlSyntaxError as exc:
        raise DirectoryError([exc.problem]) from None
    problems = [Problem(filename, line, format_path(path), "重复的键") for path, line in located.duplicates]
    try:
        doc = DirectoryDoc.model_validate(located.data if located.data is not None else {})
    except ValidationError as err:
        raise DirectoryError(problems + from_validation_error(err, located, filename)) from None
    problems += _check(doc, located, filename)
    if problems:
        raise DirectoryError(problems)
    return Directory(doc)


def _check(doc: DirectoryDoc, located, filename: str) -> list[Problem]:
    out: list[Problem] = []

    def at(path: tuple, field: str, reason: str) -> None:
        out.append(Problem(filename, located.line_of(path), field, reason))

    keys: dict[str, tuple] = {}
    for i, d in enumerate(doc.departments):
        if d.key in keys:
            at(("departments", i, "key"), f"departments[{i}].key", f"部门键 {d.key} 重复")
        keys[d.key] = ("departments", i)
    for i, r in enumerate(doc.roles):
        if r.key in keys:
            at(("roles", i, "key"), f"roles[{i}].key", f"键 {r.key} 与已有部门或角色重复")
        keys[r.key] = ("roles", i)
    owner: dict[str, str] = {}
    for section, items in (("departments", doc.departments), ("roles", doc.roles)):
        for i, item in enumerate(items):
            names = [item.name, *getattr(item, "names", {}).values(), *item.aliases]
            for alias in {normalize_name(n) for n in names}:
                other = owner.get(alias)
                if other and other != item.key:
                    at((section, i, "aliases"), f"{section}[{i}].aliases", f"名称 {alias} 同时指向 {other} 和 {item.key}")
                owner.setdefault(alias, item.key)
    codes: set[str] = set()

    def visit(unit: UnitDef, path: tuple, parent_level: str | None) -> None:
        field = format_path(path)
        if unit.code in codes:
            at(path + ("code",), field + ".code", f"区划代码 {unit.code} 重复")
        codes.add(unit.code)
        if parent_level and LEVELS.index(unit.level) <= LEVELS.index(parent_level):
            at(path + ("level",), field + ".level", f"下级单位的层级 {unit.level} 必须低于上级的 {parent_level}")
        for key in list(unit.contacts) + list(unit.names):
            if key not in keys:
                at(path + ("contacts",), field + ".contacts", f"未知的部门键 {key}")
        for i, child in enumerate(unit.children):
            visit(child, path + ("children", i), unit.level)

    for i, unit in enumerate(doc.jurisdictions):
        visit(unit, ("jurisdictions", i), None)
    return out
