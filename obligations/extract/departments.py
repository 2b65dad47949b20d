"""Who is responsible for a clause: the trailing parenthetical of a task (…按照职责分工负责,
…负责, …牵头), the 责任部门 cell of a checklist row, or the departments a 工作要求 paragraph
names; each name resolved to a directory key (variants, level prefixes, 中共…, unseen local
forms through the directory's resolver). Lead: the one the text says leads, else the first."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from obligations.directory import Directory
from obligations.extract.structure import Clause

_TRAILING = re.compile(r"[（(〈]([^（）()〈〉]{2,400})[)）〉]\s*[。.]?\s*$")
_DUTY = re.compile(r"(?:按照?职责分工|按职责|分别)?(?:牵头)?(?:负责|落实|配合|参与)$")
_SPLIT = re.compile(r"[、，,；;]|\s+")
_LEADS = re.compile(r"([\u4e00-\u9fff（）()]{2,24}?)牵头")


@dataclass
class Dept:
    name: str
    key: str | None        # None: not in the directory (flagged)
    role: str              # lead | co


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).strip()
    name = re.sub(r"^(各级|各地|各|有关|县级|市级|省级)", lambda m: m.group(0) if m.group(0) in ("县级", "市级", "省级") else "", name)
    return name.strip("等 ")


def parse_list(text: str, directory: Directory) -> tuple[list[Dept], list[str]]:
    """'省民政厅、省教育厅按照职责分工负责' → departments, lead first; flags for names not resolved."""
    text = unicodedata.normalize("NFKC", text)
    lead_names = {m.group(1) for m in _LEADS.finditer(text)}
    parts = []
    for segment in re.split(r"[，,；;]", text):
        segment = _DUTY.sub("", segment.strip())
        segment = re.sub(r"(牵头|配合|参与)$", "", segment)
        parts += [p for p in re.split(r"[、]", segment) if p.strip()]
    out: list[Dept] = []
    flags: list[str] = []
    seen: set[str] = set()
    for raw in parts:
        name = _clean(raw)
        if not name:
            continue
        # a bracketed variant: 卫生健康委(卫体局) → try the name, then the variant
        variants = [name] + re.findall(r"\(([^()]+)\)", name)
        base = re.sub(r"\([^()]*\)", "", name)
        found = next((r for r in (directory.resolve(v) for v in [base, *variants]) if r), None)
        key = found.key if found else None
        if key is None and re.search(r"[XＸ×]", base):
            key, guess = _lost_char(base, directory)
            if key:
                flags.append(f"部门名称“{base}”有缺字，按“{guess}”识别，请核对")
                base = guess
        if key and key in seen:
            continue
        if key:
            seen.add(key)
        else:
            flags.append(f"部门“{name}”不在部门目录中")
        out.append(Dept(base, key, "co"))
    if out:
        leader = next((d for d in out if any(d.name in n or n.endswith(d.name) for n in lead_names)), out[0])
        leader.role = "lead"
        out.remove(leader)
        out.insert(0, leader)
    return out, flags


def _lost_char(name: str, directory: Directory) -> tuple[str | None, str | None]:
    """A name with an OCR 'X' for a lost character (X卫健委, 省教育X): the one directory name it
    can be, with or without a level prefix; None when none or several fit."""
    pattern = re.compile("".join("." if ch in "XＸ×" else re.escape(ch) for ch in unicodedata.normalize("NFKC", name)))
    fits = {}
    for d in directory.doc.departments:
        for alias in [d.name, *d.names.values(), *d.aliases]:
            for prefix in ("", "省", "市", "县", "区"):
                if pattern.fullmatch(prefix + alias):
                    fits.setdefault(d.key, prefix + alias)
    return next(iter(fits.items())) if len(fits) == 1 else (None, None)


def departments(clause: Clause, directory: Directory) -> tuple[list[Dept], list[str]]:
    if clause.kind == "checklist":
        if not clause.cells:
            return [], ["清单行没有责任部门一栏"]
        found, flags = parse_list(clause.cells[-1], directory)
        if found and not any(d.key for d in found):       # the last cell is not a department list
            return [], [f"{clause.id} 的责任部门一栏缺失或无法识别，请补充"]
        return found, flags
    if clause.kind == "task":
        m = _TRAILING.search(clause.text.rstrip())
        if m:
            return parse_list(m.group(1), directory)
        return [], ["条款末尾没有责任部门的括注"]
    return _named(clause.text, directory)


def _named(text: str, directory: Directory) -> tuple[list[Dept], list[str]]:
    """The departments a requirement paragraph names, in order of first mention; the one said
    to lead (牵头 / 会同相关部门) first. Flagged for a person to check."""
    text = unicodedata.normalize("NFKC", text)
    names = []
    for alias in _aliases(directory):
        for m in re.finditer(re.escape(alias), text):
            names.append((m.start(), m.end(), alias))
    names.sort(key=lambda t: (t[0], -(t[1] - t[0])))
    chosen, end = [], -1
    for start, stop, alias in names:
        if start >= end:
            chosen.append((start, stop, alias))
            end = stop
    out, seen, leaders = [], {}, []
    for _start, stop, alias in chosen:
        r = directory.resolve(alias)
        if not r:
            continue
        if r.key not in seen:
            seen[r.key] = Dept(alias, r.key, "co")
            out.append(seen[r.key])
        # the one that leads: 民政局要会同…, 民政部门牵头 (the actor just before the word)
        if re.match(r"[^。，,；;、]{0,4}(牵头|会同)", text[stop:]) and seen[r.key] not in leaders:
            leaders.append(seen[r.key])
    if out:
        lead = leaders[0] if leaders else out[0]
        lead.role = "lead"
        out.remove(lead)
        out.insert(0, lead)
    return out, (["工作要求段落的责任部门由正文推断，请核对"] if out else ["工作要求段落未找到责任部门"])


def _aliases(directory: Directory) -> list[str]:
    """Names specific enough to find in running text (not 教育 alone, which is also a word)."""
    names = set()
    for d in directory.doc.departments:
        for a in [d.name, *d.names.values(), *d.aliases]:
            if len(a) >= 3 or a.endswith(("联", "委")):
                names.add(a)
    return sorted(names, key=len, reverse=True)
