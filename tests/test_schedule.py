"""Scheduling through the real database: materialize, cases, revisions, completions, events."""
import datetime as dt

import openpyxl
import pytest
import yaml
from sqlalchemy import func, select
from sqlmodel import Session

from obligations.status import STATUSES
from storage import occurrences as occ
from storage.cases import LedgerError, export_ledger, import_ledger, read_ledger
from storage.catalogs import load_plans
from storage.occurrences import python_status
from storage.schedule import materialize
from storage.tables import Completion, Jurisdiction, Obligation, Occurrence

D = dt.date
HEADER = ["编号", "乡镇（街道）", "村（社区）", "风险类别", "儿童主任", "建档日期", "结案日期", "备注"]


def write_ledger(path, rows, header=HEADER):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def loaded(plans_loaded):
    return plans_loaded


def run(engine, settings, until=D(2025, 12, 31), today=D(2025, 1, 1)):
    return materialize(engine, settings.calendar(), until, today=today, default_start=settings.schedule_start)


def count(engine, **where):
    with Session(engine) as s:
        q = select(func.count()).select_from(Occurrence).join(Obligation, Obligation.id == Occurrence.obligation_id)
        for k, v in where.items():
            q = q.where(Obligation.code == v if k == "code" else getattr(Occurrence, k) == v)
        return s.scalar(q)


def find(engine, plan, code, **where):
    with Session(engine) as s:
        q = (select(Occurrence).join(Obligation, Obligation.id == Occurrence.obligation_id)
             .where(Obligation.plan_id == plan, Obligation.code == code))
        for k, v in where.items():
            q = q.where(getattr(Occurrence, k) == v)
        return s.scalars(q.order_by(Occurrence.due, Occurrence.id)).all()


def test_materialize_fans_out_per_scope_and_is_idempotent(loaded, engine):
    first = run(engine, loaded)
    assert first.occurrences_added > 0 and not first.unplaced_plans
    total = count(engine)
    # Fujian 1.1: April and October, 7 departments, every county of Fujian (19 in the sample)
    fj = find(engine, "fujian-2025", "1.1")
    with Session(engine) as s:
        counties = s.scalar(select(func.count()).select_from(Jurisdiction).where(
            Jurisdiction.level == "county", Jurisdiction.path.like("350000/%")))
    assert counties == 19 and len(fj) == 19 * 7 * 2
    assert {o.period_key for o in fj} == {"2025-04", "2025-10"}
    assert {o.due for o in fj} == {D(2025, 4, 30), D(2025, 10, 31)}
    # Pingdingshan list-20.1: 6 visits a quarter by each village's children's director
    visits = find(engine, "pingdingshan-2025", "list-20.1")
    assert len(visits) == 3 * 2 * 2 * 4 and {o.required for o in visits} == {6}
    assert {o.party_key for o in visits} == {"children_director"}
    # issuer scope: one per department at the issuing unit (Guangdong's first census, 2024-11-30)
    census = find(engine, "guangdong-2024", "1.2")
    assert len(census) == 3 * 1   # county scope: the sample's 3 Guangdong counties, civil affairs each
    assert {o.due for o in census} == {D(2024, 12, 2)}
    meeting = find(engine, "pingdingshan-2025", "req-4.1")
    assert [(o.period_key, o.due) for o in meeting] == [("2025", D(2025, 12, 31))]
    again = run(engine, loaded)
    assert again.occurrences_added == 0 and again.periods_added == 0 and count(engine) == total


def test_cases_fan_out_from_the_period_after_opening_until_closing(loaded, engine, tmp_path):
    ledger = write_ledger(tmp_path / "ledger.xlsx", [
        ["FJ-0001", "鼓东街道", "鼓东街道第一社区", "监护缺失、自身残疾", "张主任", D(2025, 3, 10), None, None],
        ["FJ-0002", "温泉街道", None, "流浪", None, "2025-01-05", "2025-08-31", "已返回户籍地"],
    ])
    with Session(engine) as s, s.begin():
        report = import_ledger(s, ledger)
    assert report.added == 2
    run(engine, loaded)
    contact_1 = find(engine, "fujian-2025", "2.1", case_id=1)
    assert [o.period_key for o in contact_1] == [f"2025-{m:02d}" for m in range(4, 13)]
    assert {o.party_key for o in contact_1} == {"children_director"}
    contact_2 = find(engine, "fujian-2025", "2.1", case_id=2)
    assert [o.period_key for o in contact_2] == [f"2025-{m:02d}" for m in range(2, 9)]
    visits_2 = find(engine, "fujian-2025", "2.2", case_id=2)
    assert [(o.period_start, o.period_end) for o in visits_2] == [(D(2025, 1, 9), D(2025, 4, 8)),
                                                                  (D(2025, 4, 9), D(2025, 7, 8))]
    # re-import with a closing date: later runs add nothing for the closed months
    with Session(engine) as s, s.begin():
        rep = import_ledger(s, write_ledger(tmp_path / "l2.xlsx", [
            ["FJ-0001", "鼓东街道", "鼓东街道第一社区", "监护缺失、自身残疾", "张主任", D(2025, 3, 10), None, None]]))
    assert (rep.added, rep.updated, rep.unchanged) == (0, 0, 1)
    out = tmp_path / "export.xlsx"
    with Session(engine) as s:
        assert export_ledger(s, out) == 2
    rows = read_ledger(out)
    assert rows[0][2]["编号"] == "FJ-0001" and rows[0][2]["村（社区）"] == "鼓东街道第一社区"
    assert rows[1][2]["结案日期"].date() == D(2025, 8, 31)


