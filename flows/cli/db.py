"""`duban db`: `check` finds dangling references in the derived tables (they carry no foreign
keys); `upgrade` migrates the database to this version's schema."""
from __future__ import annotations

import typer

from flows.cli.context import cli
from flows.cli.output import FormatOption, ListFormat, col, print_listing

app = typer.Typer(help="数据库维护 / database maintenance", no_args_is_help=True)


@app.command("check")
def check_cmd(ctx: typer.Context, format: ListFormat = FormatOption):
    """检查督办事项和通知的引用是否完整（退出码 1 表示发现问题）/ find dangling references."""
    from storage.integrity import REFERENCES, dangling

    run = cli(ctx)
    with run.engine.connect() as conn:
        found = dangling(conn)
    print_listing(run.out, format, found, [
        col("引用", lambda d: d.reference.label),
        col("字段", lambda d: f"{d.reference.table}.{d.reference.column} → {d.reference.target}"),
        col("行数", lambda d: f"{d.rows:,}"),
        col("示例编号", lambda d: "、".join(map(str, d.examples))),
    ], empty=f"数据完整：检查了 {len(REFERENCES)} 类引用，没有指向不存在记录的行。",
        footer="这些行指向的记录已不存在（通常是手工修改数据库造成的）。"
               "请恢复被删除的记录，或删除这些行后重新运行 duban materialize。",
        json_value={"ok": not found, "checked": len(REFERENCES),
                    "dangling": [{"table": d.reference.table, "column": d.reference.column,
                                  "target": d.reference.target, "rows": d.rows, "examples": d.examples}
                                 for d in found]})
    return 1 if found else 0


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context):
    """将数据库升级到本版本的结构（升级前请备份）/ migrate the database to this version's schema."""
    run = cli(ctx)
    before, after = run.upgrade()
    if before == after:
        run.out.print(f"数据库已是最新版本（{after}）")
    elif before is None:
        run.out.print(f"数据库已升级：空数据库 → {after}")
    else:
        run.out.print(f"数据库已升级：{before} → {after}")
