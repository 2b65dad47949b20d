"""Who is responsible for a clause: the trailing parenthetical of a task (…按照职责分工负责,
…负责, …牵头), the 责任部门 cell of a checklist row, or the departments a 工作要求 paragraph
names; each name resolved to a directory key (variants, level prefixes, 中共…, unseen local
forms through the directory's resolver). Lead: the one the text says leads, else the first."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from obligations.directory import Directory
from obligations.extract.structure import RESPONSIBLE, Clause

_TRAILING = re.compile(r"[（(〈]([^（）()〈〉]{2,400})[)）〉]\s*[。.]?\s*$")
_DUTY = re.compile(r"(?:按照?职责分工|按职责|分别)?(?:牵头)?(?:负责|落实|配合|参与)$")
_SPLIT = re.compile(r"[、，,；;]|\s+")
_LEADS = re.compile(r"([\u4e00-\u9fff（）()]{2,24}?)牵头")


@dataclass
class Dept:
    name: str
    key: str | None        # None: not in the directory (flagged; the draft proposes it)
    role: str              # lead | co
    levels: list[str] = field(default_factory=list)    # the levels a shared prefix (市、县（区）…) gives
    variants: list[str] = field(default_factory=list)  # bracketed alternatives: 卫生健康委（卫健局）
    unit: str | None = None    # one unit named among the departments (如城街道): its code; key is its office


# a level word, with the bracketed alternatives plans add: 县（市、区） 市（州） 区县
_LEVEL_WORD = r"(?:省级?|自治区|设区市|市级?|州|盟|县级?|区|旗|乡镇|街道)(?:\([^()]{1,6}\))?"
_LEVEL_OF = {"省": "province", "自": "province", "设": "city", "市": "city", "州": "city", "盟": "city", "县": "county",
             "区": "county", "旗": "county", "乡": "township", "街": "township"}
# a list opened by a shared prefix: 市、县（区）… / 省市县三级… / 市县两级…
_SHARED = re.compile(r"^(?P<levels>" + _LEVEL_WORD + r"(?:[、,和及与]?" + _LEVEL_WORD + r")+)(?:两级|三级|各级)?")


def split_outside_brackets(text: str, separators: str) -> list[str]:
    """Split at the separators that are not inside brackets (县（市、区）民政局 stays whole)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "(（〈[【":
            depth += 1
        elif ch in ")）〉]】" and depth:
            depth -= 1
        if ch in separators and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def shared_levels(text: str) -> tuple[list[str], str]:
    """'市、县(区)民政局' → (['city', 'county'], '民政局'); no shared prefix → ([], text)."""
    m = _SHARED.match(text)
    if not m or len(text) == m.end():
        return [], text
    levels = []
    for word in re.findall(_LEVEL_WORD, m.group("levels")):
        level = _LEVEL_OF[word[0]]
        if level not in levels:
            levels.append(level)
    return levels, text[m.end():]


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).strip()
    name = re.sub(r"^(各级|各地|各|有关|县级|市级|省级)", lambda m: m.group(0) if m.group(0) in ("县级", "市级", "省级") else "", name)
    return name.strip("等 ")