def test_bad_ledger_rows_are_located_and_nothing_is_imported(loaded, engine, tmp_path):
    ledger = write_ledger(tmp_path / "bad.xlsx", [
        ["FJ-0001", "鼓东街道", None, "监护缺失", None, D(2025, 3, 10), None, None],
        ["张三", "鼓东街道", None, "监护缺失", None, D(2025, 3, 10), None, None],
        ["FJ-0003", "不存在街道", None, "监护缺失", None, D(2025, 3, 10), None, None],
        ["FJ-0004", "鼓东街道", None, "贫困", None, "2025-02-30", None, None],
        ["FJ-0005", "鼓东街道", "没有的社区", "流浪", None, D(2025, 3, 10), D(2025, 1, 1), None],
        ["FJ-0001", "温泉街道", None, "流浪", None, D(2025, 3, 10), None, None],
    ])
    with pytest.raises(LedgerError) as info, Session(engine) as s, s.begin():
        import_ledger(s, ledger)
    assert info.value.problems == [
        "台账!3: 编号: '张三' 含有汉字：编号不得填写姓名",
        "台账!4: 乡镇（街道）: 不存在街道 不在行政区划中",
        "台账!5: 风险类别: 未知类别 贫困（可用：家庭生活困难、自身残疾、监护缺失、流浪、心理和行为异常、主动求助）",
        "台账!5: 建档日期: '2025-02-30' 不是日期（示例：2025-03-01）",
        "台账!6: 结案日期: 结案日期 2025-01-01 早于建档日期 2025-03-10",
        "台账!7: 编号: FJ-0001 与 台账!2 重复",
    ]
    with Session(engine) as s:
        from storage.tables import Case
        assert s.scalar(select(func.count()).select_from(Case)) == 0
    missing = write_ledger(tmp_path / "hdr.xlsx", [], header=["编号", "乡镇"])
    with pytest.raises(LedgerError, match=r"台账!1: 表头: 缺少列 乡镇（街道）、风险类别、建档日期"), Session(engine) as s:
        import_ledger(s, missing)


def test_completion_and_status_transitions(loaded, engine):
    run(engine, loaded)
    visit = find(engine, "pingdingshan-2025", "list-20.1", period_key="2025-Q1")[0]
    assert visit.due == D(2025, 3, 31)
    today = D(2025, 3, 28)
    with Session(engine) as s:
        assert occ.occurrence_detail(s, visit.id, today=today)["status"] == "due_soon"
    with Session(engine) as s, s.begin():
        occ.record_completion(s, visit.id, count=4, actor="村儿童主任", channel="cli", note="入户 4 次", done_on=D(2025, 3, 20))
    with Session(engine) as s:
        d = occ.occurrence_detail(s, visit.id, today=D(2025, 4, 2))
        assert (d["done"], d["required"], d["status"]) == (4, 6, "overdue")     # partial counts are visible
    with Session(engine) as s, s.begin():
        occ.record_completion(s, visit.id, count=2, actor="村儿童主任", channel="cli", done_on=D(2025, 4, 3))
    with Session(engine) as s:
        d = occ.occurrence_detail(s, visit.id, today=D(2025, 4, 9))
        assert (d["done"], d["status"], d["completed_on"]) == (6, "done_late", "2025-04-03")
        assert [c["count"] for c in d["completions"]] == [4, 2]   # append-only history
    other = find(engine, "pingdingshan-2025", "list-20.1", period_key="2025-Q2")[0]
    with Session(engine) as s, s.begin():
        occ.waive(s, other.id, reason="该村本季度无重点关爱对象", actor="民政局")
    with Session(engine) as s:
        assert occ.occurrence_detail(s, other.id, today=D(2025, 8, 1))["status"] == "waived"
        with pytest.raises(occ.OccurrenceError, match="已豁免"):
            occ.record_completion(s, other.id, count=1, actor="x", channel="cli", done_on=D(2025, 5, 1))
        with pytest.raises(occ.OccurrenceError, match="正整数"):
            occ.record_completion(s, visit.id, count=0, actor="x", channel="cli", done_on=D(2025, 5, 1))


