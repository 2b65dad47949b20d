"""Benchmark: twenty coordinators opening the dashboard at once, cold and warm.

The web app is served by uvicorn on loopback in a process of its own (with the pool of
config.yaml's ``database_pool``); twenty coordinators, each of a different unit, are signed in
over HTTP and ask for their unit's dashboard of 2025 at the same moment, round after round:

- cold: before each round one item is completed (a write: the data version moves), so every
  dashboard of the round is computed afresh, twenty different ones at once;
- warm: nothing is written between rounds, so the figures come from the cache.

Two databases: the demo's year (the directory and the three shipped plans, 60 key-child cases,
2025's items, eight in ten done) and the synthetic province of benchmarks/province.py (its
year's items, eight in ten done, one late-December sweep's notices), as benchmarks/report.py
builds it.

    python benchmarks/dashboard.py [--quick] [--only demo|province] [--rounds 5]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

from benchmarks.province import Size, build, drop_schema, fresh_engine  # noqa: E402
from benchmarks.report import complete, settle  # noqa: E402
from notifications.sweep import sweep  # noqa: E402
from obligations.notify import NotifyPolicy  # noqa: E402
from obligations.workcal import WorkCalendar  # noqa: E402
from storage import accounts  # noqa: E402
from storage.schedule import materialize  # noqa: E402
from storage.tables import Case, Jurisdiction, Occurrence  # noqa: E402

D = dt.date
TODAY = D(2025, 12, 31)
USERS = 20
PASSWORD = "bench-password-1"


def demo_year(engine) -> None:
    """The demo's database: directory, plans, 60 cases, 2025's items; eight in ten done."""
    from obligations.cases import RISK_CATEGORIES
    from storage.catalogs import load_plans
    from storage.db import migrate
    from storage.files import load_settings

    migrate(engine)
    settings = load_settings(str(ROOT / "config.yaml"))
    load_plans(engine, settings)
    rng = random.Random(7)
    with Session(engine) as s, s.begin():
        villages = s.scalars(sa.select(Jurisdiction.id).where(Jurisdiction.level == "village")
                             .order_by(Jurisdiction.code)).all()
        s.execute(sa.insert(Case), [dict(code=f"DEMO-{i + 1:04d}", jurisdiction_id=rng.choice(villages),
                                         categories=rng.sample(RISK_CATEGORIES, 1), director=None,
                                         opened=D(2025, 1, 1) + dt.timedelta(days=rng.randrange(240)), closed=None)
                                    for i in range(60)])
    materialize(engine, settings.calendar(), D(2025, 12, 31), today=D(2025, 1, 1),
                default_start=settings.schedule_start, window_from=D(2025, 1, 1))
    complete(engine)


def province_year(engine, size: Size) -> None:
    build(engine, size)
    materialize(engine, WorkCalendar(), D(2025, 12, 31), today=D(2025, 1, 1), default_start=D(2025, 1, 1),
                window_from=D(2025, 1, 1))
    complete(engine)
    sweep(engine, WorkCalendar(), NotifyPolicy(), D(2025, 12, 22), send_time=dt.time(9), timezone="Asia/Shanghai")


def add_coordinators(engine) -> list[str]:
    """Twenty coordinators, each of a different unit (the province or city and county levels)."""
    with Session(engine) as s, s.begin():
        units = s.scalars(sa.select(Jurisdiction.code).where(Jurisdiction.level.in_(("province", "city", "county")))
                          .order_by(Jurisdiction.path).limit(USERS)).all()
        names = []
        for i in range(USERS):
            user = accounts.add_user(s, username=f"bench{i}", password=PASSWORD, role="coordinator",
                                     jurisdiction=units[i % len(units)], display_name=f"协调员{i}", actor="bench")
            names.append(user.username)
    return names


def serve(url: str, port: int) -> subprocess.Popen:
    """The web app in a process of its own, as `duban up` serves it (uvicorn, config.yaml's pool)."""
    env = dict(os.environ, DUBAN_DATABASE_URL=url)
    code = ("import sys, datetime as dt, uvicorn; sys.path.insert(0, sys.argv[1]);"
            "from storage.files import load_settings; from web.app import create_app;"
            "s = load_settings(sys.argv[1] + '/config.yaml');"
            "uvicorn.run(create_app(s, today=lambda: dt.date(2025, 12, 31)), host='127.0.0.1', port=int(sys.argv[2]),"
            " log_level='warning', access_log=False, backlog=256)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(port)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the web app did not start")


def sign_in(base: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=120, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)[1]
    r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf, "next": "/"})
    assert r.status_code == 303, r.text
    return c


