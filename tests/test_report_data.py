"""Report data against hand-computed expectations on a small, controlled slice:
Pingdingshan's plan, 2025 Q1, 新华区 and below."""
import datetime as dt

import pytest
from sqlalchemy import select
from sqlmodel import Session

from reports.data import build
from storage import occurrences as occ
from storage.catalogs import load_plans
from storage.files import load_settings
from storage.schedule import materialize
from storage.tables import Jurisdiction, Obligation, Occurrence

D = dt.date


@pytest.fixture
def slice_(project, engine):
    settings = load_settings()
    load_plans(engine, settings)
    materialize(engine, settings.calendar(), D(2025, 12, 31), today=D(2025, 1, 1), default_start=settings.schedule_start)
    with Session(engine) as s:
        county = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "410402"))
        rows = s.execute(select(Occurrence, Obligation.code, Jurisdiction.name)
                         .join(Obligation, Obligation.id == Occurrence.obligation_id)
                         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
                         .where(Occurrence.plan_id == "pingdingshan-2025", Jurisdiction.path.like(county.path + "%"),
                                Occurrence.due >= D(2025, 1, 1), Occurrence.due <= D(2025, 3, 31))
                         .order_by(Jurisdiction.path)).all()
    # the slice, by hand: four villages owe 6 visits each (list-20.1), the county's civil
    # affairs bureau owes its quarterly report on clause 2 (2.1, policy cadence)
    assert sorted(code for _, code, _ in rows) == ["2.1", "list-20.1", "list-20.1", "list-20.1", "list-20.1"]
    visits = [o for o, code, _ in rows if code == "list-20.1"]
    report = next(o for o, code, _ in rows if code == "2.1")
    with Session(engine) as s, s.begin():
        for o in visits[:2]:                       # two villages: 6 of 6 on time
            occ.record_completion(s, o.id, count=6, actor="x", channel="cli", done_on=D(2025, 3, 20))
        occ.record_completion(s, visits[2].id, count=4, actor="x", channel="cli", done_on=D(2025, 3, 20))   # 4 of 6
        occ.record_completion(s, visits[3].id, count=6, actor="x", channel="cli", done_on=D(2025, 4, 3))    # late
        occ.record_completion(s, report.id, count=1, actor="x", channel="cli", done_on=D(2025, 3, 28))
    return engine, visits


def test_numbers_match_the_hand_count(slice_):
    engine, visits = slice_
    with Session(engine) as s:
        data = build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=D(2025, 4, 10), plan="pingdingshan-2025",
                     jurisdiction="新华区")
    t = data.totals
    assert (t["total"], t["done"], t["done_late"], t["overdue"], t["waived"]) == (5, 3, 1, 1, 0)
    assert t["on_time_rate"] == 0.6 and t["completion_rate"] == 0.8 and data.as_of == D(2025, 4, 10)
    deps = {r["department"]: r for r in data.by_department}
    assert (deps["children_director"]["done"], deps["children_director"]["done_late"],
            deps["children_director"]["overdue"]) == (2, 1, 1)
    assert deps["children_director"]["on_time_rate"] == 0.5 and deps["civil_affairs"]["on_time_rate"] == 1.0
    units = {r["unit"]: r for r in data.by_unit}
    assert set(units) == {"新华区", "中兴路街道", "矿工路街道"}
    assert units["新华区"]["total"] == 1 and units["中兴路街道"]["total"] + units["矿工路街道"]["total"] == 4
    origins = {r["origin"]: r["total"] for r in data.by_origin}
    assert origins == {"stated": 4, "policy": 1}
    clauses = {r["clause"]: r for r in data.by_clause}
    assert clauses["list-20"]["total"] == 4 and clauses["2"]["done"] == 1
    [item] = data.overdue_items
    assert (item["done"], item["required"], item["days_late"], item["clause"]) == (4, 6, 10, "list-20")


def test_an_item_not_yet_due_is_open_not_overdue(slice_):
    engine, _ = slice_
    with Session(engine) as s:
        data = build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=D(2025, 3, 21), plan="pingdingshan-2025",
                     jurisdiction="新华区", with_previous=False, soon_days=10)
    t = data.totals     # on 03-21 the partial village (4 of 6) is due in 10 days: due soon, not overdue
    assert (t["done"], t["due_soon"], t["overdue"], t["done_late"]) == (3, 1, 0, 1)
    assert data.overdue_items == []


def test_previous_period_and_trend(slice_):
    engine, _ = slice_
    with Session(engine) as s:
        q2 = build(s, start=D(2025, 4, 1), end=D(2025, 6, 30), today=D(2025, 7, 10), plan="pingdingshan-2025",
                   jurisdiction="新华区")
    assert q2.previous["total"] == 5 and q2.previous["on_time_rate"] == 0.6
    assert q2.totals["done"] == 0 and q2.totals["on_time_rate"] == 0.0
    assert q2.trend["on_time_rate"] == -0.6
