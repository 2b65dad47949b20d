"""The designs a user might pick instead of duban's set-based ones, measured on a sample and
scaled to the province (benchmarks/run.py prints them beside duban's figures):

- one Prefect task per occurrence (materialize as a flow whose task writes one occurrence);
- one APScheduler job per reminder, in APScheduler's SQLAlchemy job store on the same database
  (each job, when it fires, records its notice).

Each runs in a process of its own (Prefect starts its temporary server there and stops it on
exit). The per-item cost is the sample's wall time divided by the sample size; warm-up (server
start, first flow) is excluded, which flatters the naive designs."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
_engine = None          # the job function's engine, in the APScheduler process


def _scratch(engine, name: str) -> sa.Table:
    md = sa.MetaData()
    table = sa.Table(name, md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("occurrence_id", sa.Integer), sa.Column("party", sa.String(64)),
                     sa.Column("due", sa.Date), sa.Column("stage", sa.String(16)), sa.Column("address", sa.String(200)))
    md.drop_all(engine)
    md.create_all(engine)
    return table


def _sample_rows(engine, n: int) -> list[dict]:
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT id, party_key, due FROM occurrence WHERE done_count < required "
                                 "ORDER BY id LIMIT :n"), {"n": n}).all()
    return [{"occurrence_id": r[0], "party": r[1],
             "due": r[2] if isinstance(r[2], dt.date) else dt.date.fromisoformat(str(r[2])[:10])} for r in rows]


# ---------------------------------------------------------------- one Prefect task per occurrence

def _prefect_child(url: str, schema: str | None, n: int, home: str) -> dict:

    from flows.prefect_env import configure_prefect

    configure_prefect(Path(home))
    from prefect import flow, task

    from storage.db import make_engine

    engine = make_engine(url, schema=schema)
    table = _scratch(engine, "naive_prefect")
    rows = _sample_rows(engine, n)

    @task
    def write_one(row: dict) -> None:          # the naive design: one task, one row, one commit
        with engine.begin() as c:
            c.execute(sa.insert(table), dict(row, stage="occurrence"))

    @flow(name="naive-materialize")
    def materialize_naive(batch: list[dict]) -> None:
        for row in batch:
            write_one(row)

    materialize_naive(rows[:2])                # warm-up: the temporary server, the first flow
    t0 = time.perf_counter()
    state = materialize_naive(rows, return_state=True)
    seconds = time.perf_counter() - t0
    # the orchestrator records task runs from an event stream behind the client: the design's
    # real pace is when the server has every task run recorded as completed
    from prefect.client.orchestration import get_client

    body = {"flow_runs": {"id": {"any_": [str(state.state_details.flow_run_id)]}},
            "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    recorded = 0
    with get_client(sync_client=True) as client:
        while time.perf_counter() - t0 < 900:
            recorded = client._client.post("/task_runs/count", json=body).json()
            if recorded >= len(rows):
                break
            time.sleep(0.2)
    end_to_end = time.perf_counter() - t0
    with engine.connect() as c:
        written = c.execute(sa.select(sa.func.count()).select_from(table)).scalar()
        c.commit()
    engine.dispose()
    return {"seconds": seconds, "recorded_seconds": end_to_end, "recorded": recorded, "n": len(rows),
            "written": written}


def prefect_task_per_occurrence(url: str, schema: str | None, n: int) -> dict:
    """Seconds per occurrence when each occurrence is its own Prefect task run."""
    return _in_child("_prefect_child", url, schema, n)


# ---------------------------------------------------------------- one APScheduler job per reminder

def remind_one(occurrence_id: int, stage: str) -> None:
    """The job of the naive design, as a user of SQLModel would write it: load the item, skip it
    if done, find the recipient, record the reminder (module-level, so the job store can name it)."""
    from sqlmodel import Session, select

    from storage.tables import Contact, Occurrence

    with Session(_engine) as s:
        occ = s.get(Occurrence, occurrence_id)
        if occ is None or occ.done_count >= occ.required:
            return
        contact = s.exec(select(Contact).where(Contact.jurisdiction_id == occ.jurisdiction_id,
                                               Contact.department_key == occ.party_key)).first()
        s.execute(sa.text("INSERT INTO naive_reminder (occurrence_id, party, due, stage, address) "
                          "VALUES (:o, :p, :d, :s, :a)"),
                  {"o": occ.id, "p": occ.party_key, "d": occ.due, "s": stage, "a": contact.email if contact else None})
        s.commit()


def _apscheduler_child(url: str, schema: str | None, n: int, home: str) -> dict:
    global _engine
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from storage.db import make_engine

    _engine = make_engine(url, schema=schema)
    _scratch(_engine, "naive_reminder")
    with _engine.begin() as c:
        c.execute(sa.text("DROP TABLE IF EXISTS naive_jobs"))
    rows = _sample_rows(_engine, n)
    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=_engine, tablename="naive_jobs")},
                                    executors={"default": ThreadPoolExecutor(4)},
                                    job_defaults={"misfire_grace_time": None, "coalesce": False})
    scheduler.start(paused=True)
    # adding: one job per reminder (each a row and a commit in the job store)
    fire_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    t0 = time.perf_counter()
    for row in rows:
        scheduler.add_job("benchmarks.naive:remind_one", "date", run_date=fire_at,
                          args=(row["occurrence_id"], "reminder"))
    t_add = time.perf_counter() - t0
    time.sleep(max(0.0, (fire_at - dt.datetime.now(dt.timezone.utc)).total_seconds()))
    t0 = time.perf_counter()
    scheduler.resume()
    done = 0
    while time.perf_counter() - t0 < 600:
        with _engine.connect() as c:
            done = c.execute(sa.text("SELECT count(*) FROM naive_reminder")).scalar()
        if done >= len(rows):
            break
        time.sleep(0.05)
    t_fire = time.perf_counter() - t0
    scheduler.shutdown(wait=True)
    _engine.dispose()
    return {"add": t_add, "fire": t_fire, "n": len(rows), "fired": done}


def apscheduler_job_per_reminder(url: str, schema: str | None, n: int) -> dict:
    """Seconds to add, and to fire, one reminder job each, over a sample of ``n``."""
    return _in_child("_apscheduler_child", url, schema, n)


def _in_child(name: str, url: str, schema: str | None, n: int) -> dict:
    with tempfile.TemporaryDirectory() as home:
        code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks import naive; "
                f"print(json.dumps(naive.{name}({url!r}, {schema!r}, {n}, {home!r})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1200, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
