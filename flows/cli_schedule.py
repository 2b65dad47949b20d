"""`duban` commands for scheduling: materialize, completions, queries, key-child cases."""
from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table
from sqlmodel import Session

from flows import cli
from flows.cli import FormatOption, ListFormat, app, emit_json, engine, settings
from obligations.words import period_label
from obligations.periods import parse_period
from obligations.status import STATUS_NAMES
from obligations.workcal import UnknownYearWarning
from storage import cases as cases_repo
from storage import occurrences as occ
from storage import workflow
from storage.evidence import Evidence
from storage.schedule import materialize

cases_app = typer.Typer(help="重点关爱服务对象台账 / key-child cases", no_args_is_help=True)
occurrences_app = typer.Typer(help="督办事项 / occurrences", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(occurrences_app, name="occurrences")

WEEKDAYS = "一二三四五六日"
STATUS_STYLE = {"overdue": "red", "due_soon": "yellow", "done_late": "magenta", "done": "green", "waived": "dim"}


def _date(value: Optional[str], option: str) -> Optional[dt.date]:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} 不是日期（格式 YYYY-MM-DD）", param_hint=option) from None


def _today(value: Optional[str]) -> dt.date:
    return _date(value, "--today") or settings().today()


TodayOption = typer.Option(None, "--today", help="按此日期计算状态（YYYY-MM-DD，默认今天）/ evaluate as of this date")


def _due_text(iso: str) -> str:
    d = dt.date.fromisoformat(iso)
    return f"{iso}（周{WEEKDAYS[d.weekday()]}）"


def _print_occurrences(rows: list[dict], title: str, today: dt.date) -> None:
    if not rows:
        cli.out.print(f"{title}：无")
        return
    t = Table(title=f"{title}（{len(rows)} 项，截至 {today}）", title_justify="left")
    for col in ("编号", "义务", "内容", "责任单位", "期间", "截止日期", "进度", "状态"):
        t.add_column(col, overflow="fold")
    for r in rows:
        who = f"{r['jurisdiction']}·{r['assignee_name']}" + (f"（对象 {r['case']}）" if r["case"] else "")
        state = STATUS_NAMES[r["status"]]
        if r["status"] == "overdue":
            state += f" {(today - dt.date.fromisoformat(r['due'])).days} 天"
        elif r["status"] in ("open", "due_soon"):
            state += f"（剩 {(dt.date.fromisoformat(r['due']) - today).days} 天）"
        style = STATUS_STYLE.get(r["status"])
        t.add_row(str(r["id"]), f"{r['plan']} {r['obligation']}", r["what"], who, period_label(r["period"]),
                  _due_text(r["due"]), f"{r['done']}/{r['required']}", f"[{style}]{state}[/{style}]" if style else state)
    cli.out.print(t)


@app.command("materialize")
def materialize_cmd(
    until: Optional[str] = typer.Option(None, "--until", help="生成到此日期（默认：今天 + horizon_days）/ horizon"),
    from_: Optional[str] = typer.Option(None, "--from", help="只生成此日期之后结束的期间 / skip periods ending before"),
    today: Optional[str] = TodayOption,
    format: ListFormat = FormatOption,
):
    """按周期生成督办事项（幂等，可重复运行）/ create occurrences up to a horizon (idempotent)."""
    s = settings()
    now = _today(today)
    horizon = _date(until, "--until") or now + dt.timedelta(days=s.horizon_days)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownYearWarning)
        report = materialize(engine(), s.calendar(), horizon, today=now, default_start=s.schedule_start,
                             window_from=_date(from_, "--from"))
    if format == ListFormat.json:
        emit_json(report.__dict__)
        return
    cli.out.print(f"生成督办事项至 {horizon}：新增 {report.occurrences_added} 项"
                  f"（{'、'.join(f'{k} {v}' for k, v in report.by_plan.items())}），"
                  f"新增周期 {report.periods_added} 个，事件事项 {report.events_added} 项；"
                  f"按修订替换未来未办事项 {report.occurrences_removed} 项。")
    for w in caught:
        cli.out.print(f"[yellow]注意：{w.message}[/yellow]")
    if report.unplaced_plans:
        cli.out.print(f"[yellow]注意：计划 {'、'.join(report.unplaced_plans)} 的地区不在行政区划中，未生成事项。[/yellow]")
    if report.unassigned:
        cli.out.print(f"[yellow]注意：以下义务在该层级没有对应部门，未生成事项：{'、'.join(report.unassigned)}[/yellow]")


