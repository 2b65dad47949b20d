"""A draft catalog from a plan's text: structure, departments, duties and the plan's particulars
put together in the catalog format (DESIGN.md), every clause and obligation with its source
lines, and a ``review`` note on each item a person should look at. The draft validates with
``parse_catalog``; names the directory does not know are left out of the lists and named in
the clause's review note, never guessed."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import yaml

from obligations.catalog import CatalogError
from obligations.directory import Directory
from obligations.extract.departments import Dept, departments
from obligations.extract.duties import ActorFinder, Duty, read_duties
from obligations.extract.plan_info import read_plan_info
from obligations.extract.structure import Clause, read_structure, source_lines
from obligations.yamlsource import Problem

_HALF_TO_FULL = str.maketrans({",": "，", ";": "；", "(": "（", ")": "）", ":": "：", "?": "？", "!": "！"})


@dataclass
class Draft:
    document: dict
    reviews: list[str] = field(default_factory=list)     # "第N行 …: reason", for the summary

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
    text = text.lstrip("\ufeff")
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
    clauses = []
    rows = _checklist_fields([c for c in structure.clauses if c.kind == "checklist"])
    for clause, depts, dept_flags in found:
        entry = _clause(clause, depts, dept_flags, lines, rows.get(clause.id, {}))
        listed = clause.kind in ("task", "checklist")
        keys = [d["key"] for d in entry["departments"]]
        source = rows.get(clause.id, {}).get("content") or clause.text
        duties = read_duties(source, keys, finder, level, listed=listed)
        entry["obligations"] = _obligations(clause, duties, lines, info.issued.year if info.issued else None)
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
    return Draft({"plan": plan, "clauses": clauses}, reviews)


def _clause(clause: Clause, depts: list[Dept], dept_flags: list[str], lines: list[str], row: dict) -> dict:
    raw = [ln.strip() for ln in lines[clause.first - 1:clause.last] if ln.strip()]
    joiner = "\t" if clause.kind == "checklist" and len(raw) > 1 else ""
    text = joiner.join(re.sub(r"^#{1,6}\s*", "", ln) for ln in raw)
    entry: dict = {"id": clause.id, "kind": clause.kind, "section": clause.section,
                   "title": row.get("item") or clause.title or None, "text": text,
                   "lines": [clause.first, clause.last]}
    if clause.kind == "checklist":
        entry.update(category=row.get("category"), target=row.get("target"), item=row.get("item"))
    listed = [d for d in depts if d.key]       # the first listed leads (departments() puts the lead first)
    entry["departments"] = [{"name": cjk(d.name), "key": d.key, "role": "lead" if k == 0 else "co"}
                            for k, d in enumerate(listed)]
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
            if duty.after is None:                    # 下发后10日内 with nothing before it to follow
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
        flow = set(data) <= {"name", "key", "role", "obligation", "days", "workdays"}
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
