"""`duban progress add|list`: progress reports on long items (进度反馈), through the one door
(storage.workflow.report_progress)."""
from __future__ import annotations

from typing import Optional

import typer

from flows.cli.context import TodayOption, cli, parse_date
from flows.cli.output import FormatOption, ListFormat, col, emit_json, print_listing
from obligations.words import STATUS_NAMES, channel_name
from storage import occurrences as occ
from storage import workflow

app = typer.Typer(help="进度反馈：长期事项按反馈日报送工作进展 / progress reports", no_args_is_help=True)


def report_dict(r) -> dict:
    return {"id": r.id, "occurrence": r.occurrence_id, "reported_on": r.reported_on.isoformat(), "percent": r.percent,
            "done": r.done, "difficulties": r.difficulties, "next_steps": r.next_steps, "by": r.actor,
            "channel": r.channel, "created_at": r.created_at.isoformat(timespec="seconds")}


@app.command("add")
def add_cmd(ctx: typer.Context,
            occurrence: int = typer.Argument(..., help="督办事项编号 / occurrence id"),
            percent: int = typer.Option(..., "--percent", help="完成进度（0–100 的百分比）/ percent done"),
            done: str = typer.Option(..., "--done", help="已完成的工作 / what was done"),
            difficulties: Optional[str] = typer.Option(None, "--difficulties", help="存在的困难 / difficulties"),
            next_steps: Optional[str] = typer.Option(None, "--next", help="下一步计划 / next steps"),
            on: Optional[str] = typer.Option(None, "--on", help="反馈日期（默认今天）/ date of the report"),
            by: str = typer.Option("命令行用户", "--by", help="报送人 / who"),
            today: Optional[str] = TodayOption, format: ListFormat = FormatOption):
    """报送一条进度反馈 / report progress on an open item."""
    run = cli(ctx)
    day = run.today(today)
    with run.session() as session, session.begin():
        r = workflow.report_progress(session, occurrence, by=workflow.Actor(by, "cli"), percent=percent, done=done,
                                     difficulties=difficulties, next_steps=next_steps, on=parse_date(on, "--on"),
                                     today=day)
        out = report_dict(r)
    if format == ListFormat.json:
        emit_json(out)
        return
    with run.session() as session:
        d = occ.occurrence_detail(session, occurrence, today=day, soon_days=run.settings.due_soon_days)
    run.out.print(f"已报送进度：事项 {occurrence}（{d['plan']} {d['obligation']} {d['what']}，"
                  f"{d['jurisdiction']}·{d['assignee_name']}）完成 {out['percent']}%，反馈日期 {out['reported_on']}，"
                  f"状态：{STATUS_NAMES[d['status']]}", soft_wrap=True)


@app.command("list")
def list_cmd(ctx: typer.Context, occurrence: int = typer.Argument(..., help="督办事项编号 / occurrence id"),
             format: ListFormat = FormatOption):
    """列出一项督办事项的进度反馈（最新在前）/ an item's progress reports, newest first."""
    run = cli(ctx)
    with run.session() as session:
        rows = [report_dict(r) for r in workflow.progress_reports(session, occurrence, by=workflow.Actor("命令行用户", "cli"))]
    columns = [col("反馈日期", "reported_on", no_wrap=True), col("进度", lambda r: f"{r['percent']}%", no_wrap=True),
               col("已完成的工作", "done", ratio=2, overflow="fold"),
               col("存在的困难", lambda r: r["difficulties"] or "—", ratio=1, overflow="fold"),
               col("下一步计划", lambda r: r["next_steps"] or "—", ratio=1, overflow="fold"),
               col("报送人", lambda r: f"{r['by']}\n{channel_name(r['channel'])}", overflow="fold")]
    print_listing(run.out, format, rows, columns, title=f"事项 {occurrence} 的进度反馈（共 {len(rows)} 条）",
                  title_justify="left", empty=f"事项 {occurrence} 尚无进度反馈", expand=True)
