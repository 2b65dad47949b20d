"""A draft catalog from a plan's text: structure, departments, duties and the plan's particulars
put together in the catalog format (DESIGN.md), every clause and obligation with its source
lines, and a ``review`` note on each item a person should look at.

No department is lost: a name the directory does not know (a committee office of the city, a
bureau a locality names its own way) is proposed as a new directory department —
``Draft.proposals``, each a ``DepartmentDef``-shaped dict (``key`` from the canonical name's
pinyin, unique; ``name`` without level prefix or locality; ``levels``; ``names`` per level;
``aliases``: the forms seen; ``review``: where it was seen) — and the clause lists it under the
proposed key with a review note. ``with_proposals(directory_doc, proposals)`` is the directory
with them added (pure); the draft validates with ``parse_catalog`` against that directory."""
from __future__ import annotations

import copy
import datetime as dt
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import yaml

from obligations.catalog import UNIT_OFFICE, CatalogError
from obligations.directory import _LEVEL_PREFIXES, DepartmentDef, Directory, DirectoryDoc, normalize_name
from obligations.extract.departments import Dept, departments
from obligations.extract.duties import ActorFinder, Duty, read_duties
from obligations.extract.plan_info import read_plan_info
from obligations.extract.structure import Clause, read_structure, source_lines, without_reading_aids
from obligations.yamlsource import Problem

_HALF_TO_FULL = str.maketrans({",": "，", ";": "；", "(": "（", ")": "）", ":": "：", "?": "？", "!": "！"})


@dataclass
class Draft:
    document: dict
    reviews: list[str] = field(default_factory=list)     # "第N行 …: reason", for the summary
    proposals: list[dict] = field(default_factory=list)  # new directory departments (DepartmentDef-shaped)

    @property
    def clauses(self) -> list[dict]:
        return self.document["clauses"]

    def stated(self) -> int:
        return sum(1 for c in self.clauses for o in c["obligations"] if o["cadence"]["origin"] == "stated")


def cjk(text: str) -> str:
    """Half-width punctuation (from NFKC matching) back to the full-width a Chinese reader expects."""
    return text.translate(_HALF_TO_FULL)


def extract_catalog(text: str, directory: Directory, plan_id: str = "draft", source_name: str = "source.txt") -> Draft:
    """Raise CatalogError when the text holds no numbered clause at all (nothing to draft)."""
    text = without_reading_aids(text.lstrip("\ufeff"))
    if "\x00" in text:   # no catalog field may hold it: refuse the text, not the draft
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise CatalogError([Problem(source_name, line, "(text)", "含有空字符（\\0），请先删除；文本可能不是纯文本文件")])
    lines = source_lines(text)
    structure = read_structure(text)
    if not structure.clauses:
        raise CatalogError([Problem(source_name, 1, "(text)", "未找到任何编号的任务条款（如 一、/（一）/1.），"
                                                              "无法起草目录：请确认这是方案正文")])
    finder = ActorFinder(directory)
    found = [(c, *departments(c, directory)) for c in structure.clauses]
    leads = Counter(next((d.key for d in ds if d.key and d.role == "lead"), None) for _, ds, _ in found)
    leads.pop(None, None)
    info = read_plan_info(text, directory, leads.most_common(1)[0][0] if leads else None)
    level = info.level or "province"
    reviews: list[str] = [f"plan: {f}" for f in info.flags]
    proposals = _propose(found, directory, level, info.locality)
    reviews += [f"部门目录: 提议新增部门 {p['key']}（{p['name']}）：{p['review']}" for p in proposals]
    clauses = []
    rows = _checklist_fields([c for c in structure.clauses if c.kind == "checklist"])
    for clause, depts, dept_flags in found:
        entry = _clause(clause, depts, dept_flags, lines, rows.get(clause.id, {}))
        listed = clause.kind in ("task", "checklist")
        keys = [d["key"] for d in entry["departments"] if not d.get("unit")]
        source = rows.get(clause.id, {}).get("content") or clause.text
        duties = read_duties(source, keys, finder, level, listed=listed)
        entry["obligations"] = _obligations(clause, duties, lines, info.issued.year if info.issued else None)
        entry["obligations"] += _for_units(entry, directory)
        clauses.append(entry)
        if entry.get("review"):
            reviews.append(f"第{clause.first}行 {clause.id}: {entry['review']}")
        reviews += [f"第{o['lines'][0]}行 {o['id']}: {o['review']}" for o in entry["obligations"] if o.get("review")]
    plan = {"id": plan_id, "title": info.title or "待填写", "issuer": info.issuer, "locality": info.locality or "待填写",
            "level": level, "issued": info.issued, "implements": info.implements}
    if info.co_issuers:
        plan["co_issuers"] = info.co_issuers
    if info.status:
        plan["status"] = info.status
    if info.flags:
        plan["review"] = "；".join(info.flags)
    return Draft({"plan": plan, "clauses": clauses}, reviews, proposals)


