"""`duban due`, `overdue`, `status`, `duban occurrences`, `duban cases`: the occurrences and
key-child cases, as listings."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from flows.cli.context import CliContext, TodayOption, cli, parse_date
from flows.cli.output import Column, FormatOption, ListFormat, col, dash, emit_json, print_listing
from obligations.periods import parse_period
from obligations.words import REVIEW_NAMES, STATUS_NAMES, clause_label, days_left, period_label, short_title, weekday
from storage import cases as cases_repo
from storage import occurrences as occ
from storage import workflow

app = typer.Typer()   # due, overdue, status: at the top level
cases_app = typer.Typer(help="重点关爱服务对象台账 / key-child cases", no_args_is_help=True)
occurrences_app = typer.Typer(help="督办事项 / occurrences", no_args_is_help=True)
# the review of completions (办结审核): a completion that brings an item to its required count
# awaits a coordinator (待审核) unless its plan or obligation says ``completion_review: none``;
# accepting makes it done on time or late by its judged day, returning (with a reason) opens it again
review_app = typer.Typer(help="办结审核 / review of completions", no_args_is_help=True)

STATUS_STYLE = {"overdue": "red", "due_soon": "yellow", "done_late": "magenta", "done": "green", "waived": "dim",
                "submitted": "cyan"}

DepartmentOption = typer.Option(None, "--department", help="部门名称或键，如 教育局、education / department name or key")
JurisdictionOption = typer.Option(None, "--jurisdiction", help="行政区划名称或代码（含下级）/ unit and below")
LimitOption = typer.Option(0, "--limit", min=0, help="最多显示条数，默认全部 / max rows (default: all)")


def _due_text(iso: str) -> str:
    d = dt.date.fromisoformat(iso)
    return f"{iso}（{weekday(d)}）"


def progress_text(r: dict) -> str:
    """The latest progress report (进度反馈) of a listed item: 60%（2025-06-25）, or —."""
    p = r.get("progress")
    return f"{p['percent']}%\n{p['on']}" if p else "—"


def _occurrence_columns(today: dt.date) -> list[Column]:
    def who(r: dict) -> str:
        return f"{r['jurisdiction']}\n{r['assignee_name']}" + (f"\n对象 {r['case']}" if r["case"] else "")

    def state(r: dict) -> str:
        text = STATUS_NAMES[r["status"]]
        due = dt.date.fromisoformat(r["due"])
        if r["status"] == "overdue":
            text += f"\n{(today - due).days} 天"
        elif r["status"] in ("open", "due_soon"):
            text = days_left(due, today) if due == today else f"{text}\n{days_left(due, today)}"
        style = STATUS_STYLE.get(r["status"])
        return f"[{style}]{text}[/{style}]" if style else text

    # each name on its own line inside a cell, so that a narrow terminal breaks between names
    # rather than inside them; only the item's text wraps freely
    return [col("编号", "id", no_wrap=True),
            col("事项", lambda r: f"{short_title(r['plan_title'])} {clause_label(r['clause'])}\n{r['what']}",
                ratio=1, min_width=14, overflow="fold"),
            col("责任单位", who, overflow="fold"),
            col("截止日期", lambda r: f"{r['due']} {weekday(dt.date.fromisoformat(r['due']))}\n"
                f"{period_label(r['period'])}" + (f"\n原定 {r['original_due']}" if r.get("original_due") else ""), min_width=15, overflow="fold"),
            col("进度", lambda r: f"{r['done']}/{r['required']}", no_wrap=True),
            col("状态", state, min_width=8, no_wrap=True),
            col("最新进度", progress_text, no_wrap=True)]


def _list(run: CliContext, title: str, today: Optional[str], format: ListFormat, limit: int, **filters) -> None:
    """Every matching item, unless ``limit`` asks for fewer; a cut listing says so (for JSON on
    stderr, so the document stays a plain list). A long table goes through the terminal's pager."""
    s = run.settings
    now = run.today(today)
    with run.session() as session:
        rows = occ.list_occurrences(session, today=now, soon_days=s.due_soon_days, limit=limit or None, **filters)
        total = occ.count_occurrences(session, today=now, soon_days=s.due_soon_days, **filters) \
            if limit and len(rows) == limit else len(rows)
    cut = total > len(rows)
    if cut:
        note = f"仅显示前 {limit} 项，共 {total} 项；去掉 --limit 显示全部。"
        if format == ListFormat.json:
            typer.echo(note, err=True)
    heading = f"{title}（共 {total} 项，截至 {now}）"
    print_listing(run.out, format, rows, _occurrence_columns(now), title=heading, title_justify="left",
                  empty=f"{title}：无", footer=note if cut else None, page=True, expand=True)


