"""Key-child cases (重点关爱服务对象, 一人一档): the ledger's layout and row validation. Pure.

Cases are pseudonymous: the ledger carries a code, never a name; a code with Chinese characters
is refused so that a name cannot slip in by mistake."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

RISK_CATEGORIES = ("家庭生活困难", "自身残疾", "监护缺失", "流浪", "心理和行为异常", "主动求助")
HEADERS = ("编号", "乡镇（街道）", "村（社区）", "风险类别", "儿童主任", "建档日期", "结案日期", "备注")
OPTIONAL_HEADERS = ("区划代码",)
REQUIRED_HEADERS = ("编号", "乡镇（街道）", "风险类别", "建档日期")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,39}$")


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


def validate_row(values: dict[str, object]) -> tuple[CaseRow | None, list[tuple[str, str]]]:
    """Check one ledger row; return the row or a list of (column, reason)."""
    errors: list[tuple[str, str]] = []
    code = _text(values.get("编号"))
    if not code:
        errors.append(("编号", "不能为空"))
    elif not CODE.match(code):
        errors.append(("编号", f"{code!r} 不是化名编号（只用字母、数字、-、_，2–40 位；不得填写姓名）"))
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
