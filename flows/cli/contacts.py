"""`duban contacts export|import`: the contacts workbook (通讯录), one row per unit × department
or role and one per unit for its supervisor."""
from __future__ import annotations

from pathlib import Path

import typer

from flows.cli.context import cli

app = typer.Typer(help="通讯录：导出、填写后导入各单位各部门联系人和督查联系人 / the contacts workbook",
                  no_args_is_help=True)


@app.command("export")
def export_cmd(ctx: typer.Context, workbook: Path = typer.Argument(..., help="输出的 xlsx 文件 / output .xlsx")):
    """导出通讯录（已填写的联系人和待填写的空行）/ write the contacts workbook."""
    from storage.contacts import export_workbook

    run = cli(ctx)
    with run.session() as session:
        n = export_workbook(session, workbook)
    run.out.print(f"已导出 {n:,} 行到 {workbook}（每个单位的督查联系人一行、各部门和角色各一行）。"
                  "填写联系人、职务、手机、邮箱后运行 duban contacts import。", soft_wrap=True)


@app.command("import")
def import_cmd(ctx: typer.Context, workbook: Path = typer.Argument(..., help="填写好的 xlsx 文件 / the filled-in .xlsx")):
    """导入通讯录（任何一行有误则全部不导入）/ import the contacts workbook (all rows or none)."""
    from storage.contacts import import_workbook

    run = cli(ctx)
    with run.session() as session, session.begin():
        r = import_workbook(session, workbook)
    run.out.print(f"已导入 {workbook}：{r.rows:,} 行，联系人新增 {r.added:,}、修改 {r.changed:,}、删除 {r.removed:,}，"
                  f"督查联系人更新 {r.supervisors:,}，无变化 {r.unchanged:,}。", soft_wrap=True)
