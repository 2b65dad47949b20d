"""`duban departments`, `duban obligations`, `duban jurisdictions`: what the loaded catalogs
and the directory hold."""
from __future__ import annotations

from enum import StrEnum
from typing import Optional

import typer

from flows.cli.context import cli
from flows.cli.output import FormatOption, ListFormat, col, print_listing
from obligations.catalog import describe_cadence
from obligations.words import LEVEL_NAMES, SCOPE_NAMES
from storage import catalog_repo
from storage.directory_repo import list_jurisdictions

departments_app = typer.Typer(help="部门目录 / departments and roles", no_args_is_help=True)
obligations_app = typer.Typer(help="督办义务 / obligations", no_args_is_help=True)
jurisdictions_app = typer.Typer(help="行政区划与联系人 / jurisdictions and contacts", no_args_is_help=True)


@departments_app.command("list")
def departments_list(ctx: typer.Context, format: ListFormat = FormatOption):
    """列出部门键、各级名称和承担的义务数 / list department and role keys."""
    run = cli(ctx)
    with run.session() as s:
        rows = catalog_repo.list_departments(s)
    print_listing(run.out, format, rows, [
        col("键", "key", overflow="fold"),
        col("类别", lambda r: "部门" if r["kind"] == "department" else "角色", overflow="fold"),
        col("名称", "name", overflow="fold"),
        col("各级名称", lambda r: "、".join(f"{LEVEL_NAMES.get(k, k)}:{v}" for k, v in r["names"].items()),
            overflow="fold"),
        col("义务数", "obligations", overflow="fold"),
    ], title="部门与角色", empty="部门目录为空。请运行：duban plans load --all")


class Origin(StrEnum):
    stated = "stated"
    policy = "policy"


CADENCE_FIELDS = ("kind", "count", "months", "rrule", "start", "deadline", "after")


@obligations_app.command("list")
def obligations_list(
    ctx: typer.Context,
    plan: Optional[str] = typer.Option(None, "--plan", help="计划编号 / plan id"),
    department: Optional[str] = typer.Option(None, "--department", help="部门键，如 education / department key"),
    origin: Optional[Origin] = typer.Option(None, "--origin", help="stated（原文规定）| policy（默认周期）"),
    format: ListFormat = FormatOption,
):
    """列出督办义务 / list obligations."""
    run = cli(ctx)
    if department and department not in run.department_names():
        raise typer.BadParameter(f"未知的部门键 {department}（可用 duban departments list 查看）",
                                 param_hint="--department")
    with run.session() as s:
        rows = catalog_repo.list_obligations(s, plan=plan, department=department,
                                             origin=origin.value if origin else None)
    print_listing(run.out, format, rows, [
        col("义务", "obligation", overflow="fold", min_width=9),
        col("内容", "what", overflow="fold"),
        col("责任方", lambda r: run.party_names(r["who"], short=True), overflow="fold"),
        col("范围", lambda r: SCOPE_NAMES.get(r["scope"], r["scope"]), overflow="fold", min_width=8),
        col("周期", lambda r: describe_cadence({k: r[k] for k in CADENCE_FIELDS}), overflow="fold", min_width=12),
        col("来源", lambda r: "原文" if r["origin"] == "stated" else "默认", overflow="fold", min_width=6),
    ], group_by=lambda r: r["plan"], title=lambda plan_id, items: f"{plan_id}：督办义务 {len(items)} 项",
        title_justify="left", empty="没有符合条件的义务。尚未加载计划时请运行：duban plans load --all",
        footer=f"共 {len(rows)} 项。“原文”= 方案原文规定的周期；“默认”= config.yaml 的默认进度报送周期。"
               "原文短语见 --format json 的 text 字段。")


@jurisdictions_app.command("list")
def jurisdictions_list(ctx: typer.Context,
                       level: Optional[str] = typer.Option(None, "--level", help="province|city|county|township|village"),
                       format: ListFormat = FormatOption):
    """列出行政区划及督查联系人 / list jurisdictions."""
    run = cli(ctx)
    with run.session() as s:
        rows = list_jurisdictions(s, level)
    print_listing(run.out, format, rows, [
        col("代码", "code"),
        col("名称", lambda r: "  " * (r["path"].count("/") - 1) + r["name"]),
        col("层级", lambda r: LEVEL_NAMES.get(r["level"], r["level"])),
        col("督查联系人", lambda r: f"{r['supervisor'] or '—'} {r['supervisor_email'] or ''}"),
        col("部门联系人数", "contacts"),
    ], title=f"行政区划（{len(rows)} 个）")
