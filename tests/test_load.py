"""Under load: the dashboard's and the reports' figures are computed once per change of the data
(reports/cache.py, keyed by the data version that every committed write advances:
storage/versions.py), and a report's parallel scans take only the scan connections free in the
process, so twenty coordinators at once neither exhaust the connection pool nor get an error.

The heavy test serves the app with uvicorn on loopback and signs twenty coordinators in over
real HTTP (httpx); it runs on SQLite and, with DUBAN_DATABASE_URL, on PostgreSQL."""
from __future__ import annotations

import datetime as dt
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from sqlmodel import Session

from reports.cache import FigureCache, cache_of
from reports.data import build
from storage import accounts, versions
from storage.db import PoolSettings, make_engine, scan_slots
from storage.tables import Case, Jurisdiction, Occurrence
from tests.conftest import PASSWORD, csrf_of, free_port
from web.app import create_app

D = dt.date
TODAY = D(2025, 4, 10)


def version(engine) -> int:
    with engine.connect() as conn:
        return versions.current(conn)


# ---------------------------------------------------------------- the data version

@pytest.mark.parametrize("statement, writes", [
    ("INSERT INTO t VALUES (1)", True),
    ("  update t set a = 1", True),
    ("DELETE FROM t", True),
    ("/* c */ INSERT INTO t SELECT 1", True),
    ("WITH picked AS (SELECT id FROM outbox FOR UPDATE SKIP LOCKED) UPDATE outbox SET status = 'x'", True),
    ("WITH x AS (SELECT 1) SELECT * FROM x", False),
    ("SELECT id FROM outbox FOR UPDATE SKIP LOCKED", False),
    ("SELECT v FROM data_version", False),
    ("PRAGMA foreign_keys=ON", False),
    ("ANALYZE occurrence", False),
])
def test_what_counts_as_a_write(statement, writes):
    assert versions.is_write(statement) is writes


@pytest.mark.parametrize("statement, counts", [
    ("INSERT INTO occurrence (a) VALUES (1)", True),
    ("UPDATE web_session SET last_seen_at = ? WHERE id = ?", False),
    ('INSERT INTO "sign_in_failure" (at) VALUES (?)', False),
    ("UPDATE api_token SET last_used_at = ?", False),
    ("INSERT INTO audit_entry (action) VALUES ('user.sign_in')", False),
    ("DELETE FROM web_session WHERE user_id = 1", False),
    ("UPDATE completion SET flagged = 1", True),
])
def test_writes_no_figure_reads_leave_the_version_alone(statement, counts):
    assert versions.counts(statement) is counts


def test_signing_in_and_looking_leave_the_version_alone(year_2025, engine, personas):
    """A session's sign-in and every page view it refreshes write only session rows: the cache
    keeps serving."""
    app = create_app(year_2025, engine, today=lambda: D(2025, 7, 10))
    v0 = version(engine)
    mz = personas.coordinator.client(app)
    for _ in range(3):
        assert mz.get("/dashboard", params={"period": "2025H1"}).status_code == 200
    assert version(engine) == v0


def test_a_committed_write_advances_the_version_a_read_or_a_rollback_does_not(engine):
    v0 = version(engine)
    with Session(engine) as s, s.begin():
        s.execute(sa.select(sa.func.count()).select_from(Occurrence))
    assert version(engine) == v0
    with Session(engine) as s:
        s.execute(sa.text("INSERT INTO department (key, kind, name, doc) VALUES ('x_dept', 'department', '某局', '{}')"))
        s.rollback()
    assert version(engine) == v0
    with Session(engine) as s, s.begin():
        s.execute(sa.text("INSERT INTO department (key, kind, name, doc) VALUES ('x_dept', 'department', '某局', '{}')"))
    assert version(engine) == v0 + 1
    with engine.begin() as conn:     # Core, outside any Session: the same
        conn.execute(sa.text("UPDATE department SET name = '另一局' WHERE key = 'x_dept'"))
    assert version(engine) == v0 + 2


def test_a_commit_after_a_swallowed_error_behaves_as_before(engine):
    """PostgreSQL turns the COMMIT of a transaction with a failed statement into a ROLLBACK (and
    the version stays); SQLite commits the statements that succeeded (and the version moves)."""
    v0 = version(engine)
    insert = sa.text("INSERT INTO department (key, kind, name, doc) VALUES ('x_dept', 'department', '某局', '{}')")
    with engine.begin() as conn:
        conn.execute(insert)
        with pytest.raises(sa.exc.IntegrityError):
            conn.execute(insert)
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT count(*) FROM department WHERE key = 'x_dept'")).scalar()
    assert (kept, version(engine)) == ((1, v0 + 1) if engine.dialect.name == "sqlite" else (0, v0))


