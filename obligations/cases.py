"""Key-child cases (重点关爱服务对象, 一人一档): the ledger's layout and row validation. Pure.

Cases are pseudonymous: the ledger carries a code, never a name. A code must match the configured
pattern (cases.code_pattern; default a prefix of one to four capital letters and a number, such
as FJ-0001), and a run of five or more letters that reads as pinyin syllables (ZhangXiaoMing,
WANGFANG) is refused as a name whatever the pattern allows."""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass

RISK_CATEGORIES = ("家庭生活困难", "自身残疾", "监护缺失", "流浪", "心理和行为异常", "主动求助")
HEADERS = ("编号", "乡镇（街道）", "村（社区）", "风险类别", "儿童主任", "建档日期", "结案日期", "备注")
OPTIONAL_HEADERS = ("区划代码",)
REQUIRED_HEADERS = ("编号", "乡镇（街道）", "风险类别", "建档日期")
CODE_PATTERN = r"^[A-Z]{1,4}-?[0-9]{1,10}$"
CODE = re.compile(CODE_PATTERN)
NAME_LETTERS = 5     # a shorter run of letters is an abbreviation (FJ, DEMO), not a name


@functools.cache
def _syllables() -> frozenset[str]:
    """Every toneless pinyin syllable with a vowel (pypinyin's dictionary; not m, n, ng, hm)."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    out = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            syllable = to_normal(reading).replace("ü", "v")
            if syllable.isascii() and syllable.isalpha() and re.search(r"[aeiouv]", syllable):
                out.add(syllable)
    return frozenset(out)


def reads_as_pinyin(letters: str) -> bool:
    """True when ``letters`` splits wholly into two or more pinyin syllables (zhangxiaoming)."""
    text, known = letters.lower(), _syllables()
    ends = {0: 0}                      # position → fewest syllables to reach it
    for i in range(len(text)):
        if i not in ends:
            continue
        for j in range(i + 1, min(len(text), i + 6) + 1):
            if text[i:j] in known and ends.get(j, 99) > ends[i] + 1:
                ends[j] = ends[i] + 1
    return ends.get(len(text), 0) >= 2


def code_problem(code: str, pattern: re.Pattern = CODE) -> str | None:
    """Why ``code`` is not a pseudonymous case code, or None when it is."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in code):
        return f"{code!r} 含有汉字：编号不得填写姓名"
    for run in re.findall(r"[A-Za-z]+", code):
        if len(run) >= NAME_LETTERS and reads_as_pinyin(run):
            return f"{code!r} 中的 {run} 像是拼音姓名：编号不得填写姓名（可用：字母前缀加数字，如 FJ-0001）"
    if not pattern.fullmatch(code):
        shape = "1–4 个大写字母加数字，如 FJ-0001" if pattern.pattern == CODE_PATTERN \
            else f"按 config.yaml 的 cases.code_pattern：{pattern.pattern}"
        return f"{code!r} 不是化名编号（应为{shape}；不得填写姓名）"
    return None


@dataclass(frozen=True)
class CaseRow:
    code: str
    township: str
    village: str | None
    unit_code: str | None
    categories: tuple[str, ...]
    director: str | None
    opened: dt.date
    closed: dt.date | None
    note: str | None


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(value) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    m = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日", text)
    if m:
        text = f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}"
    parts = text.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        text = f"{parts[0]}-{int(parts[1]):02d}-{int(parts[2]):02d}"
    return dt.date.fromisoformat(text)


def validate_row(values: dict[str, object], pattern: re.Pattern = CODE) -> tuple[CaseRow | None, list[tuple[str, str]]]:
    """Check one ledger row; return the row or a list of (column, reason)."""
    errors: list[tuple[str, str]] = []
    code = _text(values.get("编号"))
    if not code:
        errors.append(("编号", "不能为空"))
    elif problem := code_problem(code, pattern):
        errors.append(("编号", problem))
    township = _text(values.get("乡镇（街道）"))
    if not township:
        errors.append(("乡镇（街道）", "不能为空"))
    raw_categories = _text(values.get("风险类别")) or ""
    categories = tuple(c for c in re.split(r"[、,，;；/\s]+", raw_categories) if c)
    if not categories:
        errors.append(("风险类别", "不能为空"))
    unknown = [c for c in categories if c not in RISK_CATEGORIES]
    if unknown:
        errors.append(("风险类别", f"未知类别 {'、'.join(unknown)}（可用：{'、'.join(RISK_CATEGORIES)}）"))
    opened = closed = None
    try:
        opened = _date(values.get("建档日期"))
        if opened is None:
            errors.append(("建档日期", "不能为空"))
    except ValueError:
        errors.append(("建档日期", f"{values.get('建档日期')!r} 不是日期（示例：2025-03-01）"))
    try:
        closed = _date(values.get("结案日期"))
    except ValueError:
        errors.append(("结案日期", f"{values.get('结案日期')!r} 不是日期（示例：2025-12-31）"))
    if opened and closed and closed < opened:
        errors.append(("结案日期", f"结案日期 {closed} 早于建档日期 {opened}"))
    if errors:
        return None, errors
    return CaseRow(code, township, _text(values.get("村（社区）")), _text(values.get("区划代码")), categories,
                   _text(values.get("儿童主任")), opened, closed, _text(values.get("备注"))), []