def with_proposals(directory_doc: DirectoryDoc, proposals: list[dict]) -> DirectoryDoc:
    """The directory with the proposed departments added (those whose key it does not have yet)."""
    doc = directory_doc.model_copy(deep=True)
    have = {d.key for d in doc.departments} | {r.key for r in doc.roles}
    for p in proposals:
        if p["key"] not in have:
            doc.departments.append(DepartmentDef.model_validate(p))
            have.add(p["key"])
    return doc


_PARTY = re.compile(r"^(?:中国共产党|中共)")
_ORG_NAME = re.compile(r"(?:厅|局|委|会|院|联|办|部|中心|团|室|所|站|队|处|政府|机构|集团|公司|协会|馆|宫|台|报社)$")
_LEVEL_FROM_LOCALITY = (("省", "province"), ("自治区", "province"), ("市", "city"), ("州", "city"), ("盟", "city"),
                        ("县", "county"), ("区", "county"), ("旗", "county"))


_UNIT_END = re.compile(r"(?:街道|镇|乡|苏木|开发区|园区|新区|社区|村)(?:办事处|人民政府|管委会)?$")


def is_unit_name(name: str, directory: Directory) -> bool:
    """A unit, not a department: a name of the directory's jurisdictions (如城街道 in 如皋市's
    folder), or a name that ends as a township, subdistrict or zone does (某某街道, 某某镇)."""
    text = normalize_name(name)
    if re.match(r"^(?:各|乡镇|街道|镇街|行政村|村|社区)", text):      # 各乡镇, 乡镇(街道): every unit of a level
        return False
    return text in directory._localities or (2 < len(text) <= 12 and bool(_UNIT_END.search(text))
                                             and not directory.resolve(text))


def _unit_office(name: str, directory: Directory) -> tuple[str, str] | None:
    """(office key, code) for a name that is exactly one unit of the directory at a level with a
    unit office (乡镇（街道）: township_office) the directory has; None otherwise (unknown or ambiguous)."""
    if not is_unit_name(name, directory):
        return None
    found = [u for u in directory.units_named(name) if directory.knows(UNIT_OFFICE.get(u.level, ""))]
    return (UNIT_OFFICE[found[0].level], found[0].code) if len(found) == 1 else None


def looks_like_department(name: str) -> bool:
    """A name as a responsibility list writes one: short, ending in an organ's word (局 委 办 中心 …)."""
    text = normalize_name(name)
    return 2 <= len(text) <= 24 and bool(_ORG_NAME.search(text)) and not re.search(r"[的是将要应或等，。；]", text)


def canonical(name: str, directory: Directory, locality: str | None) -> tuple[str, str, str | None]:
    """'市妇儿工委办' → ('妇儿工委办', '妇儿工委办', 'city'): the canonical name, the name after a
    unit's name (what ``names`` holds: 市委宣传部 → 委宣传部 so that 某某市 + 委宣传部 reads right)
    and the level its prefix gives."""
    text = _PARTY.sub("", normalize_name(name))
    level = None
    places = [normalize_name(u) for u in directory._localities]
    if locality:
        loc = normalize_name(locality)
        places += [loc, re.sub(r"^.{2,3}?(?:省|自治区)", "", loc)]
    for place in sorted({p for p in places if p}, key=len, reverse=True):
        if text.startswith(place) and len(text) > len(place) + 1:
            text = text[len(place):]
            level = next((lv for suffix, lv in _LEVEL_FROM_LOCALITY if place.endswith(suffix)), None)
            break
    else:
        for prefix, plevel in _LEVEL_PREFIXES:
            prefix = normalize_name(prefix)
            if text.startswith(prefix) and len(text) > len(prefix) + 1:
                text, level = text[len(prefix):], plevel
                break
    suffix = text
    if text.startswith("委") and len(text) > 2:          # 市委宣传部: the party committee's department
        text = "党" + text
    return text, suffix, level


