"""One error hierarchy for everything duban tells a person went wrong.

Every door turns a ``DubanError`` into its own form with no knowledge of the subclass: the CLI
prints ``message()`` to stderr and exits with ``exit_code``; the web shows the message; the API
answers ``http_status``. Errors that carry located problems (``file:line: field: reason`` or
``sheet!row: column: reason``) subclass ``ProblemsError``.

Pure: no I/O, imported by every layer."""
from __future__ import annotations

from typing import Any


class DubanError(Exception):
    """An error to be reported to a person, in Chinese, without a traceback."""

    exit_code: int = 1
    http_status: int = 400
    prefix: str = "错误"

    def message(self) -> str:
        return f"{self.prefix}：{self}" if self.prefix else str(self)


class ProblemsError(DubanError):
    """Bad input with every located problem listed; nothing was written."""

    head: str = "输入有误"

    def __init__(self, problems: list[Any]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems

    def message(self) -> str:
        lines = [str(p) for p in self.problems]
        return f"{self.head}（{len(lines)} 处错误）：\n" + "\n".join(lines)


class NotFound(DubanError):
    """Something named by id or key does not exist (or the caller may not see it)."""

    http_status = 404


class Refused(DubanError):
    """An action the rules refuse in the item's present state (done, waived, link used …)."""

    http_status = 409


class Forbidden(DubanError):
    """The person may not take this action."""

    http_status = 403
