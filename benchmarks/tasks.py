"""Benchmark: an ad-hoc assignment (交办) to every county and to every village of a synthetic
province (10,000 villages), and a hand reminder (催办) of 500 items at once.

    python benchmarks/tasks.py [--database-url postgresql://…]

Prints figures; it is not a timed test."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session  # noqa: E402

from benchmarks.province import ROOT, Size, build, drop_schema, fresh_engine  # noqa: E402
from notifications.urge import urge  # noqa: E402
from storage import tasks, workflow  # noqa: E402
from storage.files import load_settings  # noqa: E402
from storage.tables import Occurrence  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url")
    url = ap.parse_args().database_url
    engine, schema = fresh_engine(url, Path(tempfile.mkdtemp()))
    try:
        started = time.perf_counter()
        build(engine, Size(cases=0))
        print(f"province built: {time.perf_counter() - started:.1f} s")
        cal = load_settings(str(ROOT / "config.yaml")).calendar()
        today, op = dt.date(2025, 6, 16), workflow.Actor("benchmark", "cli")
        for level, dept in (("county", "education"), ("village", "children_director")):
            started = time.perf_counter()
            with Session(engine) as s, s.begin():
                done = tasks.assign(s, op, title=f"全省专项排查（{level}）", departments=[dept], jurisdiction="B0",
                                    level=level, within=10, today=today, calendar=cal)
            print(f"assign to every {level}: {done.items:,} items in {time.perf_counter() - started:.3f} s")
        with Session(engine) as s:
            ids = s.scalars(sa.select(Occurrence.id).where(Occurrence.plan_id == done.plan_id).limit(500)).all()
        started = time.perf_counter()
        with Session(engine) as s, s.begin():
            u = urge(s, ids, by=op, note="请抓紧办理", today=today, calendar=cal, quiet_hours=None,
                     timezone="Asia/Shanghai", now=dt.datetime(2025, 6, 16, 2, tzinfo=dt.UTC))
        print(f"urge {u.items} items ({u.messages} messages): {time.perf_counter() - started:.3f} s")
    finally:
        engine.dispose()
        if schema:
            drop_schema(url, schema)


if __name__ == "__main__":
    main()