def rounds(clients, n: int, before_round=None) -> tuple[list[float], list[int]]:
    """``n`` rounds of every client asking for its dashboard at the same moment."""
    times: list[float] = []
    statuses: list[int] = []
    barrier = threading.Barrier(len(clients))

    def one(c):
        barrier.wait()
        t = time.perf_counter()
        try:
            status = c.get("/dashboard", params={"period": "2025"}).status_code
        except httpx.HTTPError:
            status = 0          # reset, refused or timed out
        return time.perf_counter() - t, status

    with ThreadPoolExecutor(len(clients)) as pool:
        for i in range(n):
            if before_round:
                before_round(i)
            for t, status in pool.map(one, clients):
                times.append(t)
                statuses.append(status)
    return times, statuses


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def measure(label: str, url: str, engine, n: int) -> dict:
    names = add_coordinators(engine)
    with engine.connect() as c:
        items = c.execute(sa.text("SELECT count(*) FROM occurrence")).scalar()
        open_ids = c.execute(sa.select(Occurrence.id).where(Occurrence.done_count == 0, Occurrence.required == 1)
                             .order_by(Occurrence.id).limit(n + 4)).scalars().all()
    port = _free_port()
    proc = serve(url, port)
    try:
        base = f"http://127.0.0.1:{port}"
        with ThreadPoolExecutor(USERS) as pool:
            clients = list(pool.map(lambda name: sign_in(base, name), names))

        def write(i):
            # one completion, committed: the data version moves and every cached figure is old
            with Session(engine) as s, s.begin():
                s.execute(sa.update(Occurrence).where(Occurrence.id == open_ids[i])
                          .values(done_count=1, completed_on=TODAY))

        alone = []
        for i in range(3):        # the widest unit's dashboard (bench0: the top unit), alone, cold
            write(n + i)
            t = time.perf_counter()
            assert clients[0].get("/dashboard", params={"period": "2025"}).status_code == 200
            alone.append(time.perf_counter() - t)
        cold, cold_status = rounds(clients, n, write)
        warm, warm_status = rounds(clients, n * 2)
        for c in clients:
            c.close()
    finally:
        proc.terminate()
        proc.wait(20)
    errors = sum(1 for s in cold_status + warm_status if s != 200)
    kinds = collections.Counter(s for s in cold_status + warm_status if s != 200)
    out = {"label": label, "items": items, "cold": cold, "warm": warm, "alone": alone, "errors": errors,
           "requests": len(cold_status) + len(warm_status)}
    print(f"  {label}: {items:,} items; {USERS} coordinators at once, {n} cold rounds, {2 * n} warm rounds; "
          f"{errors} errors of {out['requests']} requests"
          + (" (" + ", ".join(f"{k or 'no answer'}: {v}" for k, v in sorted(kinds.items())) + ")" if kinds else ""))
    print(f"    the top unit's dashboard alone, cold: {min(alone):6.2f} s (best of 3)")
    for kind in ("cold", "warm"):
        v = out[kind]
        print(f"    {kind}, 20 at once: p50 {pct(v, 50):6.2f} s   p95 {pct(v, 95):6.2f} s   max {max(v):6.2f} s")
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _engine_url(engine, schema: str | None) -> str:
    url = engine.url
    if schema:
        url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a smaller province (20 counties, 10,000 cases)")
    ap.add_argument("--only", choices=("demo", "province"))
    ap.add_argument("--rounds", type=int, default=5, help="cold rounds (warm: twice as many)")
    ap.add_argument("--database-url")
    args = ap.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"duban dashboard benchmark ({backend}), report day {TODAY}")
    for which in ("demo", "province"):
        if args.only and args.only != which:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            engine, schema = fresh_engine(args.database_url, Path(tmp))
            try:
                t0 = time.perf_counter()
                if which == "demo":
                    demo_year(engine)
                else:
                    province_year(engine, Size.quick() if args.quick else Size())
                settle(engine)
                print(f"  ({which} built in {time.perf_counter() - t0:.0f} s)")
                measure("the demo's year" if which == "demo" else
                        "the province" + (" (quick)" if args.quick else ""), _engine_url(engine, schema), engine,
                        args.rounds)
            finally:
                engine.dispose()
                if schema:
                    drop_schema(args.database_url, schema)


if __name__ == "__main__":
    main()
