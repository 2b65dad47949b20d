"""duban at province scale: one run, one table, SQLite and PostgreSQL side by side, and the naive
designs a user might pick instead, measured on a sample and scaled.

    python benchmarks/run.py [--quick] [--database-url postgresql://…] [--sqlite-only]

Over the synthetic province of benchmarks/province.py (10 cities, 100 counties, 1,000
townships, 10,000 villages, 20 departments per county, the three plans, 100,000 open key-child
cases; --quick: 20 counties and 10,000 cases): materialize one year next to the raw-insert
floor, the sweep of a busy day (cold: the whole backlog) and of an ordinary day (steady
state), delivery of 1,000 digests to a loopback SMTP server, the half-year report, memory.
Targets: materialize ≤ 3× the floor; a day's sweep ≤ 2 s; report ≤ 2 s; ≥ 1000× the
Prefect-task-per-occurrence design, ≥ 100× the job-per-reminder design; memory flat in cases.
Prints figures; it is not a timed test."""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

from benchmarks import naive  # noqa: E402
from benchmarks.materialize import floor_seconds  # noqa: E402
from benchmarks.notify import DAY, run_sweep, smtp_process  # noqa: E402
from benchmarks.province import Size, build, drop_schema, fresh_engine, tenth  # noqa: E402
from benchmarks.report import END, START, TODAY, complete, settle, timed  # noqa: E402
from notifications.deliver import DeliverySettings  # noqa: E402
from notifications.service import deliver_processes  # noqa: E402
from obligations.workcal import WorkCalendar  # noqa: E402
from reports import data as report_data  # noqa: E402
from storage.schedule import materialize  # noqa: E402

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Figures:
    backend: str
    values: dict = field(default_factory=dict)


def year(engine):
    return materialize(engine, WorkCalendar(), dt.date(2025, 12, 31), today=dt.date(2025, 1, 1),
                       default_start=dt.date(2025, 1, 1), window_from=dt.date(2025, 1, 1))


def heap_peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return tracemalloc.get_traced_memory()[1] / 2**20, out
    finally:
        tracemalloc.stop()


