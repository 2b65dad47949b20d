"""Benchmark: the half-year inspection report for the synthetic province (benchmarks/province.py).

Builds the province, materializes 2025, marks most items done (some late), sweeps one day for
notice rows, then times the report data (SQL aggregates) for 2025H2 — whose previous period,
2025H1, is as full, so the trend is real work — province-wide and for one city, and renders each
output format.

    python benchmarks/report.py [--quick] [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""
from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from sqlmodel import Session  # noqa: E402

from benchmarks.province import PROVINCE, Size, build, drop_schema, fresh_engine, hundredth, tenth  # noqa: E402
from notifications.sweep import sweep  # noqa: E402
from obligations.notify import NotifyPolicy  # noqa: E402
from obligations.workcal import WorkCalendar  # noqa: E402
from reports import data as report_data  # noqa: E402
from reports import render  # noqa: E402
from storage.db import refresh_statistics  # noqa: E402
from storage.schedule import materialize  # noqa: E402

D = dt.date
TODAY = D(2026, 1, 10)
START, END = D(2025, 7, 1), D(2025, 12, 31)


def complete(engine) -> None:
    """Eight in ten items due in 2025 done on time, one in ten late, one in ten left."""
    with engine.begin() as c:
        c.execute(sa.text("UPDATE occurrence SET done_count = required, completed_on = due "
                          f"WHERE due <= :d AND {tenth(engine)} NOT IN (0, 1)"), {"d": D(2025, 12, 31)})
        c.execute(sa.text("UPDATE occurrence SET done_count = required, completed_on = :late "
                          f"WHERE due <= :d AND {tenth(engine)} = 1"), {"d": D(2025, 12, 31), "late": D(2026, 1, 5)})
        refresh_statistics(c, ("occurrence",), 10**9)


def review_layer(engine) -> dict[str, int]:
    """The review and feedback loop over that state, in bulk SQL, as a year of use leaves it: one
    completion row per done item (as the review judged it), two in a hundred done items returned
    once before their accepted completion (退回), the done items due in December's last fortnight
    still awaiting review (待审核), one in a hundred items extended on an approved request (延期),
    and progress reports on the long items (a period over 60 days): one a month from their start
    to the report day. Returns the rows made, by table."""
    pg = engine.dialect.name == "postgresql"
    at = "(completed_on + time '10:00')" if pg else "(completed_on || ' 10:00:00.000000')"
    day_at = "(d + time '10:00')" if pg else "(d || ' 10:00:00.000000')"
    h = hundredth(engine)
    made = {}
    with engine.begin() as c:
        c.execute(sa.text(
            "INSERT INTO completion (occurrence_id, recorded_at, done_on, actor, count, channel, judged_on, flagged) "
            f"SELECT id, {at}, completed_on, 'bench', required, 'web', completed_on, :f FROM occurrence "
            "WHERE done_count >= required AND completed_on IS NOT NULL"), {"f": False})
        made["returned"] = c.execute(sa.text(
            "INSERT INTO completion (occurrence_id, recorded_at, done_on, actor, count, channel, judged_on, flagged, "
            "returned_at, returned_by, return_reason) "
            f"SELECT id, {at}, completed_on, 'bench', required, 'web', completed_on, :f, {at}, 'coordinator', "
            f"'佐证材料不全' FROM occurrence WHERE done_count >= required AND completed_on IS NOT NULL AND {h} < 2"),
            {"f": False}).rowcount
        made["completion"] = c.execute(sa.text("SELECT count(*) FROM completion")).scalar()
        made["submitted"] = c.execute(sa.text(
            f"UPDATE occurrence SET submitted_at = {at} WHERE done_count >= required AND completed_on IS NOT NULL "
            "AND due > :d"), {"d": D(2025, 12, 17)}).rowcount
        made["item_request"] = c.execute(sa.text(
            "INSERT INTO item_request (occurrence_id, kind, reason, new_due, requested_by, requested_at, status, "
            "decided_by, decided_at, decision_note) "
            f"SELECT id, 'extension', '汛期入户困难', due, 'bench', {at.replace('completed_on', 'due')}, 'approved', "
            f"'coordinator', {at.replace('completed_on', 'due')}, '同意' FROM occurrence WHERE {h} = 50"),
            ).rowcount
        months = ("generate_series(1, 12) AS m(n)" if pg else
                  "(WITH RECURSIVE m(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM m WHERE n < 12) SELECT n FROM m) AS m")
        month_day = ("(o.period_start + m.n * interval '1 month')::date" if pg
                     else "date(o.period_start, '+' || m.n || ' months')")
        made["progress_report"] = c.execute(sa.text(
            "INSERT INTO progress_report (occurrence_id, reported_on, percent, done, difficulties, next_steps, actor, "
            "channel, created_at) "
            f"SELECT id, d, 50, '已完成阶段任务', NULL, '继续推进', 'bench', 'web', {day_at} FROM ("
            f"SELECT o.id, {month_day} AS d FROM occurrence o, {months} "
            f"WHERE o.due - o.period_start > 60 AND {month_day} < o.due AND {month_day} <= :today) AS x"
            if pg else
            "INSERT INTO progress_report (occurrence_id, reported_on, percent, done, difficulties, next_steps, actor, "
            "channel, created_at) "
            f"SELECT id, d, 50, '已完成阶段任务', NULL, '继续推进', 'bench', 'web', {day_at} FROM ("
            f"SELECT o.id, {month_day} AS d FROM occurrence o, {months} "
            f"WHERE julianday(o.due) - julianday(o.period_start) > 60 AND {month_day} < o.due "
            f"AND {month_day} <= :today) AS x"), {"today": TODAY}).rowcount
        refresh_statistics(c, ("occurrence", "completion", "item_request", "progress_report"), 10**9)
    return made


def settle(engine) -> None:
    """What a running system looks like some minutes after a bulk load: PostgreSQL's autovacuum
    has set the visibility map (index-only scans skip the heap) and analyzed every table it
    loaded (the units too: without their statistics a city's report planned for 12 units of
    its 1,111), SQLite's WAL is checkpointed."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for table in sa.inspect(c).get_table_names():
                c.execute(sa.text(f'VACUUM ANALYZE "{table}"'))
    else:
        with engine.connect() as c:
            c.exec_driver_sql("ANALYZE")
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def timed(fn, repeat: int = 3):
    best, out = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--database-url")
    args = ap.parse_args()
    size = Size.quick() if args.quick else Size()
    with tempfile.TemporaryDirectory() as tmp:
        engine, schema = fresh_engine(args.database_url, Path(tmp))
        try:
            build(engine, size)
            materialize(engine, WorkCalendar(), D(2025, 12, 31), today=D(2025, 1, 1),
                        default_start=D(2025, 1, 1), window_from=D(2025, 1, 1))
            complete(engine)
            layer = review_layer(engine)
            # notices: the sweep of one late-December day over that state (cold: every overdue item)
            sweep(engine, WorkCalendar(), NotifyPolicy(), D(2025, 12, 22), send_time=dt.time(9),
                  timezone="Asia/Shanghai")
            with engine.connect() as c:
                total = c.execute(sa.text("SELECT count(*) FROM occurrence")).scalar()
                in_period = c.execute(sa.text("SELECT count(*) FROM occurrence WHERE due BETWEEN :a AND :b"),
                                      {"a": START, "b": END}).scalar()
                notices = c.execute(sa.text("SELECT count(*) FROM notice")).scalar()
                city = c.execute(sa.text("SELECT c.name FROM jurisdiction c JOIN jurisdiction p ON p.id = c.parent_id "
                                         "WHERE p.name = :p ORDER BY c.code"), {"p": PROVINCE}).scalar()

            def run(jurisdiction=None):
                with Session(engine) as s:
                    return report_data.build(s, start=START, end=END, today=TODAY, jurisdiction=jurisdiction)

            t_fresh, _ = timed(run)
            settle(engine)
            t_province, data = timed(run)
            t_city, _ = timed(lambda: run(city))
            tracemalloc.start()
            run()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            formats = {}
            for fmt in render.FORMATS:
                out = Path(tmp) / f"report.{fmt}"
                formats[fmt], _ = timed(lambda fmt=fmt, out=out: render.write(data, fmt, out), repeat=1)
                if fmt == "pdf":
                    pages = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
                    pages = next((ln.split()[-1] for ln in pages.splitlines() if ln.startswith("Pages")), "?")
        finally:
            engine.dispose()
            if schema:
                drop_schema(args.database_url, schema)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"duban report benchmark ({backend}{', quick' if args.quick else ''}): {size.cases:,} cases, "
          f"{total:,} occurrences in 2025, {in_period:,} due in 2025H2 (2025H1 as full, for the trend), "
          f"{notices:,} notice rows, report day {TODAY}")
    print("  review and feedback: " + ", ".join(f"{n:,} {table}" for table, n in layer.items()))
    print(f"  report data, province, 2025H2:   {t_province:6.2f} s  (target ≤ 2 s; best of 3, settled)")
    print(f"    right after the bulk load:       {t_fresh:6.2f} s  (before vacuum / checkpoint)")
    print(f"  report data, one city ({city}):  {t_city:6.2f} s")
    print(f"  Python heap peak while building: {peak / 2**20:6.1f} MiB")
    t = data.totals
    print(f"  totals: {t['total']:,} items, on time {t['done']:,}, late {t['done_late']:,}, "
          f"overdue {t['overdue']:,}; {len(data.by_department)} departments, {len(data.by_unit)} units")
    for fmt, secs in formats.items():
        extra = f"  ({pages} pages)" if fmt == "pdf" else ""
        print(f"  render {fmt:5}                    {secs:6.2f} s{extra}")


if __name__ == "__main__":
    main()
