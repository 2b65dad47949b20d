"""The contacts workbook (通讯录): one row per unit × department or role, plus a row per unit for
its supervisor (督查联系人), exported from the database and imported back.

    单位代码 | 单位 | 部门 | 联系人 | 职务 | 手机 | 邮箱 | 钉钉/企业微信账号 | 督查联系人
    | 通知渠道 | 通知时间 | 免打扰时段

The last three are the person's notice preferences (``钉钉、邮件``; ``08:30``; ``22:00-07:00``),
optional: a workbook without them imports as before and leaves the preferences alone.

Import is all rows or none: every problem is listed as ``sheet!row: column: reason`` before
anything is written. Names and addresses are checked where they enter: a name can never carry
an address, a comma or a line break into a mail header, an address must be one mailbox. Rows
the workbook writes are kept by later directory syncs (``source = 'sheet'``)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import func, literal, or_, select, union_all, update
from sqlmodel import Session

from obligations.channels import channels_text, parse_channels, parse_quiet, parse_time
from obligations.directory import normalize_name
from obligations.errors import Forbidden, NotFound, ProblemsError
from obligations.mailbox import check_email, check_name
from storage import audit
from storage.atomic import atomic_path
from storage.tables import Contact, Department, Jurisdiction

SHEET = "通讯录"
REQUIRED = ("单位代码", "单位", "部门", "联系人", "职务", "手机", "邮箱", "钉钉/企业微信账号", "督查联系人")
PREFERENCES = ("通知渠道", "通知时间", "免打扰时段")
HEADERS = REQUIRED + PREFERENCES
WIDTHS = (14, 22, 20, 10, 14, 14, 28, 20, 10, 18, 10, 14)
SUPERVISOR = "督查室"
YES, NO = "是", "否"
SUPERVISED_LEVELS = ("province", "city", "county")
MAX_ROWS = 500_000

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class ContactsError(ProblemsError, ValueError):
    head = "通讯录有误，未导入任何内容"


class ContactEditError(ProblemsError, ValueError):
    head = "联系人信息有误，未保存"


@dataclass
class ContactsReport:
    rows: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    supervisors: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class _Row:
    unit_id: int
    key: str | None               # None: the unit's supervisor
    office: str                   # 石家庄市教育局 / 石家庄市督查室
    person: str | None
    title: str | None
    mobile: str | None
    email: str | None
    im_account: str | None
    channels: str | None = None
    digest_time: str | None = None
    quiet_hours: str | None = None
    preferences: bool = False      # the workbook has the preference columns


# ---------------------------------------------------------------- checks (pure)

def check_mobile(value: str | None) -> str | None:
    text = re.sub(r"[\s-]", "", str(value or "")).removeprefix("+86")
    if not text:
        return None
    if not _MOBILE.match(text):
        raise ValueError(f"{value!r} 不是 11 位手机号码")
    return text


def check_account(value: str | None) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not _ACCOUNT.match(text):
        raise ValueError(f"{text!r} 不是钉钉或企业微信账号（字母、数字、_ . @ -，64 个字符以内）")
    return text


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# ---------------------------------------------------------------- export

def _units(session: Session, area_path: str | None = None) -> list[Jurisdiction]:
    q = select(Jurisdiction).order_by(Jurisdiction.path)
    if area_path is not None:
        q = q.where(Jurisdiction.path.like(area_path + "%"))
    return list(session.scalars(q))


def _holders(session: Session) -> list[tuple[str, str, set[str], dict[str, str]]]:
    """(key, name, levels, names by level) of every department and role."""
    out = []
    for d in session.scalars(select(Department).order_by(Department.kind, Department.key)):
        doc = d.doc or {}
        levels = set(doc.get("levels") or ([doc["level"]] if doc.get("level") else []))
        out.append((d.key, d.name, levels, doc.get("names") or {}))
    return out


def rows(session: Session, area_path: str | None = None) -> list[tuple]:
    """The workbook's rows: each unit in tree order (of ``area_path`` and below, when given),
    its supervisor row (units at county level and above, and any unit with a supervisor), then
    each department and role of its level."""
    q = select(Contact)
    if area_path is not None:
        q = q.where(Contact.jurisdiction_id.in_(select(Jurisdiction.id).where(Jurisdiction.path.like(area_path + "%"))))
    contacts = {(c.jurisdiction_id, c.department_key): c for c in session.scalars(q)}
    holders = _holders(session)
    out = []
    for u in _units(session, area_path):
        if u.level in SUPERVISED_LEVELS or u.supervisor_name or u.supervisor_email:
            office = (u.supervisor_name or "").removeprefix(u.name) or SUPERVISOR
            out.append((u.code, u.name, office, u.supervisor_person, u.supervisor_title, u.supervisor_mobile,
                        u.supervisor_email, u.supervisor_im_account, YES, channels_text(u.supervisor_channels) or None,
                        u.supervisor_digest_time, u.supervisor_quiet_hours))
        for key, name, levels, names in holders:
            c = contacts.get((u.id, key))
            if u.level not in levels and c is None:
                continue
            office = names.get(u.level) or name
            out.append((u.code, u.name, office, c.person if c else None, c.title if c else None,
                        c.mobile if c else None, c.email if c else None, c.im_account if c else None, NO,
                        (channels_text(c.channels) or None) if c else None, c.digest_time if c else None,
                        c.quiet_hours if c else None))
    return out


def export_workbook(session: Session, path: Path, area_path: str | None = None) -> int:
    """Write the workbook (of the units at ``area_path`` and below, when given); returns the
    number of rows (without the header)."""
    data = rows(session, area_path)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append(HEADERS)
    for r in data:
        ws.append(["" if v is None else v for v in r])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="F0F2F5")
    for i, width in enumerate(WIDTHS, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font, cell.fill, cell.alignment = bold, fill, Alignment(horizontal="center")
        ws.column_dimensions[cell.column_letter].width = width
    for row in ws.iter_rows(min_row=2, min_col=1, max_col=1):
        for cell in row:
            cell.number_format = "@"
    ws.freeze_panes = "D2"
    ws.auto_filter.ref = ws.dimensions
    flag = DataValidation(type="list", formula1=f'"{YES},{NO}"', allow_blank=True)
    ws.add_data_validation(flag)
    flag.add(f"I2:I{max(len(data) + 1, 2)}")
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return len(data)


# ---------------------------------------------------------------- import

def read_workbook(session: Session, path: Path, area_path: str | None = None) -> list[_Row]:
    """Check every row; ContactsError with every problem, or the rows to write. With
    ``area_path``, a row of a unit outside that area is a problem."""
    if not path.is_file():
        raise ContactsError([f"{path}: 文件不存在"])
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ContactsError([f"{path}: 不是可读取的 xlsx 文件（{type(exc).__name__}）"]) from None
    if SHEET not in wb.sheetnames:
        raise ContactsError([f"{path}: 没有名为“{SHEET}”的工作表（现有：{'、'.join(wb.sheetnames)}）"])
    ws = wb[SHEET]
    it = ws.iter_rows(values_only=True)
    header = [_cell(v) for v in next(it, ())]
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        raise ContactsError([f"{SHEET}!1: 表头: 缺少列 {'、'.join(missing)}（应为：{'、'.join(HEADERS)}）"])
    col = {h: header.index(h) for h in HEADERS if h in header}
    with_preferences = all(h in header for h in PREFERENCES)
    units_by_code = {u.code: u for u in _units(session)}
    units_by_name: dict[str, list[Jurisdiction]] = {}
    for u in units_by_code.values():
        units_by_name.setdefault(u.name, []).append(u)
    holders = _holders(session)
    aliases = _aliases(session, holders)
    problems: list[str] = []
    out: list[_Row] = []
    seen: dict[tuple[int, str | None], int] = {}
    for number, values in enumerate(it, start=2):
        if number > MAX_ROWS + 1:
            problems.append(f"{SHEET}!{number}: 行数超过 {MAX_ROWS:,} 行")
            break
        cells = {h: _cell(values[i]) if i < len(values) else "" for h, i in col.items()}
        cells = {h: cells.get(h, "") for h in HEADERS}
        if not any(cells.values()):
            continue

        def bad(column: str, reason: str, number: int = number) -> None:
            problems.append(f"{SHEET}!{number}: {column}: {reason}")

        unit = _unit(cells, units_by_code, units_by_name, bad)
        if unit is not None and area_path is not None and not unit.path.startswith(area_path):
            bad("单位代码" if cells["单位代码"] else "单位", f"{unit.name} 不在您的管辖范围内")
            unit = None
        flag = cells["督查联系人"] or NO
        if flag not in (YES, NO):
            bad("督查联系人", f"应为“{YES}”或“{NO}”，不是 {flag!r}")
        checked = {}
        for column, check in (("联系人", lambda v: check_name(v, "联系人")), ("职务", lambda v: check_name(v, "职务")),
                              ("手机", check_mobile), ("邮箱", check_email), ("钉钉/企业微信账号", check_account),
                              ("通知渠道", parse_channels), ("通知时间", parse_time), ("免打扰时段", parse_quiet)):
            try:
                checked[column] = check(cells[column])
            except ValueError as exc:
                bad(column, str(exc))
        if unit is None:
            continue
        if flag == YES:
            given = cells["部门"] or SUPERVISOR
            key, office = None, given if given.startswith(unit.name) else unit.name + given
        else:
            key = _department(cells["部门"], unit, aliases, holders, bad)
            if key is None:
                continue
            office = unit.name + next((names.get(unit.level) or name for k, name, _, names in holders if k == key), key)
        try:
            check_name(office, "部门")
        except ValueError as exc:
            bad("部门", str(exc))
            continue
        if (unit.id, key) in seen:
            bad("部门", f"与第 {seen[unit.id, key]} 行重复（{unit.name} {cells['部门'] or SUPERVISOR}）")
            continue
        seen[unit.id, key] = number
        out.append(_Row(unit.id, key, office, checked.get("联系人"), checked.get("职务"), checked.get("手机"),
                        checked.get("邮箱"), checked.get("钉钉/企业微信账号"), checked.get("通知渠道"),
                        checked.get("通知时间"), checked.get("免打扰时段"), with_preferences))
    wb.close()
    if problems:
        raise ContactsError(problems)
    return out


def _unit(cells: dict, by_code: dict, by_name: dict, bad) -> Jurisdiction | None:
    code, name = cells["单位代码"], cells["单位"]
    if code:
        unit = by_code.get(code)
        if unit is None:
            bad("单位代码", f"部门目录中没有区划代码 {code}（可先 duban jurisdictions import {code}）")
        elif name and name != unit.name:
            bad("单位", f"区划代码 {code} 是 {unit.name}，不是 {name}")
            return None
        return unit
    if not name:
        bad("单位", "请填写单位代码或单位名称")
        return None
    found = by_name.get(name, [])
    if len(found) == 1:
        return found[0]
    if not found:
        bad("单位", f"部门目录中没有名为 {name} 的单位")
    else:
        bad("单位", f"有 {len(found)} 个单位名为 {name}，请填写单位代码（{'、'.join(u.code for u in found)}）")
    return None


def _aliases(session: Session, holders) -> dict[str, str]:
    out: dict[str, str] = {}
    for d in session.scalars(select(Department)):
        doc = d.doc or {}
        for alias in [d.key, d.name, *(doc.get("names") or {}).values(), *(doc.get("aliases") or [])]:
            out.setdefault(normalize_name(alias), d.key)
    return out


def _department(text: str, unit: Jurisdiction, aliases: dict, holders, bad) -> str | None:
    if not text:
        bad("部门", "请填写部门（如 教育局），督查联系人一行请在“督查联系人”填“是”")
        return None
    name = normalize_name(text)
    key = aliases.get(name) or (aliases.get(name[len(unit.name):]) if name.startswith(unit.name) else None)
    if key is None:
        bad("部门", f"部门目录中没有名为 {text} 的部门或角色（可用 duban departments list 查看）")
        return None
    levels = next((lv for k, _, lv, _ in holders if k == key), set())
    if unit.level not in levels:
        bad("部门", f"{text} 不设在{unit.name}这一级")
        return None
    return key


def import_workbook(session: Session, path: Path, *, actor: str = "cli", by=None,
                    name: str | None = None) -> ContactsReport:
    """Check the whole workbook, then write it in the caller's transaction: each department row
    with anything filled in becomes the unit's contact for that department (kept by later
    directory syncs), an empty one removes a contact the workbook had set; each 督查联系人 row
    sets the unit's supervisor. ``by``: None from the command line, or the coordinator (a
    Principal) uploading it on a page: only rows of their area. ``name``: the file's name as
    the person knows it (an upload's), for the audit row."""
    area = None
    if by is not None:
        _may_edit(by)
        actor, area = by.username, by.jurisdiction_path
    data = read_workbook(session, path, area)
    report = ContactsReport(rows=len(data))
    have = {(c.jurisdiction_id, c.department_key): c for c in session.scalars(select(Contact))}
    units = {u.id: u for u in session.scalars(select(Jurisdiction))}
    for r in data:
        filled = any((r.person, r.title, r.mobile, r.email, r.im_account))
        if r.key is None:
            u = units[r.unit_id]
            prefs = ({"supervisor_channels": r.channels, "supervisor_digest_time": r.digest_time,
                      "supervisor_quiet_hours": r.quiet_hours} if r.preferences else {})
            before = (u.supervisor_name, u.supervisor_person, u.supervisor_title, u.supervisor_mobile,
                      u.supervisor_email, u.supervisor_im_account, {k: getattr(u, k) for k in prefs})
            after = (r.office if (filled or u.supervisor_name) else None, r.person, r.title, r.mobile, r.email,
                     r.im_account, prefs)
            if before == after:
                report.unchanged += 1
                continue
            session.execute(update(Jurisdiction).where(Jurisdiction.id == u.id).values(
                supervisor_name=after[0], supervisor_person=r.person, supervisor_title=r.title,
                supervisor_mobile=r.mobile, supervisor_email=r.email, supervisor_im_account=r.im_account,
                supervisor_source="sheet", **after[6]))
            report.supervisors += 1
            continue
        row = have.get((r.unit_id, r.key))
        values = dict(name=r.office, person=r.person, title=r.title, mobile=r.mobile, email=r.email,
                      im_account=r.im_account)
        if r.preferences:
            values |= dict(channels=r.channels, digest_time=r.digest_time, quiet_hours=r.quiet_hours)
        if not filled:
            if row is not None and row.source == "sheet":
                session.delete(row)
                report.removed += 1
            else:
                report.unchanged += 1
            continue
        if row is None:
            session.add(Contact(jurisdiction_id=r.unit_id, department_key=r.key, source="sheet", **values))
            report.added += 1
        elif any(getattr(row, k) != v for k, v in values.items()) or row.source != "sheet":
            for k, v in values.items():
                setattr(row, k, v)
            row.source = "sheet"
            report.changed += 1
        else:
            report.unchanged += 1
    session.flush()
    audit.record(session, actor=actor, action="contacts.import", object_type="contacts", object_id=name or path.name,
                 jurisdiction_id=by.jurisdiction_id if by is not None else None, after={"rows": report.rows, "added": report.added, "changed": report.changed,
                        "removed": report.removed, "supervisors": report.supervisors})
    return report


# ---------------------------------------------------------------- one contact, on a page

EDITABLE = ("person", "title", "mobile", "email", "im_account")
FIELD_NAMES = {"person": "联系人", "title": "职务", "mobile": "手机", "email": "邮箱", "im_account": "钉钉/企业微信账号"}
_SUPERVISOR_COLUMNS = {"person": "supervisor_person", "title": "supervisor_title", "mobile": "supervisor_mobile",
                       "email": "supervisor_email", "im_account": "supervisor_im_account"}


def _may_edit(by) -> None:
    if by is not None and by.role != "coordinator":
        raise Forbidden("只有协调员可以管理通讯录")


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


CONTACT_SORTS = {"unit": "地区", "office": "部门", "person": "联系人"}


def list_contacts(session: Session, by, *, q: str = "", sort: str = "unit", desc: bool = False, offset: int = 0,
                  limit: int | None = 50) -> tuple[list[dict], int]:
    """The contacts of ``by``'s area: each unit's department and role contacts and its
    supervisor contact (督查联系人), those whose unit, office, person, phone or mailbox holds
    every word of ``q``, in the order of ``sort`` (a key of ``CONTACT_SORTS``): one page of them
    (``limit`` None: all) and how many match in all."""
    _may_edit(by)
    area = select(Jurisdiction.id).where(Jurisdiction.path.like(by.jurisdiction_path + "%"))
    dept = (select(literal("department").label("kind"), Contact.id.label("id"), Jurisdiction.id.label("unit_id"),
                   Jurisdiction.name.label("unit"), Jurisdiction.path.label("path"), Contact.name.label("office"),
                   Contact.person.label("person"), Contact.title.label("title"), Contact.mobile.label("mobile"),
                   Contact.email.label("email"), Contact.im_account.label("im_account"))
            .join(Jurisdiction, Jurisdiction.id == Contact.jurisdiction_id)
            .where(Contact.jurisdiction_id.in_(area)))
    sup = (select(literal("supervisor").label("kind"), Jurisdiction.id.label("id"), Jurisdiction.id.label("unit_id"),
                  Jurisdiction.name.label("unit"), Jurisdiction.path.label("path"),
                  Jurisdiction.supervisor_name.label("office"), Jurisdiction.supervisor_person.label("person"),
                  Jurisdiction.supervisor_title.label("title"), Jurisdiction.supervisor_mobile.label("mobile"),
                  Jurisdiction.supervisor_email.label("email"), Jurisdiction.supervisor_im_account.label("im_account"))
           .where(Jurisdiction.id.in_(area), (Jurisdiction.supervisor_name.is_not(None))
                  | Jurisdiction.supervisor_person.is_not(None) | Jurisdiction.supervisor_email.is_not(None)))
    both = union_all(dept, sup).subquery()
    where = []
    for word in (q or "").split()[:8]:
        like = _like(word[:64])
        where.append(or_(*(func.coalesce(c, "").like(like, escape="\\") for c in (
            both.c.unit, both.c.office, both.c.person, both.c.mobile, both.c.email))))
    total = session.scalar(select(func.count()).select_from(both).where(*where))
    chosen = {"unit": both.c.path, "office": both.c.office, "person": both.c.person}.get(sort, both.c.path)
    page = (select(both).where(*where)
            .order_by(chosen.desc() if desc else chosen.asc(), both.c.path, both.c.kind.desc(), both.c.office, both.c.id)
            .offset(max(offset, 0)))
    rows = session.execute(page.limit(limit) if limit is not None else page).mappings().all()
    return [dict(r) | {"supervisor": r["kind"] == "supervisor"} for r in rows], total


def contact_of(session: Session, by, kind: str, ident: int) -> dict:
    """One contact as ``by`` may see it (``kind`` department: a contact's number; supervisor: its
    unit's number); NotFound (404) when there is none or it is outside ``by``'s area."""
    _may_edit(by)
    if kind == "department":
        c = session.get(Contact, ident)
        unit = session.get(Jurisdiction, c.jurisdiction_id) if c is not None else None
        values = {f: getattr(c, f) for f in EDITABLE} if c is not None else {}
        office = c.name if c is not None else None
    elif kind == "supervisor":
        unit = session.get(Jurisdiction, ident)
        values = {f: getattr(unit, col) for f, col in _SUPERVISOR_COLUMNS.items()} if unit is not None else {}
        office = (unit.supervisor_name or unit.name + SUPERVISOR) if unit is not None else None
    else:
        unit = None
    if unit is None or (by is not None and not unit.path.startswith(by.jurisdiction_path)):
        raise NotFound(f"没有编号为 {ident} 的联系人")
    return {"kind": kind, "id": ident, "unit": unit.name, "unit_id": unit.id, "office": office,
            "supervisor": kind == "supervisor", **values}


def check_contact(values: dict) -> dict:
    """The fields of one contact checked as the workbook's rows are (a name never carries an
    address, a comma or a line break; one mailbox; an 11-digit mobile): the clean values, or
    ContactEditError with every problem as ``column: reason``."""
    checks = {"person": lambda v: check_name(v, "联系人"), "title": lambda v: check_name(v, "职务"),
              "mobile": check_mobile, "email": check_email, "im_account": check_account}
    out, problems = {}, []
    for field in EDITABLE:
        try:
            out[field] = checks[field](values.get(field))
        except ValueError as exc:
            problems.append(f"{FIELD_NAMES[field]}: {exc}")
    if problems:
        raise ContactEditError(problems)
    return out


def update_contact(session: Session, kind: str, ident: int, values: dict, *, by=None, actor: str = "cli") -> bool:
    """Change one contact (a department's, or a unit's supervisor contact) to ``values``
    (person, title, mobile, email, im_account), checked as the workbook's rows are; kept by later
    directory syncs like a workbook row; an audit row with before and after. False when
    nothing changed."""
    before = contact_of(session, by, kind, ident)
    after = check_contact(values)
    if by is not None:
        actor = by.username
    old = {f: before[f] for f in EDITABLE}
    if old == after:
        return False
    if kind == "department":
        session.execute(update(Contact).where(Contact.id == ident).values(source="sheet", **after))
    else:
        session.execute(update(Jurisdiction).where(Jurisdiction.id == ident).values(
            supervisor_source="sheet", supervisor_name=before["office"],
            **{_SUPERVISOR_COLUMNS[f]: v for f, v in after.items()}))
    changed = [f for f in EDITABLE if old[f] != after[f]]
    audit.record(session, actor=actor, action="contact.update", object_type=f"contact.{kind}", object_id=ident,
                 jurisdiction_id=before["unit_id"], before={"office": before["office"], **{f: old[f] for f in changed}},
                 after={f: after[f] for f in changed})
    return True


def add_contact(session: Session, *, unit: str, department: str = "", supervisor: bool = False, values: dict,
                by=None, actor: str = "cli") -> tuple[str, int]:
    """A new contact of a unit, as the workbook's row would make it: a department's (``department``
    by its name or key, set at the unit's level) or the unit's supervisor contact (督查联系人,
    ``supervisor``); ``unit`` by its name or its code, within ``by``'s area. Refused when the unit
    has that contact already (it is edited, not added twice). Returns (kind, id) of the contact
    page; an audit row with what was set. The caller owns the transaction."""
    _may_edit(by)
    if by is not None:
        actor = by.username
    problems: list[str] = []

    def bad(column: str, reason: str) -> None:
        problems.append(f"{'单位' if column == '单位代码' else column}: {reason}")

    text = (unit or "").strip()[:64]
    units = _units(session)
    by_code = {u.code: u for u in units}
    by_name: dict[str, list[Jurisdiction]] = {}
    for u in units:
        by_name.setdefault(u.name, []).append(u)
    found = _unit({"单位代码": text if text.isdigit() else "", "单位": "" if text.isdigit() else text},
                  by_code, by_name, bad) if text else bad("单位", "请填写单位（名称或区划代码）")
    if found is not None and by is not None and not found.path.startswith(by.jurisdiction_path):
        bad("单位", f"{found.name} 不在您的管辖范围（{by.jurisdiction_name}）内")
        found = None
    try:
        clean = check_contact(values)
    except ContactEditError as exc:
        problems += exc.problems
    key = None
    if found is not None and not supervisor:
        holders = _holders(session)
        key = _department((department or "").strip()[:64], found, _aliases(session, holders), holders, bad)
    if problems or found is None or (key is None and not supervisor):
        raise ContactEditError([p.replace("（可用 duban departments list 查看）", "") for p in problems])
    if not any(clean.values()):
        raise ContactEditError(["联系人: 请至少填写联系人、手机、邮箱或钉钉/企业微信账号中的一项"])
    if supervisor:
        if any(getattr(found, col) for col in _SUPERVISOR_COLUMNS.values()):
            raise ContactEditError([f"{found.name}已有督查联系人，请在通讯录中修改"])
        office = found.supervisor_name or found.name + SUPERVISOR
        session.execute(update(Jurisdiction).where(Jurisdiction.id == found.id).values(
            supervisor_source="sheet", supervisor_name=office,
            **{_SUPERVISOR_COLUMNS[f]: v for f, v in clean.items()}))
        kind, ident = "supervisor", found.id
    else:
        if session.scalar(select(Contact.id).where(Contact.jurisdiction_id == found.id,
                                                   Contact.department_key == key)) is not None:
            raise ContactEditError([f"{found.name}的这个部门已有联系人，请在通讯录中修改"])
        holder = next(h for h in _holders(session) if h[0] == key)
        office = found.name + (holder[3].get(found.level) or holder[1])
        contact = Contact(jurisdiction_id=found.id, department_key=key, name=office, source="sheet", **clean)
        session.add(contact)
        session.flush()
        kind, ident = "department", contact.id
    audit.record(session, actor=actor, action="contact.add", object_type=f"contact.{kind}", object_id=ident,
                 jurisdiction_id=found.id, before=None,
                 after={"office": office, **{f: v for f, v in clean.items() if v}})
    return kind, ident