def test_a_database_older_than_the_version_table_is_written_as_before(database_url):
    from storage.db import migrate

    eng = make_engine(database_url)
    try:
        migrate(eng, "0009")
        with eng.begin() as conn:      # no data_version table yet: the write goes through, unversioned
            conn.execute(sa.text("INSERT INTO department (key, kind, name, doc) VALUES ('x_dept', 'department', '某局', '{}')"))
        migrate(eng)
        assert version(eng) == 0 and eng.dialect.name in ("sqlite", "postgresql")
        with eng.begin() as conn:
            conn.execute(sa.text("UPDATE department SET name = '另一局' WHERE key = 'x_dept'"))
        assert version(eng) == 1
    finally:
        eng.dispose()


def test_the_bulk_jobs_and_the_demo_advance_the_version(year_2025, engine, tmp_path):
    """Loading plans, materializing, an import, the sweep, delivery and a simulated demo day each
    advance the version (none of them calls anything for it: the engine does)."""
    from flows.simulation import DemoWorld, simulate_day
    from notifications.service import run_deliver, run_sweep
    from storage import cases
    from storage.catalogs import load_plans
    from storage.schedule import materialize

    settings = year_2025
    seen = [version(engine)]

    def moved(what):
        now = version(engine)
        assert now > seen[-1], what
        seen.append(now)

    load_plans(engine, settings)       # nothing changed: nothing written, the version stays
    assert version(engine) == seen[-1]
    catalog = settings.plan_dirs[0] / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("  title: 福建省加强流动儿童关爱保护行动实施方案",
                                    "  title: 福建省加强流动儿童关爱保护行动实施方案（修订）", 1), encoding="utf-8")
    load_plans(engine, settings)
    moved("plans load")
    materialize(engine, settings.calendar(), D(2026, 3, 31), today=D(2025, 12, 1), default_start=settings.schedule_start)
    moved("materialize")
    with Session(engine) as s, s.begin():
        village = s.scalar(sa.select(Jurisdiction).where(Jurisdiction.level == "village").order_by(Jurisdiction.code))
        s.add(Case(code="LD-1", jurisdiction_id=village.id, categories=["监护缺失"], director=None, opened=D(2025, 1, 2)))
    ledger = tmp_path / "ledger.xlsx"
    with Session(engine) as s:
        cases.export_ledger(s, ledger)
    with Session(engine) as s, s.begin():
        s.execute(sa.delete(Case))
    seen.append(version(engine))
    with Session(engine) as s, s.begin():
        assert cases.import_ledger(s, ledger)
    moved("cases import")
    assert run_sweep(engine, settings, TODAY)
    moved("sweep")
    at = dt.datetime(2025, 4, 10, 2, 0, tzinfo=dt.UTC)      # 10:00 in Beijing
    assert run_deliver(engine, settings, now=at).sent
    moved("deliver")
    with Session(engine) as s:
        oid = s.scalar(sa.select(Occurrence.id).where(Occurrence.done_count == 0, Occurrence.due < TODAY)
                       .order_by(Occurrence.id))
    world = DemoWorld(settings, 1, {oid}, {D(2025, 4, 11): [(oid, 1, D(2025, 4, 11))]})
    assert simulate_day(world, D(2025, 4, 11))["completions"] == 1
    moved("demo day")


# ---------------------------------------------------------------- the cache

def test_without_the_version_row_nothing_is_cached(year_2025, engine):
    """A hand edit that removed the row: every request computes (never figures of old data)."""
    from reports.cache import figures

    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM data_version"))
    cache = cache_of(engine)
    args = dict(start=D(2025, 1, 1), end=D(2025, 6, 30), today=TODAY, jurisdiction="新华区")
    with Session(engine) as s:
        first = figures(s, **args)
        second = figures(s, **args)
    assert cache.computed == 0 and first == second and first is not second


def test_concurrent_identical_requests_compute_once():
    cache, calls, gate = FigureCache(entries=4), [], threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)
        return {"n": len(calls)}

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(cache.get, (1, "k"), compute, version=1) for _ in range(8)]
        time.sleep(0.2)
        gate.set()
        results = [f.result() for f in futures]
    assert calls == [1] and all(r is results[0] for r in results)
    cache.get((2, "k"), lambda: "newer", version=2)        # a newer version drops the older figures
    assert cache.get((1, "k"), lambda: "recomputed", version=1) == "recomputed"


def test_a_failed_computation_is_not_kept():
    cache = FigureCache()

    def fail():
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get((1,), fail)
    assert cache.get((1,), lambda: 5) == 5


def test_the_figures_are_the_same_whether_scans_run_beside_or_one_after_another(year_2025, engine):
    """With every scan connection of the process taken, a report runs its parts on its own
    connection, and says the same."""
    args = dict(start=D(2025, 1, 1), end=D(2025, 6, 30), today=TODAY, jurisdiction="新华区")
    with Session(engine) as s:
        beside = build(s, **args)
    slots = scan_slots(engine)
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        assert taken >= 1
        with Session(engine) as s:
            alone = build(s, **args)
    finally:
        for _ in range(taken):
            slots.release()
    assert alone == beside and alone.totals["total"] > 0


