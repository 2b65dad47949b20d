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
from storage.occurrences import OccurrenceError, resolve_department

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
    department: Optional[str] = typer.Option(None, "--department", help="部门名称或键，如 教育局、education / department name or key"),
    origin: Optional[Origin] = typer.Option(None, "--origin", help="stated（原文规定）| policy（默认周期）"),
    format: ListFormat = FormatOption,
):
    """列出督办义务 / list obligations."""
    run = cli(ctx)
    with run.session() as s:
        if department:
            try:
                department = resolve_department(s, department).key
            except OccurrenceError as exc:
                raise typer.BadParameter(str(exc), param_hint="--department") from None
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


class Depth(StrEnum):
    province = "province"
    city = "city"
    county = "county"
    township = "township"
    village = "village"


@jurisdictions_app.command("import")
def jurisdictions_import(ctx: typer.Context,
                         unit: str = typer.Argument(..., help="地区名称、区划代码或带上级的名称，如 福州市、350100、石家庄市/新华区"),
                         depth: Depth = typer.Option(Depth.township, "--depth", help="导入到哪一级：county|township|village（默认 township；village 需 pip install 'duban[villages]'）")):
    """从民政部行政区划代码把一个地区及其下级加入部门目录（可重复运行）/ add a unit and those below it."""
    from storage.files import read_directory
    from storage.localities import header_of, import_units

    run = cli(ctx)
    path = run.settings.directory_path
    directory = read_directory(path)
    result = import_units(run.engine, path, directory.doc, unit, depth.value,
                          header=header_of(path.read_text(encoding="utf-8")) or None)
    where = f"{result.root.code} {result.root.name}"
    for code, mine, theirs in result.conflicts:
        run.out.print(f"[yellow]注意：区划代码 {code} 在部门目录中是“{mine}”，在民政部区划代码中是“{theirs}”；"
                      "保留了目录中的名称，请核对。[/yellow]", soft_wrap=True)
    if not result.added:
        run.out.print(f"部门目录已包含 {where} 及其下级（共 {result.units} 个单位），无变化。")
        return
    run.out.print(f"已将 {where} 及其下级加入部门目录 {path}：新增 {result.added} 个单位（到{LEVEL_NAMES[depth.value]}），"
                  f"并已写入数据库。", soft_wrap=True)
    if result.no_villages:
        run.out.print(f"[yellow]注意：{result.no_villages} 个乡镇（街道）在村（社区）数据中没有对应（多为新设或改名的），"
                      "未导入其村（社区）；请在部门目录或通讯录中补充。[/yellow]", soft_wrap=True)
    run.out.print("下一步：duban contacts export 通讯录.xlsx，填写联系人后 duban contacts import 通讯录.xlsx。")
