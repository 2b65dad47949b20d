"""`duban tasks add | list | import` (ad-hoc assignments, 交办) and `duban urge` (催办 by hand)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

import typer

from flows.cli.context import TodayOption, cli, parse_date
from flows.cli.output import FormatOption, ListFormat, col, dash, emit_json, print_listing
from obligations.words import LEVEL_NAMES, date_words
from storage import tasks, workflow

app = typer.Typer(help="交办任务（批示件、会议交办、来文交办）/ ad-hoc assignments", no_args_is_help=True)
urge_app = typer.Typer()   # `urge` sits at the top level


AssignDayOption = typer.Option(None, "--today", help="以此日期为交办日期（YYYY-MM-DD，默认今天）/ assign as of this date")


def _actor(by: str) -> workflow.Actor:
    return workflow.Actor(by, "cli")


@app.command("add")
def add_cmd(ctx: typer.Context,
            title: str = typer.Option(..., "--title", help="任务名称 / title"),
            departments: str = typer.Option(..., "--departments",
                                            help="责任部门，逗号分隔，牵头部门在前；部门键或名称，如 education 或 教育局"),
            jurisdiction: str = typer.Option(..., "--jurisdiction", help="交办地区（名称或区划代码）/ unit"),
            level: Optional[str] = typer.Option(None, "--level",
                                                help="交办给该地区下此层级的每个单位，如 county（各县）/ every unit of this level"),
            due: Optional[str] = typer.Option(None, "--due", help="截止日期 YYYY-MM-DD / deadline"),
            within: Optional[int] = typer.Option(None, "--within", help="N 个工作日内办结（与 --due 二选一）/ working days"),
            source: Optional[str] = typer.Option(None, "--source", help="任务来源：批示、会议、来文、督查…… / source"),
            text: Optional[str] = typer.Option(None, "--text", help="任务内容和要求 / what is asked"),
            count: int = typer.Option(1, "--count", help="应完成次数 / times required"),
            evidence: bool = typer.Option(False, "--evidence", help="办结时须附佐证材料 / evidence required"),
            by: str = typer.Option("命令行用户", "--by", help="交办人 / who assigns"),
            today: Optional[str] = AssignDayOption, format: ListFormat = FormatOption):
    """交办一项任务：生成各责任单位的督办事项，随通知、清单、报告一并督办 / assign an ad-hoc task."""
    run = cli(ctx)
    s = run.settings
    day = run.today(today)
    with run.session() as session, session.begin():
        done = tasks.assign(session, _actor(by), title=title, departments=departments, jurisdiction=jurisdiction,
                            level=level, due=parse_date(due, "--due"), within=within, source=source, text=text,
                            count=count, evidence=evidence, today=day, calendar=s.calendar())
    if format == ListFormat.json:
        emit_json(done.__dict__)
        return
    done_level = _level(level)
    where = jurisdiction + (f"各{LEVEL_NAMES[done_level]}单位" if done_level else "")
    run.out.print(f"已交办：{done.title}（{where}，{run.party_names(done.departments)}），"
                  f"截止 {date_words(done.due)}；生成督办事项 {done.items} 项，涉及 {done.units} 个单位。"
                  "通知随每日提醒发出；duban tasks list 查看进度。", soft_wrap=True)


def _level(level: Optional[str]) -> Optional[str]:
    if not level:
        return None
    names = {v: k for k, v in LEVEL_NAMES.items()}
    found = names.get(level, level)
    return found if found in tasks.LEVELS else None


@app.command("list")
def list_cmd(ctx: typer.Context, today: Optional[str] = TodayOption, format: ListFormat = FormatOption):
    """列出交办任务及其办理进度 / list assignments with progress."""
    run = cli(ctx)
    with run.session() as session:
        rows = tasks.list_assignments(session, today=run.today(today))
    print_listing(run.out, format, rows, [
        col("交办日期", lambda r: dash(r["assigned_on"]), no_wrap=True),
        col("任务（来源）", lambda r: f"{r['title']}（{dash(r['source'])}）", min_width=16, overflow="fold"),
        col("地区与部门", lambda r: r["unit"] + (f"各{LEVEL_NAMES.get(r['level'], r['level'])}单位" if r["level"] else "")
            + "·" + run.party_names(r["departments"], short=True), min_width=12, overflow="fold"),
        col("截止", "due", no_wrap=True),
        col("办结/事项", lambda r: f"{r['done']}/{r['items']}", justify="right", no_wrap=True),
        col("逾期", "overdue", justify="right", no_wrap=True),
    ], title=f"交办任务（{len(rows)} 项）", title_justify="left", empty="还没有交办任务。")


@app.command("import")
def import_cmd(ctx: typer.Context, workbook: Path = typer.Argument(..., help="交办任务表 xlsx / workbook"),
               by: str = typer.Option("命令行用户", "--by", help="交办人 / who assigns"),
               today: Optional[str] = AssignDayOption):
    """从 xlsx 批量交办（列：任务名称、任务来源、任务内容、责任部门、地区、下达层级、截止日期、工作日内、应完成次数、
    须附佐证材料）；任何一行有误则全部不导入 / import assignments, all rows or none."""
    run = cli(ctx)
    s = run.settings
    with run.session() as session, session.begin():
        done = tasks.import_sheet(session, _actor(by), workbook, today=run.today(today), calendar=s.calendar())
    run.out.print(f"已从 {workbook} 交办 {len(done)} 项任务，生成督办事项 {sum(d.items for d in done)} 项。",
                  soft_wrap=True)


@urge_app.command("urge")
def urge_cmd(ctx: typer.Context, items: list[int] = typer.Argument(..., help="督办事项编号（可多个）/ item ids"),
             note: Optional[str] = typer.Option(None, "--note", help="催办说明，随通知发出 / note sent along"),
             by: str = typer.Option("命令行用户", "--by", help="催办人 / who"),
             format: ListFormat = FormatOption):
    """催办：立即向责任单位发出催办通知（随下一次发送送达，免打扰时段之后）/ send a reminder by hand now."""
    from notifications.urge import urge

    run = cli(ctx)
    s = run.settings
    with run.session() as session, session.begin():
        done = urge(session, items, by=_actor(by), note=note, today=s.today(), calendar=s.calendar(),
                    quiet_hours=tuple(s.notify.quiet_hours) or None, timezone=s.timezone)
    if format == ListFormat.json:
        emit_json(done.__dict__)
        return
    when = done.send_at.astimezone(ZoneInfo(s.timezone))
    run.out.print(f"已催办 {done.items} 项，共 {done.messages} 份通知，"
                  f"将于下一次发送时送达（最早 {when:%Y-%m-%d %H:%M}）；duban deliver 可立即发送。", soft_wrap=True)