@app.command("due")
def due_cmd(ctx: typer.Context, department: Optional[str] = DepartmentOption,
            jurisdiction: Optional[str] = JurisdictionOption,
            within: str = typer.Option("7d", "--within", help="多少天内到期，如 7d / due within"),
            plan: Optional[str] = typer.Option(None, "--plan"), today: Optional[str] = TodayOption,
            format: ListFormat = FormatOption, limit: int = LimitOption):
    """即将到期的未办事项 / open items due soon."""
    try:
        days = int(within.lower().removesuffix("d"))
    except ValueError:
        raise typer.BadParameter(f"{within!r} 应为天数，如 7d", param_hint="--within") from None
    run = cli(ctx)
    now = run.today(today)
    _list(run, f"{days} 天内到期的事项", today, format, limit, plan=plan, department=department,
          jurisdiction=jurisdiction, date_from=now, date_to=now + dt.timedelta(days=days),
          statuses=("open", "due_soon"))


@app.command("overdue")
def overdue_cmd(ctx: typer.Context, department: Optional[str] = DepartmentOption,
                jurisdiction: Optional[str] = JurisdictionOption,
                plan: Optional[str] = typer.Option(None, "--plan"), today: Optional[str] = TodayOption,
                format: ListFormat = FormatOption, limit: int = LimitOption):
    """逾期未办事项 / overdue items."""
    _list(cli(ctx), "逾期未办事项", today, format, limit, plan=plan, department=department,
          jurisdiction=jurisdiction, statuses=("overdue",))


@app.command("status")
def status_cmd(ctx: typer.Context, plan: Optional[str] = typer.Option(None, "--plan"),
               period: Optional[str] = typer.Option(None, "--period", help="2025、2025H1、2025Q3、2025-03 或 起..止"),
               jurisdiction: Optional[str] = JurisdictionOption, today: Optional[str] = TodayOption,
               format: ListFormat = FormatOption):
    """按部门统计各状态事项数和按期完成率 / counts per department and status."""
    run = cli(ctx)
    s = run.settings
    now = run.today(today)
    start, end = parse_period(period) if period else (None, None)
    with run.session() as session:
        rows = occ.status_summary(session, today=now, soon_days=s.due_soon_days, plan=plan, start=start, end=end,
                                  jurisdiction=jurisdiction)
    scope = f"{plan or '全部计划'}，{period or '全部期间'}" + (f"，{jurisdiction}" if jurisdiction else "")
    counts = [col(name, key, justify="right", min_width=2 * len(name), no_wrap=True)
              for key, name in zip(STATUS_NAMES, ("未到期", "将到期", "逾期", "按期办结", "逾期办结", "豁免", "待审核"),
                                   strict=True)]
    print_listing(run.out, format, rows, [
        col("部门", "name", min_width=12, max_width=18, overflow="fold"), *counts,
        col("合计", "total", justify="right", min_width=4, no_wrap=True),
        col("按期率", lambda r: "—" if r["on_time_rate"] is None else f"{r['on_time_rate'] * 100:.1f}%",
            justify="right", min_width=6, no_wrap=True),
    ], title=f"完成情况（{scope}，截至 {now}）", title_justify="left",
        footer="按期率 = 按期办结 ÷（按期办结 + 逾期办结 + 逾期未办）；逾期 = 逾期未办。")