def parse_list(text: str, directory: Directory) -> tuple[list[Dept], list[str]]:
    """'省民政厅、省教育厅按照职责分工负责' → departments, lead first; flags for names not resolved.
    A shared level prefix (市、县（区）民政局、教育局) applies to every name after it."""
    text = unicodedata.normalize("NFKC", text)
    lead_names = {m.group(1) for m in _LEADS.finditer(text)}
    parts = []
    for segment in split_outside_brackets(text, ",;"):
        segment = _DUTY.sub("", segment.strip())
        segment = re.sub(r"(牵头|配合|参与)$", "", segment)
        parts += [p for p in split_outside_brackets(segment, "、") if p.strip()]
    # 市、县(区)民政局: the level words before the first name are one prefix, not departments
    lead_in = []
    while parts and re.fullmatch(_LEVEL_WORD, _clean(parts[0]) or "-"):
        lead_in.append(_clean(parts.pop(0)))
    shared: list[str] = []
    if parts:
        levels, rest = shared_levels("、".join(lead_in + [_clean(parts[0])]))
        if levels and (lead_in or len(levels) > 1):
            shared, parts[0] = levels, rest
    out: list[Dept] = []
    flags: list[str] = []
    seen: set[str] = set()
    for raw in parts:
        name = _clean(raw)
        if not name:
            continue
        if shared:
            name = re.sub(r"^(?:两级|三级|各级)", "", name)
        # a bracketed variant: 卫生健康委(卫体局) → try the name, then the variant; a bracket that only
        # adds levels (县(市、区)民政局) is part of the name's prefix
        inner = re.findall(r"\(([^()]+)\)", name)
        variants = [v for v in inner if not re.fullmatch(r"(?:" + _LEVEL_WORD + r"[、,]?)+", v)]
        base = re.sub(r"\([^()]*\)", "", name)
        found = next((r for r in (directory.resolve(v) for v in [name, base, *variants]) if r), None)
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
            flags.append(f"部门“{name}”不在部门目录中，已作为新部门提出，请核对")
        out.append(Dept(base, key, "co", list(shared), variants))
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


_ORGAN = re.compile(r"(?:厅|局|委|会|院|联|办|部|中心|团|室|所|站|队|处|政府|集团|协会|馆)$")
_NOT_A_NAME = re.compile(r"[的是将要应或等；;。:：]")
_UNIT_START = re.compile(r"^(?:中共|共青团|团[省市县区]委|省|自治区|市|州|盟|县|区|旗|乡镇|街道)")


def heading_lists_units(title: str, directory: Directory) -> bool:
    """A clause headed by the units that owe it, as a division of duties writes it (一、市委宣传部、
    市委文明办。…): every name in the title is an organ's (ends in 局 委 办 部 …, no verb) that the
    directory knows or that carries a level prefix (市委…, 县…, 团市委)."""
    names = [n.strip() for n in split_outside_brackets(unicodedata.normalize("NFKC", title or ""), "、,")]
    if not names or len(names) > 12:
        return False
    return all(2 <= len(n) <= 24 and _ORGAN.search(re.sub(r"\([^()]*\)$", "", n)) and not _NOT_A_NAME.search(n)
               and (directory.resolve(n) or _UNIT_START.match(n)) for n in names)


def trailing_parenthetical(text: str) -> str | None:
    """The words of the parenthetical a clause ends with, brackets inside it kept
    (…（市民政局、县（区）教育局按照职责分工负责）。)."""
    text = re.sub(r"[\s。.]+$", "", text)
    if not text or text[-1] not in ")）〉":
        return None
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch in ")）〉":
            depth += 1
        elif ch in "(（〈":
            depth -= 1
            if depth == 0:
                inner = text[i + 1:-1]
                return inner if 2 <= len(inner) <= 400 else None
    return None


def departments(clause: Clause, directory: Directory) -> tuple[list[Dept], list[str]]:
    if clause.kind == "checklist":
        column = next((name for name in clause.columns if RESPONSIBLE.match(name)), None)
        if column is not None:                            # the table's header says which cell it is
            cell = clause.columns[column]
            if not cell.strip():
                return [], [f"{clause.id} 的责任部门一栏缺失或无法识别，请补充"]
            return parse_list(cell, directory)
        if not clause.cells:
            return [], ["清单行没有责任部门一栏"]
        found, flags = parse_list(clause.cells[-1], directory)
        if found and not any(d.key for d in found):       # the last cell is not a department list
            return [], [f"{clause.id} 的责任部门一栏缺失或无法识别，请补充"]
        return found, flags
    if clause.kind == "task":
        inner = trailing_parenthetical(clause.text)
        if inner:
            return parse_list(inner, directory)
        if heading_lists_units(clause.title, directory):      # 一、市委宣传部、市委文明办。（duties follow）
            return parse_list(clause.title, directory)
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
