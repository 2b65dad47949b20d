"""`duban init`: a working folder for a locality of one's own."""
from __future__ import annotations

from pathlib import Path

import typer

from flows.cli.context import cli

app = typer.Typer()   # its command sits at the top level


@app.command("init")
def init_cmd(ctx: typer.Context,
             folder: Path = typer.Argument(..., help="新的工作文件夹 / a new folder"),
             locality: str = typer.Option(..., "--locality", help="本地区名称或区划代码，如 福州市、350100、石家庄市/新华区"),
             depth: str = typer.Option("township", "--depth", help="行政区划导入到哪一级：county|township|village（village 需 pip install 'duban[villages]'）")):
    """为一个地区新建工作文件夹：配置、部门目录（标准部门和本地区行政区划）、数据库和待填写的通讯录 / start a locality."""
    from storage.localities import init_folder

    run = cli(ctx)
    done = init_folder(folder, locality, depth)
    where = f"{done.root.code} {done.root.name}"
    run.out.print(f"已新建 {done.folder}：{where} 及其下级共 {done.units:,} 个单位（{run_source()}）。", soft_wrap=True)
    run.out.print(f"  配置：{done.config}\n  部门目录：{done.directory}\n  通讯录（{done.contact_rows:,} 行，待填写）：{done.contacts}",
                  soft_wrap=True, highlight=False)
    run.out.print("下一步：\n"
                  f"  cd {folder}\n"
                  f"  duban contacts import {done.contacts.name}      # 填好联系人后导入\n"
                  "  duban plans extract 方案.txt --add              # 从方案原文起草计划目录\n"
                  "  duban plans load --all && duban materialize", soft_wrap=True, highlight=False)


def run_source() -> str:
    from storage.divisions import source

    return source()
