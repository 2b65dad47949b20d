"""`duban` commands that run the service: demo, up, run."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows import cli
from flows.cli import app, settings
from flows.prefect_env import configure_prefect

FLOW_NAMES = ("sync_plans", "materialize", "sweep", "deliver", "report")


@app.command("demo")
def demo_cmd(dir: Path = typer.Option(Path("demo"), "--dir", help="演示数据目录 / folder for the demo"),
             seed: int = typer.Option(7, "--seed", help="随机种子，同一种子结果相同 / seed")):
    """演示：在新目录中加载计划、登记示例对象，模拟 2025 全年的办理、提醒、催办和督办 / simulate a year."""
    started = time.perf_counter()
    folder = dir.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    configure_prefect(folder)
    import warnings

    from flows import demo
    from flows.simulation import YEAR_END, YEAR_START, demo_settings, summary
    from obligations.workcal import UnknownYearWarning

    warnings.simplefilter("ignore", UnknownYearWarning)
    cli.out.print(f"演示目录：{folder}（SQLite 数据库、通知、报告均写在此处）")
    cli.out.print("正在启动 Prefect（首次约需十余秒）……")
    with Progress(TextColumn("模拟 {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} 天"),
                  TimeElapsedColumn(), console=cli.out, transient=False) as progress:
        bar = progress.add_task(str(YEAR_START), total=(YEAR_END - YEAR_START).days + 1)

        def tick(day: dt.date) -> None:
            progress.update(bar, advance=1, description=str(day))

        demo.on_day = tick
        try:
            totals = demo.demo_flow(folder=str(folder), seed=seed, config=cli._state.get("config"))
        finally:
            demo.on_day = None
    world_settings = demo_settings(settings(), folder)
    result = summary(world_settings)
    report_paths, report_error = _demo_reports(world_settings, folder / "reports")
    cli.out.print(f"\n模拟 2025 年全年：督办事项 {result['occurrences']} 项，重点关爱对象 {result['cases']} 人，"
                  f"登记完成 {totals['completions']} 次，发送通知 {totals['sent']} 份。")
    t = Table(title="各部门按期完成率（2025 年，截至 12 月 31 日）", title_justify="left")
    t.add_column("部门", min_width=12, max_width=18, overflow="fold")
    for col in ("应办", "按期办结", "逾期办结", "逾期未办", "按期率"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in sorted(result["departments"], key=lambda r: -(r["total"])):
        rate = "—" if r["on_time_rate"] is None else f"{r['on_time_rate'] * 100:.1f}%"
        t.add_row(r["name"], str(r["total"]), str(r["done"]), str(r["done_late"]), str(r["overdue"]), rate)
    cli.out.print(t)
    from obligations.notify import KIND_NAMES

    cli.out.print("通知：" + "，".join(f"{KIND_NAMES[k]} {n} 项" for k, n in sorted(result["notices"].items()))
                  + f"；汇总发送 {result['outbox'].get('sent', 0)} 份。")
    cli.out.print(f"通知邮件（.eml）：{folder / 'outbox'}")
    if report_paths:
        cli.out.print("2025 年度督查通报：" + "、".join(str(p) for p in report_paths), soft_wrap=True)
    config_path, accounts = _demo_web(world_settings, folder)
    if report_error:
        cli.out.print(f"[yellow]{report_error}[/yellow]", soft_wrap=True)
    cli.out.print(f"数据库：{folder / 'duban.db'}；查询用 duban --config {config_path} …（以 2025-12-31 为今天）",
                  soft_wrap=True)
    if accounts:
        cli.out.print(f"网页：duban --config {config_path} up，然后打开 http://127.0.0.1:8000/ 登录，密码均为 "
                      f"{DEMO_PASSWORD}：" + "；".join(f"{name}（{what}）" for name, what in accounts), soft_wrap=True)
    cli.out.print(f"用时 {time.perf_counter() - started:.0f} 秒。")


def _demo_reports(s, folder: Path) -> tuple[list[Path], str | None]:
    """The year's inspection report in every format; without the PDF font, the other three and
    the reason."""
    from reports import service as reports
    from reports.pdf import ReportFontError
    from flows.simulation import YEAR_END, YEAR_START
    from storage.db import make_engine

    engine = make_engine(s.database_url)
    try:
        data = reports.report_data(engine, s, reports.ReportRequest(YEAR_START, YEAR_END, YEAR_END))
    finally:
        engine.dispose()
    paths, error = [], None
    for fmt in ("pdf", "html", "xlsx", "docx"):
        try:
            paths.append(reports.render.write(data, fmt, folder / reports.default_name(data, fmt), reports.options(s)))
        except ReportFontError as exc:
            error = f"未生成 PDF：{exc}"
    return paths, error


DEMO_PASSWORD = "duban-demo"


def _demo_web(s, folder: Path) -> tuple[Path, list[tuple[str, str]]]:
    """A config.yaml for the demo folder (its database, as of 2025-12-31) and sample accounts,
    so that `duban --config demo/config.yaml up` shows the simulated year in the browser."""
    import yaml
    from sqlalchemy import func, select
    from sqlmodel import Session

    from storage.accounts import add_user
    from storage.db import make_engine
    from storage.files import config_document
    from storage.tables import Department, Jurisdiction, Occurrence, UserAccount

    raw = config_document(s)
    raw.update(database=f"sqlite:///{folder / 'duban.db'}", data_dir=str(folder), directory=str(s.directory_path),
               plans=[str(p) for p in s.plan_dirs])
    raw["schedule"]["as_of"] = "2025-12-31"
    path = folder / "config.yaml"
    path.write_text("# duban demo: the simulated year 2025, seen as of 2025-12-31\n"
                    + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    engine = make_engine(s.database_url)
    accounts = []
    try:
        with Session(engine) as session:
            if session.scalar(select(func.count()).select_from(UserAccount)):
                return path, []
            province = session.scalar(select(Jurisdiction).where(Jurisdiction.name == "福建省"))
            unit_id, dept = session.execute(
                select(Occurrence.jurisdiction_id, Occurrence.party_key).where(Occurrence.party_key == "education")
                .group_by(Occurrence.jurisdiction_id, Occurrence.party_key)
                .order_by(func.count().desc(), Occurrence.jurisdiction_id)).first()
            unit = session.get(Jurisdiction, unit_id)
            dept_name = session.get(Department, dept).name
            for name, role, where, extra, what in (
                    ("minzheng", "coordinator", province.name, {}, f"{province.name}民政厅协调员"),
                    ("ducha", "supervisor", province.name, {}, f"{province.name}督查室"),
                    ("jiaoyu", "department", unit.code, {"department": dept}, f"{unit.name}{dept_name}")):
                add_user(session, username=name, password=DEMO_PASSWORD, role=role, jurisdiction=where,
                         display_name=what, actor="demo", **extra)
                accounts.append((name, what))
            session.commit()
    finally:
        engine.dispose()
    return path, accounts


@app.command("up")
def up_cmd(host: str = typer.Option("127.0.0.1", "--host", help="网页监听地址 / web host"),
           port: int = typer.Option(8000, "--port", help="网页端口 / web port"),
           no_web: bool = typer.Option(False, "--no-web", help="只运行定时任务，不提供网页 / scheduler only")):
    """启动督办服务：按 config.yaml 的时间表生成事项、发送通知，并在 127.0.0.1:8000 提供网页 / run the service."""
    s = settings()
    configure_prefect(s.data_dir)
    cli.engine()   # migrate before the scheduler starts
    from flows.runner import up

    up(s, cli._state.get("config"), host=host, port=None if no_web else port)


@app.command("run")
def run_cmd(flow: str = typer.Argument(..., help="sync_plans | materialize | sweep | deliver | report"),
            today: Optional[str] = typer.Option(None, "--today", help="按此日期运行 / run as of this date")):
    """立即运行一个 Prefect 流程 / run one flow now."""
    if flow not in FLOW_NAMES:
        raise typer.BadParameter(f"未知的流程 {flow}（可用：{'、'.join(FLOW_NAMES)}）", param_hint="FLOW")
    s = settings()
    configure_prefect(s.data_dir)
    from flows import pipeline

    day = today or s.today().isoformat()
    config = cli._state.get("config")
    if flow == "deliver":
        result = pipeline.deliver(at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), config=config)
    else:
        result = pipeline.FLOWS[flow](day=day, config=config)
    cli.out.print(f"{flow}：{result}")


@app.command("deploy")
def deploy_cmd(pool: str = typer.Option("duban", "--pool", help="Prefect 进程型工作池名称 / process work pool")):
    """在 Prefect 服务器（PREFECT_API_URL）上注册定时流程，由多台机器上的 worker 分担 / register deployments."""
    import os

    if not os.environ.get("PREFECT_API_URL"):
        raise typer.BadParameter("请先设置 PREFECT_API_URL 指向 Prefect 服务器（如 http://127.0.0.1:4200/api）",
                                 param_hint="PREFECT_API_URL")
    s = settings()
    configure_prefect(s.data_dir)
    from flows.deploy import deploy

    rows = deploy(s, pool=pool, config=cli._state.get("config"))
    head, rest = rows[0], rows[1:]
    cli.out.print(f"工作池 {head['pool']}：{'已创建（进程型）' if head['pool_created'] else '已存在'}")
    for r in rest:
        cli.out.print(f"  {r['deployment']}：{r['schedule']}")
    cli.out.print(f"在每台机器上启动 worker：prefect worker start --pool {pool}"
                  "（与本机相同的 DUBAN_DATABASE_URL、DUBAN_CONFIG、DUBAN_SMTP_URL 环境变量）")
