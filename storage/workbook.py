"""Reading a workbook people filled in (台账, 交办表, 通讯录): the first sheet's rows by header,
with the sheet name and row number every error message names."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Row = tuple[str, int, dict[str, Any]]


def read_rows(path: Path, *, required: Iterable[str], known: Iterable[str] | None, error: Callable[[list[str]], Exception],
              header_hint: str) -> list[Row]:
    """(sheet, row number, values by header) for every non-empty row of the first sheet.

    ``required``: headers that must be present (else ``error`` names them and ``header_hint``,
    e.g. "应为：单位、部门…"); ``known``: the headers kept (None keeps every named column)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise error([f"{path}: 文件不存在"]) from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise error([f"{path}: 不是有效的 xlsx 文件（{type(exc).__name__}）"]) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        missing = [h for h in required if h not in header]
        if missing:
            raise error([f"{sheet.title}!1: 表头: 缺少列 {'、'.join(missing)}（{header_hint}）"])
        keep = set(known) if known is not None else None
        out = []
        for number, values in enumerate(rows, start=2):
            if values is None or all(v is None or str(v).strip() == "" for v in values):
                continue
            out.append((sheet.title, number,
                        {h: v for h, v in zip(header, values, strict=False) if h and (keep is None or h in keep)}))
        return out
    finally:
        book.close()