@occurrences_app.command("list")
def occurrences_list(ctx: typer.Context, plan: Optional[str] = typer.Option(None, "--plan"),
                     department: Optional[str] = DepartmentOption,
                     jurisdiction: Optional[str] = JurisdictionOption,
                     from_: Optional[str] = typer.Option(None, "--from", help="截止日期不早于 / due on or after"),
                     to: Optional[str] = typer.Option(None, "--to", help="截止日期不晚于 / due on or before"),
                     case: Optional[str] = typer.Option(None, "--case", help="对象编号 / case code"),
                     flagged: bool = typer.Option(False, "--flagged",
                                                  help="只列出有补登待核办理记录的事项（办理日期早于登记日期超过宽限）"
                                                       " / only items with a completion flagged as entered late"),
                     today: Optional[str] = TodayOption, format: ListFormat = FormatOption, limit: int = LimitOption):
    """列出督办事项 / list occurrences."""
    _list(cli(ctx), "补登待核的督办事项" if flagged else "督办事项", today, format, limit, plan=plan,
          department=department, jurisdiction=jurisdiction, date_from=parse_date(from_, "--from"),
          date_to=parse_date(to, "--to"), case=case, flagged=flagged)


@occurrences_app.command("show")
def occurrences_show(ctx: typer.Context, occurrence: int = typer.Argument(...), today: Optional[str] = TodayOption,
                     format: ListFormat = FormatOption):
    """一个督办事项及其完成记录 / one occurrence with its completions."""
    run = cli(ctx)
    s = run.settings
    with run.session() as session:
        d = occ.occurrence_detail(session, occurrence, today=run.today(today), soon_days=s.due_soon_days)
    if format == ListFormat.json:
        emit_json(d)
        return
    out = run.out
    out.print(f"事项 {d['id']}：{d['plan']} {clause_label(d['clause'])} {d['clause_title'] or ''} — {d['obligation']} {d['what']}")
    out.print(f"责任单位：{d['jurisdiction']}·{d['assignee_name']}" + (f"　对象：{d['case']}" if d["case"] else ""))
    out.print(f"期间：{period_label(d['period'])}（{d['period_start']} 至 {d['period_end']}）　"
              f"截止：{_due_text(d['due'])}"
              + (f"（原截止 {d['original_due']}，已批准延期）" if d["original_due"] else "")
              + f"　进度：{d['done']}/{d['required']}　状态：{STATUS_NAMES[d['status']]}")
    for c in d["completions"]:
        out.print(f"  · {c['done_on']} {c['actor']}（{c['channel']}）完成 {c['count']} 次，登记于 {c['recorded_at']}"
                  + (f"　[yellow]补登待核：按登记日期 {c['judged_on']} 判定[/yellow]" if c["flagged"] else "")
                  + (f"：{c['note']}" if c["note"] else "") + (f"　材料：{c['evidence']}" if c["evidence"] else "")
                  + (f"　[red]{REVIEW_NAMES['returned']}（{c['returned_by']}，{c['returned_at']}）：{c['return_reason']}[/red]"
                     if c["returned_at"] else ""))


@cases_app.command("import")
def cases_import(ctx: typer.Context, ledger: Path = typer.Argument(..., help="台账 xlsx 文件 / ledger .xlsx")):
    """导入重点关爱服务对象台账（任何一行有误则全部不导入）/ import the ledger (all or nothing)."""
    run = cli(ctx)
    with run.session() as session, session.begin():
        report = cases_repo.import_ledger(session, ledger, run.settings.cases.code_pattern)
    run.out.print(f"已导入 {ledger}：新增 {report.added} 人，更新 {report.updated} 人，无变化 {report.unchanged} 人。"
                  "运行 duban materialize 生成对应的走访、联系事项。")


@cases_app.command("export")
def cases_export(ctx: typer.Context, ledger: Path = typer.Argument(..., help="输出 xlsx 文件 / output .xlsx")):
    """按导入格式导出台账 / export the ledger in the import layout."""
    run = cli(ctx)
    with run.session() as session:
        n = cases_repo.export_ledger(session, ledger)
    run.out.print(f"已导出 {n} 人到 {ledger}")


