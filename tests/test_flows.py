"""The Prefect flows end to end, the embedded runner (`duban up`) and the demo's simulation."""
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from flows.simulation import demo_settings, prepare, simulate_day, summary
from storage.db import make_engine
from storage.files import load_settings


@pytest.mark.slow
@pytest.mark.prefect
def test_flows_end_to_end_to_a_loopback_smtp_server(project, prefect_harness, smtp_sink, monkeypatch):
    monkeypatch.setenv("DUBAN_SMTP_URL", smtp_sink.url)
    from flows import pipeline

    synced = pipeline.sync_plans(day="2025-04-28")
    assert synced["plans"] == {"fujian-2025": "changed", "guangdong-2024": "changed", "pingdingshan-2025": "changed"}
    assert pipeline.sync_plans(day="2025-04-28")["plans"]["fujian-2025"] == "unchanged"
    made = pipeline.materialize(day="2025-04-01", horizon_days=60)
    assert made["occurrences_added"] > 0 and pipeline.materialize(day="2025-04-01", horizon_days=60)["occurrences_added"] == 0
    swept = pipeline.sweep(day="2025-04-28")
    assert swept["digests"] > 0 and swept["notices"]["remind"] > 0
    sent = pipeline.deliver(at="2025-04-28T02:00:00+00:00")
    assert sent["sent"] == swept["digests"] == len(smtp_sink.messages)
    subjects = [m["Subject"] for m in smtp_sink.messages]
    assert any(s.startswith("【督办提醒】") for s in subjects)
    paths = [Path(p) for p in pipeline.report(day="2025-04-28")]     # report.period: month → March
    assert sorted(p.suffix for p in paths) == [".docx", ".html", ".pdf", ".xlsx"] and all(p.is_file() for p in paths)
    html = next(p for p in paths if p.suffix == ".html")
    assert html.name == "督查通报-全部计划-2025-03-全部地区.html" and "2025年3月" in html.read_text(encoding="utf-8")
    from prefect.client.orchestration import get_client

    async def names():
        async with get_client() as client:
            return {r.name for r in await client.read_flow_runs()}
    import asyncio

    runs = asyncio.run(names())
    assert {"sweep-2025-04-28", "materialize-2025-04-01", "report-2025-04-28"} <= runs