def plan_id_for(plan: dict, year: int) -> str:
    """A plan id from its locality and year, for a text whose file name gives none:
    洛阳市 2025 → luoyang-2025 (the issue year when the text has one, else the year at the head
    of its title, else ``year``)."""
    from pypinyin import lazy_pinyin

    place = re.sub(r"(省|市|县|区|自治区|自治州|州|盟|旗)$", "", str(plan.get("locality") or ""))
    slug = "".join(re.sub(r"[^a-z0-9]", "", p.lower()) for p in lazy_pinyin(place)) or "plan"
    issued = plan.get("issued")
    # an undated text whose title names its year (2025年度…任务分解, …2024年工作要点): that year
    named = re.match(r"^(\d{4})年", re.sub(r"^[^\d]{0,12}?(?=\d{4}年)", "", str(plan.get("title") or "")))
    return f"{slug}-{getattr(issued, 'year', None) or (int(named[1]) if named else year)}"


def proposal_key(name: str, taken: set[str]) -> str:
    """A readable key from the name's pinyin, two characters to a word (妇儿工委办 → fuer_gongweiban),
    unique against ``taken``."""
    from pypinyin import lazy_pinyin

    chars = [ch for ch in name if re.match(r"[\u4e00-\u9fffA-Za-z0-9]", ch)]
    groups = [chars[i:i + 2] for i in range(0, len(chars), 2)]
    if len(groups) > 1 and len(groups[-1]) == 1:
        last = groups.pop()
        groups[-1] = groups[-1] + last
    words = ["".join(re.sub(r"[^a-z0-9]", "", p.lower()) for p in lazy_pinyin("".join(g))) for g in groups]
    key = "_".join(w for w in words if w) or "department"
    if not key[0].isalpha():
        key = "d_" + key
    base, n = key, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def _propose(found: list, directory: Directory, level: str, locality: str | None) -> list[dict]:
    """Each department name the directory does not know: resolved again without the plan's own
    locality (保山市民政局), else proposed as a new department (one per canonical name); the
    clause's department then carries the key, and the clause a review note."""
    taken = set(directory.departments) | set(directory.roles)
    by_name: dict[str, dict] = {}
    seen_at: dict[str, list[str]] = {}
    for clause, depts, flags in found:
        flags[:] = [f for f in flags if "已作为新部门提出" not in f]     # said again below, with the key
        for d in list(depts):
            if d.key:
                continue
            name, suffix, plevel = canonical(d.name, directory, locality)
            again = directory.resolve(suffix) or directory.resolve(name)
            short = {"province": "省", "city": "市", "county": "县"}.get(plevel or "", "") + suffix
            if again:                  # 某某市民政局 in 某某市's own plan: named as the directory knows it
                d.key = again.key
                d.name = short if directory.resolve(short) else suffix
                continue
            office = _unit_office(d.name, directory)
            if office:        # one unit the directory knows: the party is that unit's own office
                d.key, d.unit = office
                flags.append(f"责任单位中的“{cjk(d.name)}”是一个单位（区划代码 {d.unit}），由该单位承担，"
                             f"其事项只派给这一个单位，请核对")
                continue
            if is_unit_name(d.name, directory):
                # one unit (如城街道, 某某镇) named among the departments: a catalog's departments are
                # kinds of department at each level, so no department can stand for it
                depts.remove(d)
                flags.append(f"责任单位中的“{cjk(d.name)}”是一个乡镇（街道）等单位，不是部门，未列入责任部门："
                             f"目录按层级设置部门，无法只派给这一个单位，请在其事项中指派或改写条款")
                continue
            if not looks_like_department(d.name):
                depts.remove(d)
                flags.append(f"括注中的“{cjk(d.name)}”不像部门名称，未列入责任部门，请核对")
                continue
            levels = list(d.levels) or [plevel or level]
            p = by_name.get(name)
            if p is None:
                p = by_name[name] = {"key": proposal_key(name, taken), "name": name, "levels": [], "names": {},
                                     "aliases": []}
                taken.add(p["key"])
            for lv in levels:
                if lv not in p["levels"]:
                    p["levels"].append(lv)
                p["names"].setdefault(lv, suffix)
            for alias in [d.name, *d.variants, name]:
                if alias not in p["aliases"] and normalize_name(alias) not in directory._aliases:
                    p["aliases"].append(alias)
            d.key = p["key"]
            seen_at.setdefault(name, []).append(f"条款 {clause.id}（第{clause.first}行，写作“{cjk(d.name)}”）")
            flags.append(f"部门“{cjk(d.name)}”不在部门目录中，提议新增部门 {p['key']}（{name}），请核对")
    out = []
    for name, p in by_name.items():
        order = [lv for lv in ("province", "city", "county", "township", "village") if lv in p["levels"]]
        p["levels"] = order
        p["review"] = "由 duban plans extract 提议，见于" + "、".join(dict.fromkeys(seen_at[name])) + \
                      "；请核对名称、层级和键后删去 review"
        out.append(p)
    return out


