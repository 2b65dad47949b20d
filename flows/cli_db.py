"""`duban db check`: dangling references in the derived tables (they carry no foreign keys)."""
from __future__ import annotations

import typer
from rich.table import Table

from flows import cli
from flows.cli import FormatOption, ListFormat, app, emit_json, engine

db_app = typer.Typer(help="数据库维护 / database maintenance", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("check")
def check_cmd(format: ListFormat = FormatOption):
    """检查督办事项和通知的引用是否完整（退出码 1 表示发现问题）/ find dangling references."""
    from storage.integrity import REFERENCES, dangling

    with engine().connect() as conn:
        found = dangling(conn)
    if format == ListFormat.json:
        emit_json({"ok": not found, "checked": len(REFERENCES),
                   "dangling": [{"table": d.reference.table, "column": d.reference.column,
                                 "target": d.reference.target, "rows": d.rows, "examples": d.examples}
                                for d in found]})
    elif not found:
        cli.out.print(f"数据完整：检查了 {len(REFERENCES)} 类引用，没有指向不存在记录的行。")
    else:
        table = Table("引用", "字段", "行数", "示例编号")
        for d in found:
            table.add_row(d.reference.label, f"{d.reference.table}.{d.reference.column} → {d.reference.target}",
                          f"{d.rows:,}", "、".join(map(str, d.examples)))
        cli.out.print(table)
        cli.out.print("这些行指向的记录已不存在（通常是手工修改数据库造成的）。"
                      "请恢复被删除的记录，或删除这些行后重新运行 duban materialize。")
    return 1 if found else 0
