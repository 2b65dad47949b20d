"""`duban demo`: one Prefect flow simulating a year of calendar, a week per task (52 task runs,
not 365 flow runs)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.simulation import YEAR_END, YEAR_START, DemoWorld, demo_settings, prepare, simulate_day
from storage.files import load_settings

# set by the CLI to drive its progress bar; called with each simulated day
on_day: Callable[[dt.date], None] | None = None


@task(name="prepare-demo", cache_policy=NO_CACHE)
def prepare_task(folder: str, seed: int, config: str | None) -> DemoWorld:
    return prepare(demo_settings(load_settings(config), Path(folder)), seed)


@task(name="simulate-week", cache_policy=NO_CACHE)
def simulate_week(world: DemoWorld, first: dt.date) -> dict:
    totals = {"completions": 0, "sent": 0, "accepted": 0, "returned": 0, "progress": 0}
    day = first
    while day <= min(first + dt.timedelta(days=6), YEAR_END):
        for k, v in simulate_day(world, day).items():
            totals[k] += v
        if on_day:
            on_day(day)
        day += dt.timedelta(days=1)
    return totals


@flow(name="demo", flow_run_name="demo-seed-{seed}")
def demo_flow(folder: str, seed: int = 7, config: str | None = None) -> dict:
    world = prepare_task(folder, seed, config)
    totals = {"completions": 0, "sent": 0, "accepted": 0, "returned": 0, "progress": 0}
    week = YEAR_START
    while week <= YEAR_END:
        for k, v in simulate_week(world, week).items():
            totals[k] += v
        week += dt.timedelta(days=7)
    get_run_logger().info("模拟完成：%s", totals)
    return totals


def ranking_text(data, n: int = 5) -> str:
    """The end of the demo: the top of the year's 考核评分 (the report's scores) and its last place,
    by department."""
    rows = [r for r in (data.scores or {}).get("departments", []) if r["score"] is not None]
    if not rows:
        return "考核评分：本年度尚无到期事项，未评分。"

    def one(r) -> str:
        return f"{'并列' if r['tied'] else ''}第{r['rank']}名 {r['name']} {r['score']:.1f}分"

    full = data.scores.get("settings", {}).get("full", 100)
    text = f"考核评分（2025 年，满分 {full:g} 分，规则见通报文末）：" + "；".join(one(r) for r in rows[:n])
    if len(rows) > n:
        text += f"……{one(rows[-1])}（共 {len(rows)} 个部门）"
    return text + "。"
