"""`duban report` and `duban report-template`: inspection reports (督查通报)."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from flows.cli.context import cli, parse_date
from obligations.periods import parse_period
from obligations.words import period_words
from reports import render
from reports import service as reports
from storage.report_issues import issue_text, parse_cc

app = typer.Typer()   # its commands sit at the top level


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    period: str = typer.Option(..., "--period", help="期间：2025、2025H1、2025Q3、2025-03 或 2025-01-01..2025-06-30 / period"),
    plan: Optional[str] = typer.Option(None, "--plan", help="计划编号（默认全部计划）/ plan id"),
    jurisdiction: Optional[str] = typer.Option(None, "--jurisdiction", help="地区名称或区划代码（默认全部）/ unit"),
    own_only: bool = typer.Option(False, "--own-only", help="只统计该地区本级，不含下级 / this unit only"),
    fmt: Optional[str] = typer.Option(None, "--format", help="html | pdf | xlsx | docx | json（默认按 -o 的扩展名，否则 pdf）"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="输出文件（默认写入数据目录 reports/）/ output file"),
    today: Optional[str] = typer.Option(None, "--today", help="办理状态截至此日（默认今天）/ status as of"),
    number: Optional[str] = typer.Option(None, "--number", help="文号，如 平民督〔2025〕3号（默认 config.yaml 的 report.number）/ document number"),
    issue_no: Optional[int] = typer.Option(None, "--issue", help="期号（默认按发文单位和年份顺延）/ issue number"),
    cc: Optional[str] = typer.Option(None, "--cc", help="抄送单位，以顿号分隔（默认 report.cc）/ copies to"),
    issued_on: Optional[str] = typer.Option(None, "--issued-on", help="印发日期（默认状态截至日）/ date of issue"),
    by: str = typer.Option("命令行用户", "--by", help="印发人 / who issues"),
    draft: bool = typer.Option(False, "--draft", help="草稿：不编期号、不登记印发 / draft, no number"),
    unit_sheets: bool = typer.Option(False, "--unit-sheets", help="Excel 中按地区层级各加一张工作表 / a sheet per unit level"),
):
    """生成督查通报：各部门、各条款、各地的按期办结情况，逾期事项，关爱覆盖和与上期对比 / inspection report."""
    fmt = (fmt or (output.suffix.lstrip(".").lower() if output and output.suffix else "pdf")).lower()
    if fmt not in (*render.FORMATS, "json"):
        raise typer.BadParameter(f"未知的格式 {fmt}（可用：html、pdf、xlsx、docx、json）", param_hint="--format")
    run = cli(ctx)
    start, end = parse_period(period)
    day = run.today(today)
    s = run.settings
    started = time.perf_counter()
    data = reports.report_data(run.engine, s, reports.ReportRequest(start, end, day, plan, jurisdiction, not own_only),
                               every_overdue=fmt in ("xlsx", "json"), levels=unit_sheets and fmt == "xlsx")
    path = output or s.data_dir / "reports" / reports.default_name(data, fmt)
    if fmt == "json":
        render.write_json(data, path)
    else:
        opts = replace(reports.options(s, number=number), unit_sheets=unit_sheets,
                       issued_on=parse_date(issued_on, "--issued-on"))
        if not draft:
            with run.session() as session, session.begin():
                opts = reports.issue(session, data, opts, actor=by, issue_no=issue_no,
                                     cc=parse_cc(cc) if cc is not None else None)
        render.write(data, fmt, path, opts)
    t = data.totals
    rate = "—" if t["on_time_rate"] is None else f"{t['on_time_rate'] * 100:.1f}%"
    run.out.print(f"{period_words(start, end)}（{data.jurisdiction or '全部地区'}，{data.plan_title}）：应办 {t['total']:,} 项，"
                  f"按期办结 {t['done']:,}，逾期办结 {t['done_late']:,}，逾期未办 {t['overdue']:,}，按期办结率 {rate}。")
    if fmt != "json" and opts.issue_no:
        run.out.print(f"期号：{issue_text(opts.series, opts.issued_on.year, opts.issue_no)}")
    run.out.print(f"已生成 {fmt.upper()}：{path}（用时 {time.perf_counter() - started:.1f} 秒）", soft_wrap=True)


@app.command("report-template")
def report_template_cmd(ctx: typer.Context,
                        output: Path = typer.Option(..., "-o", "--output", help="写出的 Word 模板 / output .docx")):
    """写出督查通报的默认 Word 模板，供修改后在 config.yaml 的 report.docx_template 中使用 / default DOCX template."""
    from reports.docx import TEMPLATE_FIELDS, write_template

    write_template(output)
    out = cli(ctx).out
    out.print(f"已写出模板：{output}")
    out.print("可在 Word 中修改版式和文字；{{ … }} 与 {%tr … %}、{%p … %} 为数据占位，请保留。可用字段："
              + "、".join(TEMPLATE_FIELDS.split()), soft_wrap=True)
