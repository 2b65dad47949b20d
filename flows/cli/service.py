"""`duban demo`, `up`, `run`, `deploy`: the commands that run the service."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from flows.cli.context import cli
from flows.cli.output import ListFormat, col, print_listing
from flows.prefect_env import configure_prefect

app = typer.Typer()   # its commands sit at the top level

FLOW_NAMES = ("sync_plans", "materialize", "sweep", "deliver", "report")
DEMO_PASSWORD = "duban-demo"


@app.command("demo")
def demo_cmd(ctx: typer.Context, dir: Path = typer.Option(Path("demo"), "--dir", help="演示数据目录 / folder for the demo"),
             seed: int = typer.Option(7, "--seed", help="随机种子，同一种子结果相同 / seed")):
    """演示：在新目录中加载计划、登记示例对象，模拟 2025 全年的办理、提醒、催办和督办 / simulate a year."""
    run = cli(ctx)
    out = run.out
    started = time.perf_counter()
    folder = dir.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    configure_prefect(folder)   # before Prefect is imported
    import warnings

    from flows import demo
    from flows.simulation import YEAR_END, YEAR_START, demo_settings, summary
    from obligations.words import NOTICE_KIND_NAMES
    from obligations.workcal import UnknownYearWarning

    warnings.simplefilter("ignore", UnknownYearWarning)
    out.print(f"演示目录：{folder}（SQLite 数据库、通知、报告均写在此处）")
    out.print("正在启动 Prefect（首次约需十余秒）……")
    with Progress(TextColumn("模拟 {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} 天"),
                  TimeElapsedColumn(), console=out, transient=False) as progress:
        bar = progress.add_task(str(YEAR_START), total=(YEAR_END - YEAR_START).days + 1)

        def tick(day: dt.date) -> None:
            progress.update(bar, advance=1, description=str(day))

        demo.on_day = tick
        try:
            # the demo's database is new: its first step (flows.simulation.prepare) migrates it once
            totals = demo.demo_flow(folder=str(folder), seed=seed, config=run.config)
        finally:
            demo.on_day = None
    world_settings = demo_settings(run.settings, folder)
    result = summary(world_settings)
    report_paths, report_error, ranking = _demo_reports(world_settings, folder / "reports")
    out.print(f"\n模拟 2025 年全年：督办事项 {result['occurrences']} 项，重点关爱对象 {result['cases']} 人，"
              f"登记完成 {totals['completions']} 次（其中补登待核 {result['flagged']} 次，按登记日期判定），"
              f"协调员审核通过 {totals.get('accepted', 0)} 项、退回 {result['returned']} 次，"
              f"发送通知 {totals['sent']} 份。")
    print_listing(out, ListFormat.table, sorted(result["departments"], key=lambda r: -(r["total"])), [
        col("部门", "name", min_width=12, max_width=18, overflow="fold"),
        col("应办", "total", justify="right", no_wrap=True), col("按期办结", "done", justify="right", no_wrap=True),
        col("逾期办结", "done_late", justify="right", no_wrap=True),
        col("逾期未办", "overdue", justify="right", no_wrap=True),
        col("待审核", "submitted", justify="right", no_wrap=True),
        col("按期率", lambda r: "—" if r["on_time_rate"] is None else f"{r['on_time_rate'] * 100:.1f}%",
            justify="right", no_wrap=True),
    ], title="各部门按期完成率（2025 年，截至 12 月 31 日）", title_justify="left")
    out.print(ranking, soft_wrap=True)
    out.print("通知：" + "，".join(f"{NOTICE_KIND_NAMES[k]} {n} 项" for k, n in sorted(result["notices"].items()))
              + f"；汇总发送 {result['outbox'].get('sent', 0)} 份。")
    out.print(f"交办任务 {result['assignments']} 项（督办事项 {result['assigned_items']} 项，在通报中单列为“交办任务”）；"
              f"协调员催办 {result['notices'].get('urge', 0)} 项次。")
    out.print(f"进度反馈 {result.get('progress_reports', 0)} 条（长期事项在反馈日报送）；"
              f"进度反馈提醒 {result['notices'].get('feedback', 0)} 项次。")
    from obligations.channels import CHANNEL_NAMES

    by_channel = result.get("channels") or {}
    out.print("送达渠道：" + "，".join(f"{CHANNEL_NAMES.get(c, c)} {by_channel[c]} 份" for c in
                                   ("email", "dingtalk", "wecom", "sms") if by_channel.get(c))
              + "（演示中未设密钥的渠道，其请求写为 .json 文件）")
    out.print(f"通知邮件（.eml）及钉钉、企业微信、短信请求（.json）：{folder / 'outbox'}")
    if report_paths:
        out.print("2025 年度督查通报：" + "、".join(str(p) for p in report_paths), soft_wrap=True)
    config_path, accounts = _demo_web(world_settings, folder)
    if report_error:
        out.print(f"[yellow]{report_error}[/yellow]", soft_wrap=True)
    out.print(f"数据库：{folder / 'duban.db'}；查询用 duban --config {config_path} …（以 2025-12-31 为今天）",
              soft_wrap=True)
    if accounts:
        out.print(f"网页：duban --config {config_path} up，然后打开 http://127.0.0.1:8000/ 登录，密码均为 "
                  f"{DEMO_PASSWORD}：" + "；".join(f"{name}（{what}）" for name, what in accounts), soft_wrap=True)
    out.print(f"用时 {time.perf_counter() - started:.0f} 秒。")


def _demo_reports(s, folder: Path) -> tuple[list[Path], str | None, str]:
    """The year's inspection report in every format; without the PDF font, the other three and
    the reason; and the top of its 考核评分 in a line."""
    from flows.simulation import YEAR_END, YEAR_START
    from reports import service as reports
    from reports.pdf import ReportFontError
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
    from flows.demo import ranking_text

    return paths, error, ranking_text(data)


def _demo_web(s, folder: Path) -> tuple[Path, list[tuple[str, str]]]:
    """A config.yaml for the demo folder (its database, as of 2025-12-31) and sample accounts,
    so that `duban --config demo/config.yaml up` shows the simulated year in the browser."""
    import yaml
    from sqlmodel import Session

    from storage.accounts import add_sample_accounts
    from storage.db import make_engine
    from storage.files import config_document

    raw = config_document(s)
    raw.update(database=f"sqlite:///{folder / 'duban.db'}", data_dir=str(folder), directory=str(s.directory_path),
               plans=[str(p) for p in s.plan_dirs])
    raw["schedule"]["as_of"] = "2025-12-31"
    path = folder / "config.yaml"
    path.write_text("# duban demo: the simulated year 2025, seen as of 2025-12-31\n"
                    + yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    engine = make_engine(s.database_url)
    try:
        with Session(engine) as session, session.begin():
            accounts = add_sample_accounts(session, DEMO_PASSWORD)
    finally:
        engine.dispose()
    return path, accounts


@app.command("up")
def up_cmd(ctx: typer.Context, host: str = typer.Option("127.0.0.1", "--host", help="网页监听地址 / web host"),
           port: int = typer.Option(8000, "--port", help="网页端口 / web port"),
           no_web: bool = typer.Option(False, "--no-web", help="只运行定时任务，不提供网页 / scheduler only")):
    """启动督办服务：按 config.yaml 的时间表生成事项、发送通知，并在 127.0.0.1:8000 提供网页 / run the service."""
    run = cli(ctx)
    s = run.settings
    configure_prefect(s.data_dir)
    run.upgrade()   # migrate once, before the scheduler starts
    from flows.runner import up

    up(s, run.config, host=host, port=None if no_web else port)


@app.command("run")
def run_cmd(ctx: typer.Context, flow: str = typer.Argument(..., help="sync_plans | materialize | sweep | deliver | report"),
            today: Optional[str] = typer.Option(None, "--today", help="按此日期运行 / run as of this date")):
    """立即运行一个 Prefect 流程 / run one flow now."""
    if flow not in FLOW_NAMES:
        raise typer.BadParameter(f"未知的流程 {flow}（可用：{'、'.join(FLOW_NAMES)}）", param_hint="FLOW")
    run = cli(ctx)
    s = run.settings
    configure_prefect(s.data_dir)
    from flows import pipeline

    day = today or s.today().isoformat()
    if flow == "deliver":
        result = pipeline.deliver(at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), config=run.config)
    else:
        result = pipeline.FLOWS[flow](day=day, config=run.config)
    run.out.print(f"{flow}：{result}")


@app.command("deploy")
def deploy_cmd(ctx: typer.Context,
               pool: str = typer.Option("duban", "--pool", help="Prefect 进程型工作池名称 / process work pool")):
    """在 Prefect 服务器（PREFECT_API_URL）上注册定时流程，由多台机器上的 worker 分担 / register deployments."""
    import os

    if not os.environ.get("PREFECT_API_URL"):
        raise typer.BadParameter("请先设置 PREFECT_API_URL 指向 Prefect 服务器（如 http://127.0.0.1:4200/api）",
                                 param_hint="PREFECT_API_URL")
    run = cli(ctx)
    s = run.settings
    configure_prefect(s.data_dir)
    from flows.deploy import deploy

    rows = deploy(s, pool=pool, config=run.config)
    head, rest = rows[0], rows[1:]
    run.out.print(f"工作池 {head['pool']}：{'已创建（进程型）' if head['pool_created'] else '已存在'}")
    for r in rest:
        run.out.print(f"  {r['deployment']}：{r['schedule']}")
    run.out.print(f"在每台机器上启动 worker：prefect worker start --pool {pool}"
                  "（与本机相同的 DUBAN_DATABASE_URL、DUBAN_CONFIG、DUBAN_SMTP_URL 环境变量）")