@app.command("complete")
def complete_cmd(
    occurrence: int = typer.Argument(..., help="督办事项编号 / occurrence id"),
    count: int = typer.Option(1, "--count", "-n", help="本次完成次数（如 6 次走访中的 4 次）/ count done"),
    note: Optional[str] = typer.Option(None, "--note", help="办理情况说明 / what was done"),
    evidence: Optional[Path] = typer.Option(None, "--evidence", help="佐证材料文件 / evidence file"),
    by: str = typer.Option("命令行用户", "--by", help="办理人 / who"),
    on: Optional[str] = typer.Option(None, "--on", help="办理日期（默认今天）/ date done"),
    format: ListFormat = FormatOption,
):
    """登记完成情况（追加记录，不覆盖）/ record a completion."""
    s = settings()
    with Session(engine()) as session, session.begin():
        workflow.complete(session, occurrence, by=workflow.Actor(by, "cli"), count=count, note=note,
                          done_on=_date(on, "--on"), evidence=Evidence.from_path(evidence) if evidence else None,
                          setting=workflow.Setting(s.calendar(), s.data_dir, s.today()))
    with Session(engine()) as session:
        detail = occ.occurrence_detail(session, occurrence, today=s.today(), soon_days=s.due_soon_days)
    if format == ListFormat.json:
        emit_json(detail)
        return
    cli.out.print(f"已登记：事项 {occurrence}（{detail['plan']} {detail['obligation']} {detail['what']}，"
                  f"{detail['jurisdiction']}·{detail['assignee_name']}）进度 {detail['done']}/{detail['required']}，"
                  f"状态：{STATUS_NAMES[detail['status']]}")


@app.command("waive")
def waive_cmd(occurrence: int = typer.Argument(..., help="督办事项编号"),
              reason: str = typer.Option(..., "--reason", help="豁免理由 / reason"),
              by: str = typer.Option("命令行用户", "--by", help="决定人 / who")):
    """豁免一个督办事项（须说明理由）/ waive an occurrence with a reason."""
    with Session(engine()) as session, session.begin():
        workflow.waive(session, occurrence, by=workflow.Actor(by, "cli"), reason=reason)
    cli.out.print(f"已豁免：事项 {occurrence}，理由：{reason}")


def _list(title: str, today: Optional[str], format: ListFormat, limit: int, **filters) -> None:
    s = settings()
    now = _today(today)
    with Session(engine()) as session:
        rows = occ.list_occurrences(session, today=now, soon_days=s.due_soon_days, limit=limit or None, **filters)
    if format == ListFormat.json:
        emit_json(rows)
    else:
        _print_occurrences(rows, title, now)
        if limit and len(rows) == limit:
            cli.out.print(f"仅显示前 {limit} 项；用 --limit 0 显示全部。")


DepartmentOption = typer.Option(None, "--department", help="部门键，如 education / department key")
JurisdictionOption = typer.Option(None, "--jurisdiction", help="行政区划名称或代码（含下级）/ unit and below")
LimitOption = typer.Option(200, "--limit", help="最多显示条数，0 为不限 / max rows (0 = all)")


@app.command("due")
def due_cmd(department: Optional[str] = DepartmentOption, jurisdiction: Optional[str] = JurisdictionOption,
            within: str = typer.Option("7d", "--within", help="多少天内到期，如 7d / due within"),
            plan: Optional[str] = typer.Option(None, "--plan"), today: Optional[str] = TodayOption,
            format: ListFormat = FormatOption, limit: int = LimitOption):
    """即将到期的未办事项 / open items due soon."""
    try:
        days = int(within.lower().removesuffix("d"))
    except ValueError:
        raise typer.BadParameter(f"{within!r} 应为天数，如 7d", param_hint="--within") from None
    now = _today(today)
    _list(f"{days} 天内到期的事项", today, format, limit, plan=plan, department=department,
          jurisdiction=jurisdiction, date_from=now, date_to=now + dt.timedelta(days=days),
          statuses=("open", "due_soon"))


@app.command("overdue")
def overdue_cmd(department: Optional[str] = DepartmentOption, jurisdiction: Optional[str] = JurisdictionOption,
                plan: Optional[str] = typer.Option(None, "--plan"), today: Optional[str] = TodayOption,
                format: ListFormat = FormatOption, limit: int = LimitOption):
    """逾期未办事项 / overdue items."""
    _list("逾期未办事项", today, format, limit, plan=plan, department=department, jurisdiction=jurisdiction,
          statuses=("overdue",))


