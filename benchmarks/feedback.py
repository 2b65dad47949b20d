"""Benchmark: the sweep of a feedback day (进度反馈, obligations.feedback) over the synthetic
province, in steady state (nine in ten items due before the day done on time; yesterday's sweep
ran), beside an ordinary day's sweep.

    python benchmarks/feedback.py [--quick] [--database-url postgresql://…]

The feedback stage is one INSERT … SELECT per feedback policy over the open long items, run only
on the sweeps within obligations.feedback.CATCH_UP_DAYS of a feedback day; half the long items
get a progress report first (bulk SQL), so the NOT EXISTS probes meet both cases. Runs against
a checkout without progress feedback too (then it measures the sweep as it was). Target: a
day's sweep ≤ 2 s at province size."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.province import Size, build, drop_schema, fresh_engine, tenth  # noqa: E402
from benchmarks.report import settle  # noqa: E402
from notifications.sweep import sweep  # noqa: E402
from obligations.notify import NotifyPolicy  # noqa: E402
from obligations.workcal import WorkCalendar  # noqa: E402
from storage.schedule import materialize  # noqa: E402

FEEDBACK_DAY = dt.date(2025, 4, 25)     # a Friday: the feedback day of April
ORDINARY_DAY = dt.date(2025, 5, 13)     # no feedback day within the catch-up days


def timed_sweep(engine, day, **feedback):
    t0 = time.perf_counter()
    report = sweep(engine, WorkCalendar(), NotifyPolicy(), day, send_time=dt.time(9), timezone="Asia/Shanghai",
                   **feedback)
    return time.perf_counter() - t0, report


def repeat_cost(engine, day, rounds: int = 5) -> tuple[float, float] | None:
    """The same-day repeat (every statement runs, nothing is added) with feedback days on and
    off, alternating, best of ``rounds`` each: the feedback stage's own cost on a loaded machine.
    None on a checkout without progress feedback."""
    try:
        from obligations.feedback import FeedbackPolicy
    except ImportError:
        return None
    on, off = [], []
    for _ in range(rounds):
        on.append(timed_sweep(engine, day)[0])
        off.append(timed_sweep(engine, day, feedback=FeedbackPolicy(enabled=False))[0])
    return min(on), min(off)


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
            materialize(engine, WorkCalendar(), dt.date(2025, 12, 31), today=dt.date(2025, 1, 1),
                        default_start=dt.date(2025, 1, 1), window_from=dt.date(2025, 1, 1))
            with engine.begin() as c:
                total = c.execute(sa.text("SELECT count(*) FROM occurrence")).scalar()
                c.execute(sa.text("UPDATE occurrence SET done_count = required, completed_on = due "
                                  f"WHERE due < :day AND {tenth(engine)} <> 0"), {"day": FEEDBACK_DAY})
                has_progress = sa.inspect(c).has_table("progress_report")
                reports = 0
                if has_progress:     # every second open long item reported progress this month
                    reports = c.execute(sa.text(
                        "INSERT INTO progress_report (occurrence_id, reported_on, percent, done, actor, channel, "
                        "created_at) SELECT id, :on, 50, '已完成一半', 'bench', 'api', :at FROM occurrence "
                        "WHERE done_count < required AND due > :day AND id % 2 = 0"),
                        {"on": dt.date(2025, 4, 20), "at": dt.datetime(2025, 4, 20, 8, tzinfo=dt.UTC),
                         "day": FEEDBACK_DAY}).rowcount
            # a million items updated at once: let autovacuum's work be done, as it would be
            # (benchmarks/run.py does the same before its days)
            settle(engine)
            timed_sweep(engine, FEEDBACK_DAY - dt.timedelta(days=1))      # yesterday's sweep ran
            t_feedback, fb = timed_sweep(engine, FEEDBACK_DAY)
            t_again, again = timed_sweep(engine, FEEDBACK_DAY)
            cost = repeat_cost(engine, FEEDBACK_DAY)
            timed_sweep(engine, ORDINARY_DAY - dt.timedelta(days=1))
            t_ordinary, ordinary = timed_sweep(engine, ORDINARY_DAY)
        finally:
            engine.dispose()
            if schema:
                drop_schema(args.database_url, schema)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"duban feedback-day sweep benchmark ({backend}{', quick' if args.quick else ''}): {size.cases:,} cases, "
          f"{total:,} occurrences in 2025; {reports:,} progress reports")
    print(f"  feedback day {FEEDBACK_DAY}: {t_feedback:6.2f} s, {fb.added:,} notice rows "
          f"({fb.notices.get('feedback', 0):,} feedback reminders), {fb.digests:,} digests   (target ≤ 2 s)")
    print(f"  same-day repeat:          {t_again:6.2f} s, {again.added} rows added")
    if cost:
        print(f"  same-day repeat, best of 5: {cost[0]:6.2f} s with feedback days, {cost[1]:6.2f} s without "
              f"(the feedback stage: {cost[0] - cost[1]:+.2f} s)")
    print(f"  ordinary day {ORDINARY_DAY}: {t_ordinary:6.2f} s, {ordinary.added:,} notice rows, "
          f"{ordinary.digests:,} digests")


if __name__ == "__main__":
    main()