def _clause(clause: Clause, depts: list[Dept], dept_flags: list[str], lines: list[str], row: dict) -> dict:
    raw = [ln.strip() for ln in lines[clause.first - 1:clause.last] if ln.strip()]
    joiner = "\t" if clause.kind == "checklist" and len(raw) > 1 else ""
    text = joiner.join(re.sub(r"^#{1,6}\s*", "", ln) for ln in raw)
    entry: dict = {"id": clause.id, "kind": clause.kind, "section": clause.section,
                   "title": row.get("item") or clause.title or None, "text": text,
                   "lines": [clause.first, clause.last]}
    if clause.kind == "checklist":
        entry.update(category=row.get("category"), target=row.get("target"), item=row.get("item"))
    listed = list({(d.key, d.unit): d for d in reversed(depts) if d.key}.values())[::-1]
    listed = [d for d in depts if d.key and any(x is d for x in listed)]   # once each; the first listed leads
    entry["departments"] = [{"name": cjk(d.name), "key": d.key, **({"unit": d.unit} if d.unit else {}),
                             "role": "lead" if k == 0 else "co"} for k, d in enumerate(listed)]
    notes = list(clause.flags) + dept_flags
    if clause.kind == "requirement" and listed:
        notes = [n for n in notes if "推断" not in n] + ["责任部门由段落正文推断（未列括注），请核对"]
    if notes:
        entry["review"] = "；".join(dict.fromkeys(notes))
    return entry


def _obligations(clause: Clause, duties: list[Duty], lines: list[str], year: int | None) -> list[dict]:
    out: list[dict] = []
    ids: list[str] = []
    for k, duty in enumerate(duties, start=1):
        oid = f"{clause.id}.{k}"
        ids.append(oid)
        cadence = {key: value for key, value in duty.cadence.items() if key != "after"}
        flags = list(duty.flags)
        if "after" in duty.cadence:
            if duty.after is None or not duties[duty.after].who:
                # 下发后10日内 with nothing before it to follow (or only a duty nobody owes, not drafted)
                cadence = {"origin": "policy", "text": cadence["text"]}
                flags.append("事件触发的期限，但本条款中找不到它所跟随的事项，请指定 after")
            else:
                cadence["after"] = dict(duty.cadence["after"], obligation=ids[duty.after])
        cadence["text"] = cjk(cadence["text"])
        if cadence.get("kind") == "biennial" and "start" not in cadence and year:
            # every two years: from which year? the plan's, unless the text says
            cadence["start"] = dt.date(year, 1, 1)
            flags.append(f"原文未说明从哪一年起算，按发文年份 {year} 年起，请核对")
        first, last = _locate(duty.cadence["text"], clause, lines)
        ob = {"id": oid, "what": cjk(duty.what), "who": duty.who, "scope": duty.scope, "cadence": cadence,
              "lines": [first, last]}
        if flags:
            ob["review"] = "；".join(dict.fromkeys(flags))
        if duty.who:
            out.append(ob)
    return out