def run_backend(url: str | None, size: Size, tmp: Path, samples: tuple[int, int], digests: int) -> Figures:
    f = Figures("PostgreSQL" if url else "SQLite")
    v = f.values
    engine, schema = fresh_engine(url, tmp)
    try:
        t0 = time.perf_counter()
        build(engine, size)
        v["build"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        v["heap_materialize"], _ = heap_peak(lambda: year(engine))
        v["materialize"] = time.perf_counter() - t0
        with engine.connect() as c:
            v["rows"] = c.execute(sa.text("SELECT count(*) FROM occurrence")).scalar()
        v["floor"] = floor_seconds(engine)
        # a busy day: nothing ever done, the whole backlog swept at once
        v["cold_sweep"], cold = run_sweep(engine, DAY)
        v["cold_rows"], v["cold_digests"] = cold.added, cold.digests
        # delivery of the first N digests over SMTP (2 sender processes, as `duban deliver --workers 2`)
        port, received, stop, proc = smtp_process()
        with engine.begin() as c:
            c.execute(sa.text("UPDATE outbox SET status = 'parked' WHERE id NOT IN "
                              "(SELECT id FROM outbox ORDER BY id LIMIT :n)"), {"n": digests})
        ds = DeliverySettings(secret=b"bench", base_url="http://127.0.0.1:8000", batch=100)

        def deliver():
            return deliver_processes(engine.url.render_as_string(hide_password=False), schema,
                                     (tmp / "outbox", "督办系统 <duban@example.org>", f"smtp://127.0.0.1:{port}"),
                                     ds, 2, now=dt.datetime(2025, 5, 6, 2, 0, tzinfo=dt.timezone.utc), force=True)

        t0 = time.perf_counter()
        v["delivered"] = deliver().sent
        v["deliver_seconds"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        deliver()      # the same call with nothing left to send: the two sender processes' start alone
        v["deliver_start"] = time.perf_counter() - t0
        stop.set()
        proc.join(10)
        v["received"] = received.value
        with engine.connect() as c:
            v["deliver_items"] = float(c.execute(sa.text("SELECT avg(items) FROM outbox WHERE status = 'sent'")).scalar())
        # an ordinary day: nine in ten past items done, yesterday swept
        with engine.begin() as c:
            c.execute(sa.text("DELETE FROM notice"))
            c.execute(sa.text("DELETE FROM outbox"))
            c.execute(sa.text("UPDATE occurrence SET done_count = required, completed_on = due "
                              f"WHERE due < :day AND {tenth(engine)} <> 0"), {"day": DAY})
        settle(engine)   # half a million rows updated at once: let autovacuum's work be done, as it would be
        # the heap is traced on yesterday's sweep: tracemalloc slows the Python side, so the
        # day that is timed runs untraced
        v["heap_sweep"], _ = heap_peak(lambda: run_sweep(engine, DAY - dt.timedelta(days=1)))
        v["day_sweep"], day = run_sweep(engine, DAY)
        v["day_rows"] = day.added
        # a reminder day: the day in June when most reminders fall due (the quarter's end is 7
        # working days on), nine in ten items due before it done, the day before swept. The jobs a
        # job-per-reminder design fires that day: every item whose reminder (7 or 1 working days
        # before) or due day falls on it, done or not (its jobs were added in advance)
        cal = WorkCalendar()
        with engine.connect() as c:
            def jobs(d):
                return c.execute(sa.text("SELECT count(*) FROM occurrence WHERE due IN (:d0, :d1, :d7)"),
                                 {"d0": d, "d1": cal.add_workdays(d, 1), "d7": cal.add_workdays(d, 7)}).scalar()
            june = [dt.date(2025, 6, d) for d in range(1, 31) if cal.is_workday(dt.date(2025, 6, d))]
            v["remind_jobs"], remind_day = max((jobs(d), d) for d in june)
        with engine.begin() as c:
            c.execute(sa.text("UPDATE occurrence SET done_count = required, completed_on = due "
                              f"WHERE due < :day AND {tenth(engine)} <> 0"), {"day": remind_day})
        settle(engine)
        run_sweep(engine, cal.add_workdays(remind_day, -1))
        v["remind_sweep"], remind = run_sweep(engine, remind_day)
        v["remind_rows"], v["remind_day"] = remind.added, remind_day
        # the naive designs, on a sample of this database's occurrences
        p = naive.prefect_task_per_occurrence(engine.url.render_as_string(hide_password=False), schema, samples[0])
        v["prefect_client"] = p["seconds"] / p["n"]
        v["prefect_per_occurrence"] = p["recorded_seconds"] / p["n"]
        a = naive.apscheduler_job_per_reminder(engine.url.render_as_string(hide_password=False), schema, samples[1])
        v["aps_add"], v["aps_fire"], v["aps_n"], v["aps_fired"] = a["add"] / a["n"], a["fire"] / a["n"], a["n"], a["fired"]
        # the half-year report over a year with most items done
        complete(engine)
        settle(engine)

        def report():
            with Session(engine) as s:
                return report_data.build(s, start=START, end=END, today=TODAY, jurisdiction=None)

        v["report"], data = timed(report)
        v["report_items"] = data.totals["total"]
    finally:
        engine.dispose()
        if schema:
            drop_schema(url, schema)
    return f


def heap_by_cases(size: Size, tmp: Path) -> list[tuple[int, float, float]]:
    """Python heap peak of materialize and of a cold sweep at a tenth of the cases and at all
    of them (SQLite): flat means the memory does not grow with the cases."""
    out = []
    for cases in (size.cases // 10, size.cases):
        small = Size(size.cities, size.counties_per_city, size.townships_per_county, size.villages_per_township,
                     cases, size.departments)
        folder = tmp / f"heap{cases}"
        folder.mkdir()
        engine, _ = fresh_engine(None, folder)
        try:
            build(engine, small)
            mat, _ = heap_peak(lambda engine=engine: year(engine))
            swp, _ = heap_peak(lambda engine=engine: run_sweep(engine, DAY))
        finally:
            engine.dispose()
        out.append((cases, mat, swp))
    return out


def reachable(url: str) -> bool:
    try:
        eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), connect_args={"connect_timeout": 3})
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20 counties, 10,000 cases: a few minutes")
    ap.add_argument("--database-url", default=PG_DEFAULT, help=f"PostgreSQL server (default {PG_DEFAULT})")
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--digests", type=int, default=1000)
    args = ap.parse_args()
    size = Size.quick() if args.quick else Size()
    samples = (100, 500) if args.quick else (300, 2000)
    urls: list[str | None] = [None]
    note = ""
    if not args.sqlite_only:
        if reachable(args.database_url):
            urls.append(args.database_url)
        else:
            note = f"(PostgreSQL at {args.database_url} not reachable: SQLite only)"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for url in urls:
            folder = Path(tmp) / ("pg" if url else "sqlite")
            folder.mkdir()
            runs.append(run_backend(url, size, folder, samples, args.digests))
            print(f"  … {runs[-1].backend} done at {time.perf_counter() - started:.0f} s", file=sys.stderr)
        heaps = heap_by_cases(size, Path(tmp))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(table(runs, size, heaps, rss, samples, args.quick, note, time.perf_counter() - started))


def table(runs: list[Figures], size: Size, heaps, rss: float, samples, quick: bool, note: str, total: float) -> str:
    cols = [r.backend for r in runs]
    v = [r.values for r in runs]
    rows: list[tuple[str, list[str], str]] = []

    def add(label, fmt, target=""):
        rows.append((label, [fmt(x) for x in v], target))

    add(f"materialize one year ({v[0]['rows']:,} occurrences)", lambda x: f"{x['materialize']:.1f} s")
    add("  raw-insert floor (executemany, same indexes)", lambda x: f"{x['floor']:.1f} s")
    add("  materialize / floor", lambda x: f"{x['materialize'] / x['floor']:.2f}×", "≤ 3×")
    add("a day's sweep (steady state)", lambda x: f"{x['day_sweep']:.2f} s ({x['day_rows']:,} notices)", "≤ 2 s")
    add(f"a reminder day's sweep ({v[0]['remind_day']:%m-%d}: June's day with most reminders due)",
        lambda x: f"{x['remind_sweep']:.2f} s ({x['remind_rows']:,})", "≤ 2 s")
    add("a busy day's sweep (whole backlog)", lambda x: f"{x['cold_sweep']:.1f} s ({x['cold_rows']:,})")
    add(f"delivery of {v[0]['delivered']:,} digests ({v[0]['deliver_items']:.0f} items each) to loopback SMTP, "
        "2 senders",
        lambda x: f"{x['delivered'] / x['deliver_seconds']:.0f}/s (got {x['received']:,})")
    add("  … the senders' start (the same call, nothing to send)", lambda x: f"{x['deliver_start']:.2f} s")
    add("  … sending, once started",
        lambda x: f"{x['delivered'] / (x['deliver_seconds'] - x['deliver_start']):.0f}/s", "≥ 200/s")
    add(f"half-year report ({v[0]['report_items']:,} items)", lambda x: f"{x['report']:.2f} s", "≤ 2 s")
    add("Python heap peak: materialize / day's sweep",
        lambda x: f"{x['heap_materialize']:.1f} / {x['heap_sweep']:.1f} MiB")
    add(f"naive: one Prefect task per occurrence (sample {samples[0]})",
        lambda x: f"{x['prefect_client'] * 1000:.0f} ms run, {x['prefect_per_occurrence'] * 1000:.0f} ms recorded")
    add("  → ratio to duban's materialize, counting the run alone",
        lambda x: f"{x['prefect_client'] * x['rows'] / x['materialize']:,.0f}×")
    add("  → one year's occurrences that way", lambda x: _duration(x["prefect_per_occurrence"] * x["rows"]))
    add("  → ratio to duban's materialize, until the server has them",
        lambda x: f"{x['prefect_per_occurrence'] * x['rows'] / x['materialize']:,.0f}×", "≥ 1000×")
    add(f"naive: one APScheduler job per reminder (sample {samples[1]})",
        lambda x: f"add {x['aps_add'] * 1000:.1f} + fire {x['aps_fire'] * 1000:.1f} ms")
    add("  → scheduling a year's reminders alone (3 per item) that way",
        lambda x: f"{_duration(x['aps_add'] * 3 * x['rows'])}, "
                  f"{x['aps_add'] * 3 * x['rows'] / x['materialize']:,.0f}×")
    jobs = notice_jobs_per_item()
    add(f"  → scheduling a year's notice jobs ({jobs} per item, as duban's notices) that way",
        lambda x: f"{_duration(x['aps_add'] * jobs * x['rows'])}, "
                  f"{x['aps_add'] * jobs * x['rows'] / x['materialize']:,.0f}×", "≥ 100×")
    add("  → the busy day's notices that way",
        lambda x: f"{_duration(x['aps_fire'] * x['cold_rows'])}, {x['aps_fire'] * x['cold_rows'] / x['cold_sweep']:,.0f}×",
        "≥ 100×")
    add("  → the reminder day that way (the jobs due that day)",
        lambda x: f"{_duration(x['aps_fire'] * x['remind_jobs'])} ({x['remind_jobs']:,}), "
                  f"{x['aps_fire'] * x['remind_jobs'] / x['remind_sweep']:,.0f}×")
    width = max(len(r[0]) for r in rows) + 2
    cw = max(max(len(c) for r in rows for c in r[1]), max(len(c) for c in cols)) + 2
    head = (f"duban benchmark{' (quick)' if quick else ''}: {size.cities} cities, "
            f"{size.cities * size.counties_per_city} counties, "
            f"{size.cities * size.counties_per_city * size.townships_per_county:,} townships, "
            f"{size.departments} departments per county, {size.cases:,} open cases; 2 cores {note}")
    lines = [head, "", f"{'':{width}}" + "".join(f"{c:>{cw}}" for c in cols) + "   target"]
    for label, cells, target in rows:
        lines.append(f"{label:{width}}" + "".join(f"{c:>{cw}}" for c in cells) + (f"   {target}" if target else ""))
    lines.append("")
    lines.append("memory in the number of cases (SQLite, Python heap peak): " + "; ".join(
        f"{cases:,} cases: materialize {m:.1f} MiB, busy-day sweep {s:.1f} MiB" for cases, m, s in heaps))
    lines.append(f"peak RSS of this process {rss:.0f} MiB; whole run {total / 60:.1f} min")
    return "\n".join(lines)


def notice_jobs_per_item() -> int:
    """The jobs a job-per-notice design adds for each item to send what duban's default policy
    sends: the reminders, the due-day notice, one recurring overdue job (re-armed each time it
    fires), and the escalation levels."""
    from obligations.notify import NotifyPolicy

    policy = NotifyPolicy()
    return len(policy.reminders) + int(policy.on_due_day) + 1 + len(sorted(policy.escalate_after)[:2])


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


if __name__ == "__main__":
    main()
