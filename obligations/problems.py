"""Turn pydantic validation errors into located ``file:line: field: reason`` problems."""
from __future__ import annotations

from pydantic import ValidationError

from obligations.yamlsource import Located, Problem, format_path

_REASONS = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不认识的字段",
    "literal_error": "取值不在允许范围内",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "list_type": "应为列表",
    "dict_type": "应为映射",
    "model_type": "应为映射",
    "date_type": "应为日期 (YYYY-MM-DD)",
    "date_from_datetime_parsing": "应为日期 (YYYY-MM-DD)",
    "date_parsing": "应为日期 (YYYY-MM-DD)",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "greater_than": "数值过小",
    "less_than": "数值过大",
    "too_short": "不能为空",
    "string_pattern_mismatch": "格式不符",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
}


def from_validation_error(err: ValidationError, located: Located, filename: str) -> list[Problem]:
    out: list[Problem] = []
    for item in err.errors():
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic puts union/tagged branches into loc as strings that are not keys; keep keys only
        path = _known_prefix(loc, located)
        reason = _REASONS.get(item["type"])
        message = item.get("msg", "")
        if item["type"] in ("value_error", "assertion_error"):
            reason = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        elif item["type"] == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            reason = f"取值 {item.get('input')!r} 不在允许范围内 (允许: {expected})"
        elif reason is None:
            reason = message
        out.append(Problem(filename, located.line_of(path), format_path(path), reason))
    return out


def _known_prefix(loc: tuple, located: Located) -> tuple:
    # Drop pydantic's internal loc parts (e.g. union member names) that are not in the document.
    kept: list = []
    for part in loc:
        candidate = tuple(kept) + (part,)
        if candidate in located.lines or _is_leaf_key(candidate, located):
            kept.append(part)
        elif isinstance(part, str) and not kept and part in ("plan", "clauses"):
            kept.append(part)
        elif isinstance(part, (str, int)) and _looks_like_field(part):
            kept.append(part)
    return tuple(kept)


def _is_leaf_key(path: tuple, located: Located) -> bool:
    return path in located.lines


def _looks_like_field(part) -> bool:
    # a missing field is not in the document but is a real field name; pydantic type tags
    # (e.g. 'list[str]', 'function-after[...]') contain brackets or hyphens
    if isinstance(part, int):
        return True
    return part.isidentifier()