def _for_units(entry: dict, directory: Directory) -> list[dict]:
    """What the clause's stated obligations ask, owed also by the units it names (如城街道):
    the same cadence, owed by each unit's office at its level, only by those units. (A clause
    that states none gets the policy progress report for them from effective_catalog.)"""
    groups: dict[tuple[str, str], list[str]] = {}
    for d in entry["departments"]:
        if d.get("unit"):
            groups.setdefault((d["key"], directory.unit_by_code[d["unit"]].level), []).append(d["unit"])
    out = []
    for ob in entry["obligations"]:
        for k, ((key, level), codes) in enumerate(groups.items()):
            names = "、".join(directory.unit_by_code[c].name for c in codes)
            out.append({**copy.deepcopy(ob), "id": f"{ob['id']}.u{k}" if k else f"{ob['id']}.u", "who": [key],
                        "scope": level, "units": codes,
                        "review": f"条款所列单位（{names}）同样承担此项，只派给这些单位，请核对"})
    return out


def _locate(phrase: str, clause: Clause, lines: list[str]) -> tuple[int, int]:
    """The source lines a phrase (normalized, as the readers saw it) spans within its clause."""
    chars: list[str] = []
    owner: list[int] = []
    for n in range(clause.first, clause.last + 1):
        for ch in re.sub(r"\s+", "", unicodedata.normalize("NFKC", lines[n - 1])):
            chars.append(ch)
            owner.append(n)
    flat = "".join(chars)
    needle = re.sub(r"\s+", "", unicodedata.normalize("NFKC", phrase))
    at = flat.find(needle)
    if at < 0:
        at = flat.find(needle[:6])
        needle = needle[:6]
    if at < 0:
        return clause.first, clause.last
    return owner[at], owner[min(at + len(needle), len(owner)) - 1]


def _checklist_fields(rows: list[Clause]) -> dict[str, dict]:
    """Category, target group, item, content of each checklist row. Merged cells (a category or
    target spanning rows) appear once in the text; the rows after it inherit them."""
    out: dict[str, dict] = {}
    category = target = None
    for row in rows:
        if row.columns:                       # by the header's names, wherever the columns stand
            cols = row.columns

            def pick(pattern: str, cols: dict = cols) -> str | None:
                return next((v for k, v in cols.items() if re.search(pattern, k) and v), None)

            cells = row.cells
            at = next((k for k, c in enumerate(cells) if unicodedata.normalize("NFKC", c) == str(row.number)), None)
            if at:
                category = cells[at - 1]
            if pick(r"对象"):
                target = pick(r"对象")
            content = "".join(v for k, v in cols.items() if re.search(r"内容|标准|措施|要求|频次|频率|指标", k) and v) or None
            out[row.id] = {"category": category, "target": target, "item": pick(r"项目|事项|名称"), "content": content}
            continue
        cells = row.cells
        at = next((k for k, c in enumerate(cells) if unicodedata.normalize("NFKC", c) == str(row.number)), None)
        if at is None:
            out[row.id] = {}
            continue
        before, after = cells[:at], cells[at + 1:]
        if before:
            category = before[-1]
        dept = after[-1] if len(after) >= 2 else None
        middle = after[:-1] if dept else after
        if len(middle) >= 3:
            target, item, content = middle[0], middle[1], "".join(middle[2:])
        elif len(middle) == 2:
            item, content = middle
        else:
            item, content = (middle[0] if middle else None), None
        out[row.id] = {"category": category, "target": target, "item": item, "content": content}
    return out


class _Dumper(yaml.SafeDumper):
    """Catalog style: short lists ([15, 17], who) and department entries on one line."""

    def represent_list(self, data):
        flow = all(not isinstance(x, (dict, list)) for x in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    def represent_dict(self, data):
        flow = set(data) <= {"name", "key", "unit", "role", "obligation", "days", "workdays"}
        return self.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(list, _Dumper.represent_list)
_Dumper.add_representer(dict, _Dumper.represent_dict)


def to_yaml(draft: Draft, source_name: str) -> str:
    """The draft as catalog YAML, with a header saying how it was made and what to review."""
    body = yaml.dump(draft.document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100000)
    doc = draft.document
    reviewed = ("review" in doc["plan"]) + sum(("review" in c) + sum("review" in o for o in c["obligations"])
                                               for c in doc["clauses"])
    head = [
        f"# 草稿：由 duban plans extract 从 {source_name} 生成（行号指该文件）。",
        f"# {len(draft.clauses)} 个条款，{draft.stated()} 项原文规定周期的义务；"
        f"{reviewed} 个条目标有 review，需要人工核对。",
        "# 核对后删去 review 字段，运行 duban plans validate 校验，再放入 plans/<编号>/catalog.yaml。",
    ]
    return "\n".join(head) + "\n" + body