@app.command("status")
def status_cmd(plan: Optional[str] = typer.Option(None, "--plan"),
               period: Optional[str] = typer.Option(None, "--period", help="2025、2025H1、2025Q3、2025-03 或 起..止"),
               jurisdiction: Optional[str] = JurisdictionOption, today: Optional[str] = TodayOption,
               format: ListFormat = FormatOption):
    """按部门统计各状态事项数和按期完成率 / counts per department and status."""
    s = settings()
    now = _today(today)
    start, end = parse_period(period) if period else (None, None)
    with Session(engine()) as session:
        rows = occ.status_summary(session, today=now, soon_days=s.due_soon_days, plan=plan, start=start, end=end,
                                  jurisdiction=jurisdiction)
    if format == ListFormat.json:
        emit_json(rows)
        return
    scope = f"{plan or '全部计划'}，{period or '全部期间'}" + (f"，{jurisdiction}" if jurisdiction else "")
    t = Table(title=f"完成情况（{scope}，截至 {now}）", title_justify="left")
    t.add_column("部门", min_width=12, max_width=18, overflow="fold")
    for col in ("未到期", "将到期", "逾期", "按期办结", "逾期办结", "豁免", "合计", "按期率"):
        t.add_column(col, justify="right", min_width=2 * len(col), no_wrap=True)
    for r in rows:
        rate = "—" if r["on_time_rate"] is None else f"{r['on_time_rate'] * 100:.1f}%"
        t.add_row(r["name"], *(str(r[k]) for k in STATUS_NAMES), str(r["total"]), rate)
    cli.out.print(t)
    cli.out.print("按期率 = 按期办结 ÷（按期办结 + 逾期办结 + 逾期未办）；逾期 = 逾期未办。")


@occurrences_app.command("list")
def occurrences_list(plan: Optional[str] = typer.Option(None, "--plan"), department: Optional[str] = DepartmentOption,
                     jurisdiction: Optional[str] = JurisdictionOption,
                     from_: Optional[str] = typer.Option(None, "--from", help="截止日期不早于 / due on or after"),
                     to: Optional[str] = typer.Option(None, "--to", help="截止日期不晚于 / due on or before"),
                     case: Optional[str] = typer.Option(None, "--case", help="对象编号 / case code"),
                     today: Optional[str] = TodayOption, format: ListFormat = FormatOption, limit: int = LimitOption):
    """列出督办事项 / list occurrences."""
    _list("督办事项", today, format, limit, plan=plan, department=department, jurisdiction=jurisdiction,
          date_from=_date(from_, "--from"), date_to=_date(to, "--to"), case=case)


@occurrences_app.command("show")
def occurrences_show(occurrence: int = typer.Argument(...), today: Optional[str] = TodayOption,
                     format: ListFormat = FormatOption):
    """一个督办事项及其完成记录 / one occurrence with its completions."""
    s = settings()
    with Session(engine()) as session:
        d = occ.occurrence_detail(session, occurrence, today=_today(today), soon_days=s.due_soon_days)
    if format == ListFormat.json:
        emit_json(d)
        return
    cli.out.print(f"事项 {d['id']}：{d['plan']} 第 {d['clause']} 条 {d['clause_title'] or ''} — {d['obligation']} {d['what']}")
    cli.out.print(f"责任单位：{d['jurisdiction']}·{d['assignee_name']}" + (f"　对象：{d['case']}" if d["case"] else ""))
    cli.out.print(f"期间：{period_label(d['period'])}（{d['period_start']} 至 {d['period_end']}）　"
                  f"截止：{_due_text(d['due'])}　进度：{d['done']}/{d['required']}　状态：{STATUS_NAMES[d['status']]}")
    for c in d["completions"]:
        cli.out.print(f"  · {c['done_on']} {c['actor']}（{c['channel']}）完成 {c['count']} 次"
                      + (f"：{c['note']}" if c["note"] else "") + (f"　材料：{c['evidence']}" if c["evidence"] else ""))


@cases_app.command("import")
def cases_import(ledger: Path = typer.Argument(..., help="台账 xlsx 文件 / ledger .xlsx")):
    """导入重点关爱服务对象台账（任何一行有误则全部不导入）/ import the ledger (all or nothing)."""
    with Session(engine()) as session, session.begin():
        report = cases_repo.import_ledger(session, ledger)
    cli.out.print(f"已导入 {ledger}：新增 {report.added} 人，更新 {report.updated} 人，无变化 {report.unchanged} 人。"
                  "运行 duban materialize 生成对应的走访、联系事项。")


@cases_app.command("export")
def cases_export(ledger: Path = typer.Argument(..., help="输出 xlsx 文件 / output .xlsx")):
    """按导入格式导出台账 / export the ledger in the import layout."""
    with Session(engine()) as session:
        n = cases_repo.export_ledger(session, ledger)
    cli.out.print(f"已导出 {n} 人到 {ledger}")


@cases_app.command("list")
def cases_list(format: ListFormat = FormatOption):
    """列出重点关爱服务对象（仅化名编号）/ list cases."""
    with Session(engine()) as session:
        rows = cases_repo.list_cases(session)
    if format == ListFormat.json:
        emit_json(rows)
        return
    t = Table(title=f"重点关爱服务对象（{len(rows)} 人）", title_justify="left")
    for col in ("编号", "所在地", "风险类别", "儿童主任", "建档", "结案"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["code"], r["jurisdiction"], "、".join(r["categories"]), r["director"] or "—", r["opened"],
                  r["closed"] or "—")
    cli.out.print(t)
