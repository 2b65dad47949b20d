"""How the CLI shows things: the console, JSON for scripts, and one helper for every listing.

A listing is rows (dicts) and column specs; ``print_listing`` prints it as a rich table (or
one table per group) or, with ``--format json``, as one JSON document on stdout. Imports
nothing from the rest of the CLI."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


class ListFormat(StrEnum):
    table = "table"
    json = "json"


class ExportFormat(StrEnum):
    json = "json"
    yaml = "yaml"


FormatOption = typer.Option(ListFormat.table, "--format", "-f", help="输出格式 table|json / output format")


def make_console() -> Console:
    """A console for one run of the CLI; it reads the terminal width (COLUMNS) when made."""
    return Console(soft_wrap=False)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def dash(value: Any) -> str:
    """A cell for a value that may be missing."""
    return "—" if value is None or value == "" else str(value)


@dataclass(frozen=True)
class Column:
    """One column of a listing: its header, the cell for a row (a key of the row dict, or a
    function of the row), and rich's column options (justify, overflow, min_width …)."""

    header: str
    value: str | Callable[[Any], str]
    options: dict[str, Any] = field(default_factory=dict)

    def cell(self, row: Any) -> str:
        if callable(self.value):
            return self.value(row)
        value = row[self.value]
        return "" if value is None else str(value)


def col(header: str, value: str | Callable[[Any], str], **options: Any) -> Column:
    return Column(header, value, options)


_UNSET: Any = object()


def print_listing(out: Console, fmt: ListFormat | str, rows: Sequence[Any], columns: Sequence[Column], *,
                  title: str | Callable[[str, list[Any]], str] | None = None,
                  empty: str | None = None, header: str | None = None, footer: str | None = None,
                  group_by: Callable[[Any], str] | None = None, json_value: Any = _UNSET,
                  page: bool = False, **table_options: Any) -> None:
    """Print ``rows`` as a table, or as JSON (``json_value`` if given, else the rows themselves).

    Table form: ``header`` first; then, with no rows and ``empty`` given, ``empty`` (nothing if
    it is "") and stop; else one table (or one per ``group_by`` key, ``title`` then a function
    of the key and its rows), and ``footer`` after. ``table_options`` go to rich's Table
    (title_justify, show_lines …). With ``page``, a table longer than the terminal goes through
    the pager ($PAGER, else less) when the output is a terminal."""
    if ListFormat(fmt) == ListFormat.json:
        emit_json(list(rows) if json_value is _UNSET else json_value)
        return
    if page and out.is_terminal and len(rows) + 6 > out.size.height:
        with out.pager(styles=True):
            _print_tables(out, rows, columns, title, empty, header, footer, group_by, table_options)
        return
    _print_tables(out, rows, columns, title, empty, header, footer, group_by, table_options)


def _print_tables(out: Console, rows: Sequence[Any], columns: Sequence[Column], title: Any, empty: str | None,
                  header: str | None, footer: str | None, group_by: Callable[[Any], str] | None,
                  table_options: dict[str, Any]) -> None:
    if header is not None:
        out.print(header)
    if not rows and empty is not None:
        if empty:
            out.print(empty)
        return
    groups: dict[str, list[Any]] = {}
    if group_by is None:
        groups[""] = list(rows)
    else:
        for row in rows:
            groups.setdefault(group_by(row), []).append(row)
    for key, items in groups.items():
        table = Table(title=title(key, items) if callable(title) else title, **table_options)
        for c in columns:
            table.add_column(c.header, **c.options)
        for row in items:
            table.add_row(*(c.cell(row) for c in columns))
        out.print(table)
    if footer is not None:
        out.print(footer)