@cases_app.command("list")
def cases_list(ctx: typer.Context, format: ListFormat = FormatOption):
    """列出重点关爱服务对象（仅化名编号）/ list cases."""
    run = cli(ctx)
    with run.session() as session:
        rows = cases_repo.list_cases(session)
    print_listing(run.out, format, rows, [
        col("编号", "code"), col("所在地", "jurisdiction"), col("风险类别", lambda r: "、".join(r["categories"])),
        col("儿童主任", lambda r: dash(r["director"])), col("建档", "opened"), col("结案", lambda r: dash(r["closed"])),
    ], title=f"重点关爱服务对象（{len(rows)} 人）", title_justify="left")



@review_app.command("list")
def review_list(ctx: typer.Context, plan: Optional[str] = typer.Option(None, "--plan"),
                department: Optional[str] = DepartmentOption, jurisdiction: Optional[str] = JurisdictionOption,
                from_: Optional[str] = typer.Option(None, "--from", help="截止日期不早于 / due on or after"),
                to: Optional[str] = typer.Option(None, "--to", help="截止日期不晚于 / due on or before"),
                today: Optional[str] = TodayOption, format: ListFormat = FormatOption, limit: int = LimitOption):
    """待审核的办结情况 / completions awaiting review."""
    _list(cli(ctx), "待审核的督办事项", today, format, limit, plan=plan, department=department,
          jurisdiction=jurisdiction, date_from=parse_date(from_, "--from"), date_to=parse_date(to, "--to"),
          statuses=("submitted",))


@review_app.command("accept")
def review_accept(ctx: typer.Context, occurrences: list[int] = typer.Argument(..., help="督办事项编号（可多个）"),
                  note: Optional[str] = typer.Option(None, "--note", help="审核意见 / note"),
                  by: str = typer.Option("命令行用户", "--by", help="审核人 / who"),
                  anyway: bool = typer.Option(False, "--anyway",
                                              help="协办部门未全部确认也通过（须填 --note）/ accept without all co-department confirmations"),
                  format: ListFormat = FormatOption):
    """审核通过（可批量）：按登记的办结日期判定按期或逾期办结 / accept completions."""
    run = cli(ctx)
    s = run.settings
    with run.session() as session, session.begin():
        workflow.accept(session, list(occurrences), by=workflow.Actor(by, "cli"), note=note, anyway=anyway)
    with run.session() as session:
        details = [occ.occurrence_detail(session, i, today=s.today(), soon_days=s.due_soon_days) for i in occurrences]
    if format == ListFormat.json:
        emit_json(details)
        return
    for d in details:
        run.out.print(f"已审核通过：事项 {d['id']}（{d['what']}，{d['jurisdiction']}·{d['assignee_name']}），"
                      f"办结日期 {d['completed_on']}，状态：{STATUS_NAMES[d['status']]}", soft_wrap=True)


@review_app.command("return")
def review_return(ctx: typer.Context, occurrence: int = typer.Argument(..., help="督办事项编号"),
                  reason: str = typer.Option(..., "--reason", help="退回理由（必填）/ reason"),
                  by: str = typer.Option("命令行用户", "--by", help="审核人 / who"),
                  format: ListFormat = FormatOption):
    """退回（须说明理由）：事项重新打开，责任单位在下一份通知中看到理由 / return a completion."""
    run = cli(ctx)
    s = run.settings
    with run.session() as session, session.begin():
        workflow.return_(session, occurrence, by=workflow.Actor(by, "cli"), reason=reason)
    with run.session() as session:
        d = occ.occurrence_detail(session, occurrence, today=s.today(), soon_days=s.due_soon_days)
    if format == ListFormat.json:
        emit_json(d)
        return
    run.out.print(f"已退回：事项 {occurrence}（{d['what']}，{d['jurisdiction']}·{d['assignee_name']}），"
                  f"理由：{d['return_reason']}；进度退回至 {d['done']}/{d['required']}，"
                  f"状态：{STATUS_NAMES[d['status']]}。责任单位将在下一份督办通知中收到退回理由。", soft_wrap=True)