@pytest.mark.slow
@pytest.mark.prefect
def test_duban_up_runs_the_schedule_and_stops_on_sigint(project, tmp_path):
    config = project / "config.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    doc["calendar"]["workdays"] = [today]                  # make today a working day whatever it is
    doc["notify"]["quiet_hours"] = ["00:00", "00:00"]      # never quiet
    doc["notify"]["send_time"] = "00:00"
    doc["service"] = {"materialize": {"seconds": 2}, "sweep": {"seconds": 3}, "deliver": {"seconds": 3},
                      "report": "0 7 1 1 *"}
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    exe = Path(sys.executable).with_name("duban")
    subprocess.run([exe, "plans", "load", "--all"], env=env, check=True, capture_output=True)
    log = tmp_path / "up.log"
    with open(log, "w") as out:
        from tests.conftest import free_port

        port = free_port()
        proc = subprocess.Popen([exe, "up", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
        engine = make_engine(load_settings(str(config)).database_url)
        try:
            deadline, sent = time.time() + 120, 0
            while time.time() < deadline and not sent:
                time.sleep(1)
                with engine.connect() as conn:
                    try:
                        sent = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE status = 'sent'")).scalar()
                    except sa.exc.OperationalError:
                        pass
            assert sent > 0, log.read_text()
            import httpx  # the web app is served beside the scheduler

            page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
            assert page.status_code == 200 and "登录督办系统" in page.text
            assert httpx.get(f"http://127.0.0.1:{port}/api/v1/plans", timeout=10).status_code == 401
            children = _children(proc.pid)
            assert children, "Prefect's temporary server runs as a child process"
            proc.send_signal(signal.SIGINT)
            started = time.time()
            code = proc.wait(timeout=30)
            assert code == 0 and time.time() - started < 15
        finally:
            if proc.poll() is None:
                proc.kill()
            engine.dispose()
    # no child of the service (Prefect's temporary server) outlives it
    time.sleep(2)
    left = [pid for pid in children if Path(f"/proc/{pid}").exists()
            and b"Z" not in Path(f"/proc/{pid}/stat").read_bytes().split(b")")[-1][:3]]
    assert not left, [(pid, Path(f"/proc/{pid}/cmdline").read_bytes()[:120]) for pid in left]
    text = log.read_text()
    assert "督办服务已启动" in text and f"网页：http://127.0.0.1:{port}/" in text and "sweep 完成" in text and "deliver 完成" in text and "已停止" in text


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


@pytest.mark.slow
def test_the_simulation_is_deterministic_for_a_seed(project, tmp_path):
    base = load_settings()

    def run(folder, seed):
        settings = demo_settings(base, tmp_path / folder)
        settings.data_dir.mkdir(parents=True)
        world = prepare(settings, seed, cases=20)
        day = dt.date(2025, 1, 1)
        while day <= dt.date(2025, 3, 31):
            simulate_day(world, day)
            day += dt.timedelta(days=1)
        out = summary(settings)
        _every_completion_audited(settings)
        with make_engine(settings.database_url).connect() as c:     # mail becomes .eml files; SMS and apps do not
            out["email_sent"] = c.execute(sa.text(
                "SELECT count(*) FROM outbox WHERE status = 'sent' AND channel = 'email'")).scalar()
        return out, len(list((settings.data_dir / "outbox").glob("*.eml")))

    a, files_a = run("a", 11)
    b, files_b = run("b", 11)
    c, _ = run("c", 12)
    assert a == b and files_a == files_b and files_a > 0
    assert a != c
    assert a["email_sent"] == files_a and a["outbox"].get("sent", 0) >= files_a and a["cases"] == 20


def _every_completion_audited(settings) -> None:
    """The simulated year records its completions through the one service: each completion has
    its audit row (same item, same count, channel demo)."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from storage.db import make_engine
    from storage.tables import AuditEntry, Completion

    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as s:
            done = sorted((str(c.occurrence_id), c.count) for c in s.scalars(sa.select(Completion)))
            audited = sorted((a.object_id, a.after["count"]) for a in s.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == "complete", AuditEntry.actor == "演示部门"))
                if a.after["channel"] == "demo")
    finally:
        engine.dispose()
    assert done and done == audited


def test_the_demo_folder_opens_in_the_web_app(project, tmp_path, monkeypatch):
    """After the simulation, the demo writes a config.yaml for its folder (as of 2025-12-31) and
    sample accounts, so `duban --config demo/config.yaml up` shows the year in the browser."""
    from fastapi.testclient import TestClient

    from flows.cli.service import DEMO_PASSWORD, _demo_web
    from web.app import create_app

    settings = demo_settings(load_settings(), tmp_path / "demo")
    settings.data_dir.mkdir(parents=True)
    prepare(settings, 7, cases=5)
    config, accounts = _demo_web(settings, settings.data_dir)
    monkeypatch.delenv("DUBAN_DATABASE_URL")          # the demo's own config names its SQLite file
    assert [a for a, _ in accounts] == ["minzheng", "ducha", "jiaoyu"]
    demo = load_settings(str(config))
    assert demo.today() == dt.date(2025, 12, 31) and demo.database_url == settings.database_url
    client = TestClient(create_app(demo), follow_redirects=False)
    page = client.get("/login").text
    import re

    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    r = client.post("/login", data={"username": "jiaoyu", "password": DEMO_PASSWORD, "csrf": csrf, "next": "/"})
    assert r.status_code == 303
    assert "待办事项" in client.get("/inbox").text
    assert _demo_web(settings, settings.data_dir)[1] == []          # a second run adds no accounts


@pytest.mark.slow
def test_the_simulated_year_assigns_tasks_and_reminds_by_hand(project, tmp_path):
    """The demo's coordinators issue an ad-hoc assignment (3 March) and remind three overdue
    items by hand (15 April): both reach the outbox, the report and the departments' work."""
    import sqlalchemy as sa
    from sqlmodel import Session

    from flows.simulation import ASSIGNMENTS, URGE_DAYS, URGE_ITEMS
    from reports.data import build
    from storage.db import make_engine
    from storage.tables import HandReminder, Notice, Occurrence, Outbox

    settings = demo_settings(load_settings(), tmp_path / "demo")
    settings.data_dir.mkdir(parents=True)
    world = prepare(settings, 7, cases=10)
    day = dt.date(2025, 3, 1)
    while day <= dt.date(2025, 4, 16):
        simulate_day(world, day)
        day += dt.timedelta(days=1)
    out = summary(settings)
    assert dt.date(2025, 3, 3) in ASSIGNMENTS and dt.date(2025, 4, 15) in URGE_DAYS
    assert out["assignments"] == 1 and out["assigned_items"] > 0 and out["notices"]["urge"] == URGE_ITEMS
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as s:
            done = s.scalar(sa.select(sa.func.count()).select_from(Occurrence).where(
                Occurrence.plan_id == "task-2025-0001", Occurrence.done_count >= Occurrence.required))
            assert done > 0                                  # departments worked on it as on any item
            assert s.scalar(sa.select(sa.func.count()).select_from(HandReminder)) == URGE_ITEMS
            sent = s.scalars(sa.select(Outbox.status).join(Notice, Notice.digest_id == Outbox.id)
                             .where(Notice.kind == "urge")).all()
            assert sent == ["sent"] * URGE_ITEMS
            data = build(s, start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31), today=dt.date(2025, 4, 16))
    finally:
        engine.dispose()
    assert any(o["origin"] == "assigned" and o["total"] == out["assigned_items"] for o in data.by_origin)
    assert data.notices["urge"] == URGE_ITEMS == data.notices["urge_sent"]
