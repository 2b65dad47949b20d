"""Benchmark: materialize one year for a synthetic province, next to the floor of a plain
executemany insert of the same rows into a table with the same indexes, in the same run.

    python benchmarks/materialize.py [--quick] [--database-url postgresql://…]

Prints figures; it is not a timed test. Target: within 3× of the floor, memory flat in cases."""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.province import Size, build, drop_schema, fresh_engine  # noqa: E402
from obligations.workcal import WorkCalendar  # noqa: E402
from storage.schedule import materialize  # noqa: E402
from storage.tables import Occurrence  # noqa: E402


def floor_table(md: sa.MetaData) -> sa.Table:
    """A copy of the occurrence table (same columns and indexes, no foreign keys)."""
    src = Occurrence.__table__
    cols = [sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in src.columns]
    t = sa.Table("occurrence_floor", md, *cols)
    sa.Index("ux_floor_key", t.c.obligation_id, t.c.jurisdiction_id, t.c.party_key,
             sa.func.coalesce(t.c.case_id, 0), t.c.period_key, unique=True)
    sa.Index("ix_floor_due", t.c.due)
    sa.Index("ix_floor_party_unit", t.c.party_key, t.c.jurisdiction_id)
    sa.Index("ix_floor_plan", t.c.plan_id)
    sa.Index("ix_floor_case", t.c.case_id)
    return t


def floor_seconds(engine) -> float:
    """The floor: the rows materialize wrote, inserted again with a plain executemany in batches
    of 20,000 into a copy of the table with the same indexes (only the inserts are timed)."""
    md = sa.MetaData()
    floor = floor_table(md)
    md.create_all(engine)
    cols = [c.name for c in Occurrence.__table__.columns if c.name != "id"]
    seconds = 0.0
    with engine.connect() as reader, engine.connect() as writer:
        result = reader.execution_options(stream_results=True, yield_per=20000).execute(
            sa.select(*[Occurrence.__table__.c[c] for c in cols]))
        for batch in result.partitions(20000):
            data = [dict(zip(cols, r, strict=True)) for r in batch]
            t0 = time.perf_counter()
            with writer.begin():
                writer.execute(sa.insert(floor), data)
            seconds += time.perf_counter() - t0
    md.drop_all(engine)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a reduced province (10,000 cases), well under a minute")
    ap.add_argument("--cases", type=int, help="override the number of open cases")
    ap.add_argument("--database-url", help="PostgreSQL URL (a fresh schema is used and dropped); default SQLite")
    args = ap.parse_args()
    size = Size.quick() if args.quick else Size()
    if args.cases:
        size.cases = args.cases
    with tempfile.TemporaryDirectory() as tmp:
        engine, schema = fresh_engine(args.database_url, Path(tmp))
        try:
            t0 = time.perf_counter()
            built = build(engine, size)
            t_build = time.perf_counter() - t0
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            tracemalloc.start()
            t0 = time.perf_counter()
            report = materialize(engine, WorkCalendar(), dt.date(2025, 12, 31), today=dt.date(2025, 1, 1),
                                 default_start=dt.date(2025, 1, 1), window_from=dt.date(2025, 1, 1))
            t_mat = time.perf_counter() - t0
            _, py_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            with engine.connect() as conn:
                rows = conn.execute(sa.select(sa.func.count()).select_from(Occurrence)).scalar()
            t0 = time.perf_counter()
            again = materialize(engine, WorkCalendar(), dt.date(2025, 12, 31), today=dt.date(2025, 1, 1),
                                default_start=dt.date(2025, 1, 1), window_from=dt.date(2025, 1, 1))
            t_again = time.perf_counter() - t0
            t_floor = floor_seconds(engine)
        finally:
            engine.dispose()
            if schema:
                drop_schema(args.database_url, schema)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"duban materialize benchmark ({backend}{', quick' if args.quick else ''})")
    print(f"  province: {built['units']:,} units, {built['contacts']:,} contacts, {built['cases']:,} open cases "
          f"(built in {t_build:.1f} s)")
    print(f"  one year (2025): {rows:,} occurrences, {report.periods_added} schedule periods")
    print(f"  materialize:     {t_mat:8.2f} s  {rows / t_mat:12,.0f} rows/s")
    print(f"  executemany floor:{t_floor:7.2f} s  {rows / t_floor:12,.0f} rows/s")
    print(f"  ratio materialize/floor: {t_mat / t_floor:.2f}x  (target ≤ 3x)")
    print(f"  second run (idempotent): {t_again:.2f} s, {again.occurrences_added} rows added")
    print(f"  memory: Python heap peak during materialize {py_peak / 2**20:.1f} MiB; "
          f"process peak RSS {rss_before / 1024:.0f} → {rss_after / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
