"""Benchmark: the sweep over the synthetic province, and delivery of 1,000 digests to a
loopback aiosmtpd server.

    python benchmarks/notify.py [--quick] [--database-url postgresql://…]

Targets: a day's sweep ≤ 2 s at province size; delivery ≥ 200 notices/s."""
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
from notifications.deliver import DeliverySettings  # noqa: E402
from notifications.service import deliver_processes  # noqa: E402
from notifications.sweep import sweep  # noqa: E402
from obligations.notify import NotifyPolicy  # noqa: E402
from obligations.workcal import WorkCalendar  # noqa: E402
from storage.schedule import materialize  # noqa: E402


def _serve(port, received, ready, stop):
    """An aiosmtpd server in its own process (as a real relay would be), counting messages."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def smtp_process():
    import multiprocessing as mp

    from tests.conftest import free_port

    port, received = free_port(), mp.Value("i", 0)
    ready, stop = mp.Event(), mp.Event()
    proc = mp.Process(target=_serve, args=(port, received, ready, stop), daemon=True)
    proc.start()
    ready.wait(10)
    return port, received, stop, proc

DAY = dt.date(2025, 5, 6)   # the first working day after the Labour Day holiday


def run_sweep(engine, day):
    t0 = time.perf_counter()
    report = sweep(engine, WorkCalendar(), NotifyPolicy(), day, send_time=dt.time(9), timezone="Asia/Shanghai")
    return time.perf_counter() - t0, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--database-url")
    ap.add_argument("--digests", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2, help="delivery processes (duban deliver --workers)")
    args = ap.parse_args()
    size = Size.quick() if args.quick else Size()
    with tempfile.TemporaryDirectory() as tmp:
        engine, schema = fresh_engine(args.database_url, Path(tmp))
        try:
            build(engine, size)
            materialize(engine, WorkCalendar(), dt.date(2025, 12, 31), today=dt.date(2025, 1, 1),
                        default_start=dt.date(2025, 1, 1), window_from=dt.date(2025, 1, 1))
            with engine.connect() as c:
                total = c.execute(sa.text("SELECT count(*) FROM occurrence")).scalar()
            # cold: nobody has done anything, the whole backlog is swept at once
            t_cold, cold = run_sweep(engine, DAY)
            # delivery of N of those digests over SMTP to a server in another process
            port, received, stop, proc = smtp_process()
            settings = DeliverySettings(secret=b"bench", base_url="http://127.0.0.1:8000", batch=100)
            now = dt.datetime(2025, 5, 6, 2, 0, tzinfo=dt.timezone.utc)
            # the first N digests of the backlog: park the rest, deliver with W parallel senders
            with engine.begin() as c:
                c.execute(sa.text("UPDATE outbox SET status = 'parked' WHERE id NOT IN "
                                  "(SELECT id FROM outbox ORDER BY id LIMIT :n)"), {"n": args.digests})
            smtp = f"smtp://127.0.0.1:{port}"
            t0 = time.perf_counter()
            url = engine.url.render_as_string(hide_password=False)
            r = deliver_processes(url, schema, (Path(tmp) / "outbox", "督办系统 <duban@example.org>", smtp),
                                  settings, args.workers, now=now, force=True)
            sent = r.sent
            t_deliver = time.perf_counter() - t0
            stop.set()
            proc.join(10)
            with engine.begin() as c:
                c.execute(sa.text("DELETE FROM notice"))
                c.execute(sa.text("DELETE FROM outbox"))
                # steady state: nine in ten items due before the day were done on time
                c.execute(sa.text("UPDATE occurrence SET done_count = required, completed_on = due "
                                  f"WHERE due < :day AND {tenth(engine)} <> 0"), {"day": DAY})
            run_sweep(engine, DAY - dt.timedelta(days=1))          # yesterday's sweep ran
            t_day, daily = run_sweep(engine, DAY)
            t_again, again = run_sweep(engine, DAY)
        finally:
            engine.dispose()
            if schema:
                drop_schema(args.database_url, schema)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"duban notify benchmark ({backend}{', quick' if args.quick else ''}): {size.cases:,} cases, "
          f"{total:,} occurrences in 2025, sweep day {DAY}")
    print(f"  cold sweep (whole backlog, nothing done): {t_cold:6.2f} s, {cold.added:,} notice rows, "
          f"{cold.digests:,} digests")
    print(f"  daily sweep (steady state):               {t_day:6.2f} s, {daily.added:,} notice rows, "
          f"{daily.digests:,} digests   (target ≤ 2 s)")
    print(f"  same-day repeat:                          {t_again:6.2f} s, {again.added} rows added")
    print(f"  delivery over SMTP (loopback aiosmtpd):   {sent:,} digests in {t_deliver:.2f} s = "
          f"{sent / t_deliver:,.0f} notices/s with {args.workers} sender processes (target ≥ 200); "
          f"server received {received.value:,}")


if __name__ == "__main__":
    main()
