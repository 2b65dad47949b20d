"""`duban sweep`, `deliver`, `duban outbox`: notices and their delivery."""
from __future__ import annotations

from typing import Optional

import typer

from flows.cli.context import TodayOption, cli
from flows.cli.output import FormatOption, ListFormat, col, emit_json, print_listing
from notifications import service
from notifications.deliver import requeue
from obligations.channels import CHANNEL_NAMES
from obligations.words import NOTICE_KIND_NAMES, OUTBOX_STATUS_NAMES

app = typer.Typer()   # sweep, deliver: at the top level
outbox_app = typer.Typer(help="发件箱：查看、重发 / the outbox", invoke_without_command=True)

STATUS = OUTBOX_STATUS_NAMES


@app.command("sweep")
def sweep_cmd(ctx: typer.Context, today: Optional[str] = TodayOption, format: ListFormat = FormatOption):
    """按提醒、到期、逾期、督办规则生成当日通知（同一天重复运行不会重复生成）/ write the day's notices."""
    run = cli(ctx)
    day = run.today(today)
    report = service.run_sweep(run.engine, run.settings, day)
    if format == ListFormat.json:
        emit_json({"day": day.isoformat(), "notices": report.notices, "digests": report.digests,
                   "without_address": report.without_address})
        return
    kinds = "，".join(f"{NOTICE_KIND_NAMES[k]} {n} 项" for k, n in report.notices.items()) or "无"
    run.out.print(f"{day} 通知：{kinds}；汇总为 {report.digests} 份通知（每个收件单位每天一份）。")
    if report.without_address:
        run.out.print(f"[yellow]注意：{report.without_address} 个收件单位没有邮箱或机器人地址，见 duban outbox --failed[/yellow]")


@app.command("deliver")
def deliver_cmd(ctx: typer.Context,
                force: bool = typer.Option(False, "--force", help="忽略免打扰时段立即发送 / ignore quiet hours"),
                workers: int = typer.Option(1, "--workers", min=1, max=32, help="并行发送进程数 / parallel sender processes"),
                format: ListFormat = FormatOption):
    """发送发件箱中到期的通知（失败自动重试）/ send what is due in the outbox."""
    run = cli(ctx)
    report = service.run_deliver(run.engine, run.settings, force=force, workers=workers)
    if format == ListFormat.json:
        emit_json(report.__dict__)
        return
    out = run.out
    if report.quiet:
        out.print("当前处于免打扰时段，未发送；可用 --force 立即发送。")
        return
    out.print(f"已发送 {report.sent} 份；稍后重试 {report.retried} 份；发送失败 {report.dead} 份；"
              f"无需发送 {report.skipped} 份" + (f"；恢复中断 {report.recovered} 份" if report.recovered else "")
              + (f"；渠道不可用，{report.waiting} 份留在队列中等待" if report.waiting else "") + "。")
    for line in report.errors[:10]:
        out.print(f"  [yellow]{line}[/yellow]", markup=True, highlight=False)


@outbox_app.callback()
def outbox_cmd(ctx: typer.Context,
               failed: bool = typer.Option(False, "--failed", help="只看发送失败的 / dead letters only"),
               status: Optional[str] = typer.Option(None, "--status", help="pending|sending|sent|skipped|dead"),
               limit: int = typer.Option(50, "--limit", help="最多显示条数 / max rows"),
               format: ListFormat = FormatOption):
    """查看发件箱 / show the outbox."""
    if ctx.invoked_subcommand:
        return
    run = cli(ctx)
    rows = service.outbox_rows(run.engine, failed=failed, status=status, limit=limit)
    header = None
    if format == ListFormat.table:
        counts = service.outbox_counts(run.engine)
        header = "发件箱：" + ("，".join(f"{STATUS.get(k, k)} {v}" for k, v in sorted(counts.items())) or "空")
    print_listing(run.out, format, rows, [
        col("编号", "id", overflow="fold"), col("日期", "day", overflow="fold"),
        col("收件单位", lambda r: r["recipient"] or "—", overflow="fold"), col("渠道", lambda r: CHANNEL_NAMES.get(r["channel"], r["channel"]), overflow="fold"),
        col("事项", "items", overflow="fold"), col("状态", lambda r: STATUS.get(r["status"], r["status"]), overflow="fold"),
        col("尝试", "attempts", overflow="fold"),
        col("说明", lambda r: (f"[{r['error_code']}] " if r.get("error_code") else "") + (r["last_error"] or (r["subject"] or "")),
            overflow="fold"),
    ], header=header, empty="", title_justify="left")


@outbox_app.command("retry")
def outbox_retry(ctx: typer.Context, outbox_id: int = typer.Argument(..., help="发件箱编号 / outbox id")):
    """将发送失败的通知重新排队 / requeue a failed notice."""
    run = cli(ctx)
    if not requeue(run.engine, outbox_id):
        raise typer.BadParameter(f"发件箱中没有可重发的 {outbox_id}（已发送或不存在）", param_hint="ID")
    run.out.print(f"已重新排队：{outbox_id}。运行 duban deliver 发送。")
