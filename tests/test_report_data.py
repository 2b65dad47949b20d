"""Report data against hand-computed expectations on a small, controlled slice:
Pingdingshan's plan, 2025 Q1, 新华区 and below (the `report_slice` fixture in conftest)."""
import datetime as dt
from collections import Counter

from sqlmodel import Session

from reports.data import build

D = dt.date


def test_numbers_match_the_hand_count(report_slice):
    engine, visits = report_slice
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


def test_an_item_not_yet_due_is_open_not_overdue(report_slice):
    engine, _ = report_slice
    with Session(engine) as s:
        data = build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=D(2025, 3, 21), plan="pingdingshan-2025",
                     jurisdiction="新华区", with_previous=False, soon_days=10)
    t = data.totals     # on 03-21 the partial village (4 of 6) is due in 10 days: due soon, not overdue
    assert (t["done"], t["due_soon"], t["overdue"], t["done_late"]) == (3, 1, 0, 1)
    assert data.overdue_items == []


def test_previous_period_and_trend(report_slice):
    engine, _ = report_slice
    with Session(engine) as s:
        q2 = build(s, start=D(2025, 4, 1), end=D(2025, 6, 30), today=D(2025, 7, 10), plan="pingdingshan-2025",
                   jurisdiction="新华区")
    assert q2.previous["total"] == 5 and q2.previous["on_time_rate"] == 0.6
    assert q2.totals["done"] == 0 and q2.totals["on_time_rate"] == 0.0
    assert q2.trend["on_time_rate"] == -0.6


def test_heat_map_months_by_department(report_slice):
    engine, _ = report_slice
    with Session(engine) as s:
        data = build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=D(2025, 4, 10), plan="pingdingshan-2025",
                     jurisdiction="新华区")
    assert data.months == ["2025-01", "2025-02", "2025-03"]
    cells = {h["department"]: h["months"] for h in data.heat}
    # everything in the slice is due at the end of March (quarterly duties)
    assert set(cells["children_director"]) == {"2025-03"} and cells["children_director"]["2025-03"]["total"] == 4
    assert cells["children_director"]["2025-03"]["on_time_rate"] == 0.5


def test_key_child_coverage_by_township(plans_loaded, engine):
    """Two key children in 鼓东街道第一社区 (Fujian): monthly contacts (2.1) in Q1 — child A
    contacted every month, child B only in January → 4 of 6 items complete."""
    from sqlalchemy import select

    from storage import occurrences as occ
    from storage.schedule import materialize
    from storage.tables import Case, Jurisdiction, Obligation, Occurrence

    settings = plans_loaded
    with Session(engine) as s, s.begin():
        village = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "350102001001"))
        for code in ("A", "B"):
            s.add(Case(code=f"FZ-{code}", jurisdiction_id=village.id, categories=["留守"], opened=D(2024, 12, 1)))
    materialize(engine, settings.calendar(), D(2025, 3, 31), today=D(2025, 1, 1), default_start=settings.schedule_start)
    with Session(engine) as s, s.begin():
        rows = s.execute(select(Occurrence.id, Case.code, Occurrence.period_key)
                         .join(Case, Case.id == Occurrence.case_id)
                         .join(Obligation, Obligation.id == Occurrence.obligation_id)
                         .where(Obligation.code == "2.1", Occurrence.plan_id == "fujian-2025")).all()
        assert len(rows) == 6
        for oid, case, period in rows:
            if case == "FZ-A" or period == "2025-01":
                occ.record_completion(s, oid, count=1, actor="x", channel="cli", done_on=D(2025, 1, 20))
    with Session(engine) as s:
        data = build(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=D(2025, 4, 10), plan="fujian-2025",
                     jurisdiction="鼓楼区")
    row = next(r for r in data.case_coverage if r["what"].startswith("联系重点关爱服务对象"))
    assert (row["township"], row["items"], row["complete_items"], row["done"], row["required"]) == ("鼓东街道", 6, 4, 4, 6)
    assert row["coverage"] == round(4 / 6, 4)
    [by_unit] = [r for r in data.case_coverage_units if r["what"] == row["what"]]
    assert by_unit["unit"] == "鼓东街道" and by_unit["items"] == 6


def test_status_tally_follows_the_status_rule(report_slice):
    """status_tally (counts per group of one due date) split by split_tally agrees with
    status_sql on every day of the quarter and after it: item by item, and for the groups the
    report reads (every item of a due date and unit together)."""
    import sqlalchemy as sa

    from storage import occurrences as occ
    from storage.occurrences import split_tally, status_sql, status_tally, unmet_status
    from storage.tables import Occurrence

    engine, _ = report_slice
    with Session(engine) as s, s.begin():
        first = s.scalar(sa.select(Occurrence.id).where(Occurrence.plan_id == "pingdingshan-2025",
                                                        Occurrence.done_count == 0).order_by(Occurrence.id))
        occ.waive(s, first, reason="本期无此项工作", actor="x")
        waiting = s.scalar(sa.select(Occurrence.id).where(Occurrence.plan_id == "pingdingshan-2025",
                                                          Occurrence.done_count == 0, Occurrence.id != first,
                                                          Occurrence.period_start <= D(2025, 3, 1))
                           .order_by(Occurrence.id))
        occ.record_completion(s, waiting, count=s.get(Occurrence, waiting).required, actor="x", channel="cli",
                              done_on=D(2025, 3, 1), review=True)      # awaiting review (待审核)
    seen = set()
    with Session(engine) as s:
        for day in (D(2025, 3, 1), D(2025, 3, 25), D(2025, 3, 31), D(2025, 4, 2), D(2025, 4, 10)):
            soon = day + dt.timedelta(days=7)
            st = status_sql(day, 7)
            ids = s.scalars(sa.select(Occurrence.id).where(Occurrence.plan_id == "pingdingshan-2025")
                            .order_by(Occurrence.done_count.desc(), Occurrence.id).limit(300)).all()
            for oid in ids:
                expected = s.scalar(sa.select(st).where(Occurrence.id == oid))
                due, *tally = s.execute(sa.select(Occurrence.due, *status_tally()).where(Occurrence.id == oid)
                                         .group_by(Occurrence.due)).one()
                assert split_tally(unmet_status(due, day, soon), *tally) == [(expected, 1)]
                seen.add(expected)
            by_rule = Counter()
            for unit, due, status in s.execute(sa.select(Occurrence.jurisdiction_id, Occurrence.due, st)
                                               .where(Occurrence.plan_id == "pingdingshan-2025")):
                by_rule[unit, due, status] += 1
            by_tally = Counter()
            for unit, due, *tally in s.execute(sa.select(Occurrence.jurisdiction_id, Occurrence.due, *status_tally())
                                               .where(Occurrence.plan_id == "pingdingshan-2025")
                                               .group_by(Occurrence.jurisdiction_id, Occurrence.due)):
                for status, n in split_tally(unmet_status(due, day, soon), *tally):
                    by_tally[unit, due, status] += n
            assert by_tally == by_rule and len({status for _, _, status in by_rule}) >= 3
    assert seen == {"waived", "done", "done_late", "overdue", "due_soon", "open", "submitted"}
