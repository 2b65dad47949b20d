"""Parse YAML text while remembering the source line of every key and list item.

Pure: takes text, returns data plus a map from a path (tuple of keys and indexes) to its
1-based line, so that validation errors can name ``file:line: field``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from obligations.errors import DubanError

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a file."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"


@dataclass
class Located:
    data: object
    lines: dict[Path, int]
    duplicates: list[tuple[Path, int]] = field(default_factory=list)

    def line_of(self, path: Path) -> int:
        """Line of the longest known prefix of ``path`` (1 when nothing matches)."""
        for cut in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:cut]))
            if found is not None:
                return found
        return 1


class YamlSyntaxError(DubanError, ValueError):
    prefix = ""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(document)"


def parse(text: str, filename: str) -> Located:
    """Parse ``text``; raise YamlSyntaxError naming the line on malformed YAML."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(Problem(filename, line, "(YAML)", f"YAML 语法错误: {exc.problem}")) from None
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        raise YamlSyntaxError(Problem(filename, 1, "(YAML)", f"YAML 语法错误: {exc}")) from None
    except ValueError:
        # YAML reads an unquoted 2025-02-30 as a date, and no such day exists
        raise YamlSyntaxError(_bad_date(node, (), filename)
                              or Problem(filename, 1, "(YAML)", "YAML 中有无效的值")) from None
    located = Located(data=data, lines={(): 1})
    if node is not None:
        _walk(node, (), located, filename)
    return located


def _bad_date(node: yaml.Node, path: Path, filename: str) -> Problem | None:
    """The first scalar YAML takes for a date that does not exist, located."""
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
        try:
            yaml.SafeLoader("").construct_yaml_timestamp(node)
        except ValueError:
            return Problem(filename, node.start_mark.line + 1, format_path(path),
                           f"{node.value} 不是有效的日期（示例：2025-03-01）")
    if isinstance(node, yaml.MappingNode):
        children = []
        for key_node, value_node in node.value:
            children += [(path, key_node), (path + (_scalar_key(key_node),), value_node)]
    elif isinstance(node, yaml.SequenceNode):
        children = [(path + (i,), item) for i, item in enumerate(node.value)]
    else:
        children = []
    for child_path, child in children:
        found = _bad_date(child, child_path, filename)
        if found is not None:
            return found
    return None


def _scalar_key(node: yaml.Node) -> str | int:
    value = node.value if isinstance(node, yaml.ScalarNode) else str(node)
    return value


def _walk(node: yaml.Node, path: Path, out: Located, filename: str) -> None:
    """Record the line of every key and item; refuse a NUL character (written "\\0" in a quoted
    string) in any key or value: no text a person meant, and file names and database values
    cannot hold it."""
    if isinstance(node, yaml.ScalarNode):
        if "\x00" in node.value:
            raise YamlSyntaxError(Problem(filename, node.start_mark.line + 1, format_path(path),
                                          "含有空字符（\\0），请删除"))
    elif isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            child = path + (key,)
            if key in seen:
                out.duplicates.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            out.lines[child] = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode):     # (the NUL check of the key itself)
                _walk(key_node, path, out, filename)
            _walk(value_node, child, out, filename)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = path + (index,)
            out.lines[child] = item.start_mark.line + 1
            _walk(item, child, out, filename)
