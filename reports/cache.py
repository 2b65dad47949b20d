"""Report figures computed once per change of the data, not once per request.

``figures(session, …)`` takes the arguments of ``reports.data.build`` and answers the same
ReportData. It reads the data version (storage/versions.py: one number every committed write
advances, in the database, so every process sees it) with one query, and keeps what it computed
under (data version, every argument the figures depend on): the period, the report day, the
plan, the unit (which the caller has already checked is within the viewer's area, so one viewer
is never shown a unit another may not see), whether units below count, the department and
clause filters, the due-soon days, the overdue rows and whether the previous period is compared.
When anything is written the version moves and the next request computes afresh; figures of
older versions are dropped.

Concurrent requests for the same figures wait for the one computation under way (single flight)
instead of each starting its own, so twenty coordinators opening the dashboard at nine o'clock
cost one scan. The cache lives in the process, one per engine, bounded by entries (least recently
used first out); a ReportData it hands out is shared and must be treated as read-only (every
renderer only reads it)."""
from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from reports.data import ReportData, build
from storage import versions

ENTRIES = 256      # figures kept per engine (a dashboard's are a few hundred kB at a province's size)


class FigureCache:
    """A bounded LRU of computed values by key, with single flight per key."""

    def __init__(self, entries: int = ENTRIES):
        self.entries = entries
        self._values: OrderedDict[tuple, Any] = OrderedDict()
        self._flights: dict[tuple, Future] = {}
        self._lock = threading.Lock()
        self.computed = 0            # how many times a value was computed (for tests and benchmarks)

    def get(self, key: tuple, compute, *, version: int | None = None):
        """The value for ``key``, computing it once however many ask at the same time. With
        ``version``, values kept under an older version (the key's first element) are dropped
        when a newer one is stored."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = Future()
        if not leader:
            return flight.result()          # the leader's value, or its exception
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                del self._flights[key]
            flight.set_exception(exc)
            raise
        with self._lock:
            self.computed += 1
            if version is not None:
                for old in [k for k in self._values if k[0] < version]:
                    del self._values[old]
            self._values[key] = value
            while len(self._values) > self.entries:
                self._values.popitem(last=False)
            del self._flights[key]
        flight.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


_caches: weakref.WeakKeyDictionary[Engine, FigureCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def cache_of(engine: Engine) -> FigureCache:
    """The figure cache of ``engine`` (one per engine, so per database)."""
    engine = getattr(engine, "_proxied", engine)
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = FigureCache()
        return cache


def figures(session: Session, *, start: dt.date, end: dt.date, today: dt.date, plan: str | None = None,
            jurisdiction: str | None = None, children: bool = True, soon_days: int = 7,
            with_previous: bool = True, top: int | None = 50, department: str | None = None,
            clause: str | None = None, levels: bool = False, scoring=None) -> ReportData:
    """``reports.data.build`` with the same arguments, computed once per data version."""
    version = versions.current(session)
    compute = lambda: build(  # noqa: E731
        session, start=start, end=end, today=today, plan=plan, jurisdiction=jurisdiction, children=children,
        soon_days=soon_days, with_previous=with_previous, top=top, department=department, clause=clause,
        levels=levels, scoring=scoring)
    if version is None:
        return compute()
    key = (version, start, end, today, plan, jurisdiction, children, soon_days, with_previous, top, department,
           clause, levels, scoring)
    return cache_of(session.get_bind()).get(key, compute, version=version)