def test_the_dashboard_is_computed_once_per_change(year_2025, engine, personas):
    """The same dashboard twice: computed once. A department completes an overdue item through
    its page (the service door): the coordinator's next dashboard shows it."""
    app = create_app(year_2025, engine, today=lambda: D(2025, 7, 10))
    mz, jy = personas.coordinator.client(app), personas.department.client(app)
    cache = cache_of(engine)

    def overdue() -> int:
        page = mz.get("/dashboard", params={"period": "2025H1"})
        assert page.status_code == 200
        return int(re.search(r'id="kpi-overdue">([\d,]+)<', page.text)[1].replace(",", ""))

    before = overdue()
    computed = cache.computed
    assert overdue() == before and cache.computed == computed          # served from the cache
    with Session(engine) as s:
        unit = s.scalar(sa.select(Jurisdiction.id).where(Jurisdiction.name == "新华区"))
        oid = s.scalar(sa.select(Occurrence.id).where(
            Occurrence.jurisdiction_id == unit, Occurrence.party_key == "education", Occurrence.done_count == 0,
            Occurrence.required == 1, Occurrence.due <= D(2025, 6, 30), Occurrence.waived_at.is_(None)))
    assert oid is not None and before > 0
    r = jy.post(f"/items/{oid}/complete", data={"count": "1", "note": "已办", "done_on": "2025-07-09",
                                               "csrf": csrf_of(jy, f"/items/{oid}")})
    assert r.status_code == 303 and "error" not in r.headers["location"]
    assert overdue() == before - 1 and cache.computed == computed + 1
    # the API's figures come from the same cache, keyed by the unit the caller may see
    api = personas.coordinator.api(app)
    data = api.get("/api/v1/reports/data", params={"period": "2025H1"}).json()
    assert data["totals"]["overdue"] == before - 1
    assert personas.department.api(app).get("/api/v1/reports/data", params={"period": "2025H1"}).status_code == 403


# ---------------------------------------------------------------- twenty coordinators at once

COORDINATORS = 20


def _serve(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           backlog=256, timeout_keep_alive=30))
    server.install_signal_handlers = lambda: None
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    return server, thread, f"http://127.0.0.1:{port}"


def _sign_in(base: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=120, follow_redirects=False)
    page = c.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf, "next": "/"})
    assert r.status_code == 303, r.text
    return c


@pytest.mark.slow
def test_twenty_coordinators_open_the_dashboard_at_once(year_2025, database_url, personas):
    """Twenty signed-in coordinators (of twenty different units, so the first round computes
    twenty dashboards) open the dashboard at once, nine times each, while the API is asked too,
    on a pool as small as SQLAlchemy's default (5 + 10): every answer is 200."""
    engine = make_engine(database_url, pool=PoolSettings(size=5, max_overflow=10, timeout=30, scan_connections=4))
    try:
        with Session(engine) as s, s.begin():
            units = s.scalars(sa.select(Jurisdiction.code).where(Jurisdiction.level.in_(("province", "city", "county")))
                              .order_by(Jurisdiction.path).limit(COORDINATORS)).all()
            names = []
            for i in range(COORDINATORS):
                user = accounts.add_user(s, username=f"coord{i}", password=PASSWORD, role="coordinator",
                                         jurisdiction=units[i % len(units)], display_name=f"协调员{i}")
                names.append(user.username)
        assert len(set(units)) == COORDINATORS
        app = create_app(year_2025, engine, today=lambda: D(2025, 12, 31))
        server, thread, base = _serve(app)
        try:
            # signing in holds a connection through the Argon2 check (seconds on a loaded machine):
            # five at a time, so that the sign-ins do not take this small pool before the test begins
            with ThreadPoolExecutor(5) as pool:
                clients = list(pool.map(lambda name: _sign_in(base, name), names))
            with ThreadPoolExecutor(COORDINATORS + 1) as pool:
                api = httpx.Client(base_url=base, timeout=120,
                                   headers={"Authorization": f"Bearer {personas.coordinator.token}"})
                statuses: list[int] = []
                timings: list[float] = []

                def one(c: httpx.Client, period: str) -> None:
                    t = time.perf_counter()
                    r = c.get("/dashboard", params={"period": period})
                    timings.append(time.perf_counter() - t)
                    statuses.append(r.status_code)

                for round_ in range(9):
                    period = "2025" if round_ < 6 else "2025H2"      # a new period: cold again
                    jobs = [pool.submit(one, c, period) for c in clients]
                    jobs.append(pool.submit(lambda: statuses.append(
                        api.get("/api/v1/reports/data", params={"period": "2025Q3"}).status_code)))
                    for j in jobs:
                        j.result()
            for c in clients:
                c.close()
            api.close()
        finally:
            server.should_exit = True
            thread.join(15)
        assert statuses.count(200) == len(statuses) == 9 * (COORDINATORS + 1), sorted(set(statuses))
        assert max(timings) < 60
    finally:
        engine.dispose()
