"""`duban materialize`, `complete`, `waive`: making occurrences and recording what was done."""
from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Optional

import typer

from flows.cli.context import TodayOption, cli, parse_date
from flows.cli.output import FormatOption, ListFormat, emit_json
from obligations.words import STATUS_NAMES
from obligations.workcal import UnknownYearWarning
from storage import occurrences as occ
from storage import workflow
from storage.evidence import Evidence
from storage.schedule import materialize

app = typer.Typer()   # its commands sit at the top level


@app.command("materialize")
def materialize_cmd(
    ctx: typer.Context,
    until: Optional[str] = typer.Option(None, "--until", help="生成到此日期（默认：今天 + horizon_days）/ horizon"),
    from_: Optional[str] = typer.Option(None, "--from", help="只生成此日期之后结束的期间 / skip periods ending before"),
    today: Optional[str] = TodayOption,
    format: ListFormat = FormatOption,
):
    """按周期生成督办事项（幂等，可重复运行）/ create occurrences up to a horizon (idempotent)."""
    run = cli(ctx)
    s = run.settings
    now = run.today(today)
    horizon = parse_date(until, "--until") or now + dt.timedelta(days=s.horizon_days)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownYearWarning)
        report = materialize(run.engine, s.calendar(), horizon, today=now, default_start=s.schedule_start,
                             window_from=parse_date(from_, "--from"))
    if format == ListFormat.json:
        emit_json(report.__dict__)
        return
    out = run.out
    out.print(f"生成督办事项至 {horizon}：新增 {report.occurrences_added} 项"
              f"（{'、'.join(f'{k} {v}' for k, v in report.by_plan.items())}），"
              f"新增周期 {report.periods_added} 个，事件事项 {report.events_added} 项；"
              f"按修订替换未来未办事项 {report.occurrences_removed} 项。")
    for w in caught:
        out.print(f"[yellow]注意：{w.message}[/yellow]")
    if report.unplaced_plans:
        out.print(f"[yellow]注意：计划 {'、'.join(report.unplaced_plans)} 的地区不在行政区划中，未生成事项。[/yellow]")
    _owing_summary(run, list(report.by_plan) + [p for p in report.unplaced_plans if p not in report.by_plan])


def _owing_summary(run, plan_ids: list[str]) -> None:
    """Per plan: how many obligations now have items, and for each that has none, why."""
    from storage.catalog_repo import list_plans
    from storage.plan_check import check_plan

    with run.session() as s:
        ids = plan_ids or [p["id"] for p in list_plans(s)]
        checks = {pid: check_plan(s, pid) for pid in ids}
    for pid, rows in checks.items():
        idle = [r for r in rows if not r.items]
        owing = sum(r.owing for r in rows)
        run.out.print(f"{pid}：{len(rows) - len(idle)}/{len(rows)} 项义务已有事项，共 {owing:,} 个责任方"
                      + ("。" if not idle else f"；{len(idle)} 项没有事项："), soft_wrap=True)
        for r in idle:
            run.out.print(f"  [yellow]{r.obligation} {r.what}：{r.reason}[/yellow]", soft_wrap=True)
    if checks:
        run.out.print("每项义务的承担单位和责任方：duban plans check <计划编号>", soft_wrap=True)


@app.command("complete")
def complete_cmd(
    ctx: typer.Context,
    occurrence: int = typer.Argument(..., help="督办事项编号 / occurrence id"),
    count: int = typer.Option(1, "--count", "-n", help="本次完成次数（如 6 次走访中的 4 次）/ count done"),
    note: Optional[str] = typer.Option(None, "--note", help="办理情况说明 / what was done"),
    evidence: Optional[Path] = typer.Option(None, "--evidence", help="佐证材料文件 / evidence file"),
    by: str = typer.Option("命令行用户", "--by", help="办理人 / who"),
    on: Optional[str] = typer.Option(None, "--on", help="办理日期（默认今天）/ date done"),
    format: ListFormat = FormatOption,
):
    """登记完成情况（追加记录，不覆盖）/ record a completion."""
    run = cli(ctx)
    s = run.settings
    with run.session() as session, session.begin():
        c = workflow.complete(session, occurrence, by=workflow.Actor(by, "cli"), count=count, note=note,
                          done_on=parse_date(on, "--on"), evidence=Evidence.from_path(evidence) if evidence else None,
                          setting=workflow.Setting.of(s, s.today()))
        flagged, claimed, judged = c.flagged, c.done_on, c.judged_on
    with run.session() as session:
        detail = occ.occurrence_detail(session, occurrence, today=s.today(), soon_days=s.due_soon_days)
    if format == ListFormat.json:
        emit_json(detail)
        return
    run.out.print(f"已登记：事项 {occurrence}（{detail['plan']} {detail['obligation']} {detail['what']}，"
                  f"{detail['jurisdiction']}·{detail['assignee_name']}）进度 {detail['done']}/{detail['required']}，"
                  f"状态：{STATUS_NAMES[detail['status']]}")
    if detail["status"] == "submitted":
        run.out.print(f"已登记办结，等待协调员审核（duban review accept {occurrence} 审核通过，"
                      f"duban review return {occurrence} --reason 理由 退回）。", soft_wrap=True)
    if flagged:
        run.out.print(f"[yellow]办理日期 {claimed} 早于登记日期 {s.completion_grace_days} 个工作日以上，已标注“补登待核”，"
                      f"按登记日期 {judged} 判定是否按期。[/yellow]", soft_wrap=True)


@app.command("waive")
def waive_cmd(ctx: typer.Context, occurrence: int = typer.Argument(..., help="督办事项编号"),
              reason: str = typer.Option(..., "--reason", help="豁免理由 / reason"),
              by: str = typer.Option("命令行用户", "--by", help="决定人 / who")):
    """豁免一个督办事项（须说明理由）/ waive an occurrence with a reason."""
    run = cli(ctx)
    with run.session() as session, session.begin():
        workflow.waive(session, occurrence, by=workflow.Actor(by, "cli"), reason=reason)
    run.out.print(f"已豁免：事项 {occurrence}，理由：{reason}")


@app.command("extend")
def extend_cmd(ctx: typer.Context, occurrence: int = typer.Argument(..., help="督办事项编号"),
               to: str = typer.Option(..., "--to", help="延期后的截止日期 YYYY-MM-DD / new due date"),
               reason: str = typer.Option(..., "--reason", help="延期理由 / reason"),
               by: str = typer.Option("命令行用户", "--by", help="决定人 / who")):
    """为督办事项延期（须说明理由）/ move an occurrence's due date later, with a reason."""
    run = cli(ctx)
    s = run.settings
    with run.session() as session, session.begin():
        workflow.extend(session, occurrence, by=workflow.Actor(by, "cli"), new_due=parse_date(to, "--to"),
                        reason=reason, today=s.today())
    run.out.print(f"已延期：事项 {occurrence}，截止日期改为 {to}，理由：{reason}")