def test_sql_status_matches_the_pure_rule(loaded, engine):
    run(engine, loaded)
    ids = [o.id for o in find(engine, "fujian-2025", "1.1")][:40]
    with Session(engine) as s, s.begin():
        for i, oid in enumerate(ids[:30]):
            occ.record_completion(s, oid, count=1, actor="x", channel="cli", done_on=D(2025, 4, 20) + dt.timedelta(days=i % 20),
                                  review=i % 2 == 0)       # awaiting review (待审核) …
        occ.accept(s, ids[0:10:2])                         # … some accepted, one returned (open again)
        occ.return_submission(s, ids[10], actor="x", reason="材料不全")
        occ.waive(s, ids[35], reason="r", actor="x")
    for today in (D(2025, 4, 1), D(2025, 4, 25), D(2025, 5, 6), D(2025, 11, 30)):
        with Session(engine) as s:
            rows = {r["id"]: r["status"] for r in occ.list_occurrences(s, today=today, plan="fujian-2025")}
            seen = set()
            for o in s.scalars(select(Occurrence).where(Occurrence.plan_id == "fujian-2025")):
                assert rows[o.id] == python_status(o, today), (o.id, today)
                seen.add(rows[o.id])
    assert seen <= set(STATUSES) and len(seen) >= 3 and "submitted" in seen


def test_event_chain_files_the_checklist_within_10_days(loaded, engine):
    run(engine, loaded)
    publish = find(engine, "fujian-2025", "req-1.1")
    assert len(publish) == 10 and {o.period_key for o in publish} == {"2025~2026"}  # 9 cities and Pingtan
    assert find(engine, "fujian-2025", "req-1.2") == []
    with Session(engine) as s, s.begin():
        occ.record_completion(s, publish[0].id, count=1, actor="福州市民政局", channel="cli",
                              done_on=D(2025, 9, 21), calendar=loaded.calendar())
    [filing] = find(engine, "fujian-2025", "req-1.2")
    assert (filing.jurisdiction_id, filing.due, filing.period_start) == (publish[0].jurisdiction_id, D(2025, 10, 9),
                                                                         D(2025, 9, 21))
    assert run(engine, loaded).events_added == 0


def visits_monthly(project, engine, settings):
    """Revise Pingdingshan's home visits (list-20.1) from 6 a quarter to 2 a month and load it."""
    path = project / "plans" / "pingdingshan-2025" / "catalog.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    row = next(c for c in doc["clauses"] if c["id"] == "list-20")
    row["obligations"][0]["cadence"].update(kind="monthly", count=2, text="入户频率不低于每季度6次")
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_plans(engine, settings)


def test_a_revised_catalog_changes_only_open_future_occurrences(loaded, engine, project):
    run(engine, loaded)
    visits = find(engine, "pingdingshan-2025", "list-20.1")
    q1 = [o for o in visits if o.period_key == "2025-Q1"]
    q4 = [o for o in visits if o.period_key == "2025-Q4"]
    with Session(engine) as s, s.begin():
        occ.record_completion(s, q4[0].id, count=6, actor="x", channel="cli", done_on=D(2025, 5, 1))
    visits_monthly(project, engine, loaded)
    report = run(engine, loaded, today=D(2025, 6, 15))
    assert report.occurrences_removed == len(q4) - 1 + len([o for o in visits if o.period_key == "2025-Q3"])
    after = find(engine, "pingdingshan-2025", "list-20.1")
    keys = {o.period_key for o in after}
    assert {"2025-Q1", "2025-Q2"} <= keys                 # history (begun periods) kept
    assert "2025-Q3" not in keys                          # open future replaced
    assert [o.id for o in after if o.period_key == "2025-Q4"] == [q4[0].id]   # completed ahead: kept
    assert {f"2025-{m:02d}" for m in range(7, 13)} <= keys
    assert all(o.required == 6 for o in after if o.period_key == "2025-Q1")
    assert {o.id for o in after if o.period_key == "2025-Q1"} == {o.id for o in q1}
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Completion)) == 1
    again = run(engine, loaded, today=D(2025, 6, 15))
    assert (again.occurrences_added, again.periods_added, again.periods_replaced) == (0, 0, 0)


def test_a_revision_keeps_future_items_someone_was_told_about(loaded, engine, project):
    """A reminder can precede a short period's start; an item whose notice went out is history
    and survives a revision of its cadence (occurrence and notice carry no foreign keys, so
    nothing else would stop the notice from pointing nowhere)."""
    from storage.integrity import dangling
    from storage.tables import Notice

    run(engine, loaded)
    q3 = [o for o in find(engine, "pingdingshan-2025", "list-20.1") if o.period_key == "2025-Q3"]
    told = q3[0]
    with Session(engine) as s, s.begin():
        s.add(Notice(occurrence_id=told.id, stage="remind-7", kind="remind", swept_on=D(2025, 6, 13), workdays=7,
                     recipient_kind="contact", recipient_id=1))
    visits_monthly(project, engine, loaded)
    report = run(engine, loaded, today=D(2025, 6, 15))
    q3_after = [o.id for o in find(engine, "pingdingshan-2025", "list-20.1") if o.period_key == "2025-Q3"]
    assert q3_after == [told.id]                              # the others of that quarter replaced
    assert report.occurrences_removed >= len(q3) - 1     # (and Q4's)
    with engine.connect() as conn:
        assert dangling(conn) == []
