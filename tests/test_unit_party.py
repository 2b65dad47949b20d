"""One unit named among a clause's departments (市民政局、如城街道): the catalog's unit entries
and obligation ``units``, items for those units only, and the reader binding a township the
directory knows."""
import datetime as dt
import textwrap

import pytest
from sqlalchemy import select
from sqlmodel import Session

from obligations.catalog import CatalogError, PolicyDefault, effective_catalog, parse_catalog
from obligations.extract.draft import extract_catalog
from storage.catalog_repo import load_catalog
from storage.plan_check import check_plan
from storage.schedule import materialize
from storage.tables import Jurisdiction, Obligation, Occurrence

D = dt.date
# 福州市 in the sample directory: 鼓楼区 (鼓东街道, 温泉街道) and 闽侯县 (甘蔗街道, 上街镇)
CATALOG = textwrap.dedent("""\
    plan:
      id: fz-units
      title: 福州市未成年人保护重点任务
      issuer: 福州市民政局
      locality: 福州市
      level: city
      issued: 2025-01-09
    clauses:
      - id: "1"
        kind: task
        title: 建立协调机制
        text: 建立协调机制。（市民政局、鼓东街道负责）
        lines: [3, 3]
        departments:
          - {name: 市民政局, role: lead}
          - {name: 鼓东街道, unit: "350102001", role: co}
      - id: "2"
        kind: task
        title: 走访排查
        text: 每季度走访排查一次。（上街镇负责）
        lines: [4, 4]
        departments:
          - {name: 上街镇, unit: "350121002", role: lead}
        obligations:
          - id: "2.1"
            what: 走访排查
            who: [township_office]
            scope: township
            units: ["350121002"]
            cadence: {kind: quarterly, origin: stated, text: 每季度走访排查一次}
          - id: "2.2"
            what: 各乡镇（街道）走访排查
            who: [township_office]
            scope: township
            cadence: {kind: quarterly, origin: stated, text: 每季度走访排查一次}
          - id: "2.3"
            what: 厦门市中华街道走访排查
            who: [township_office]
            scope: township
            units: ["350203001"]
            cadence: {kind: quarterly, origin: stated, text: 每季度走访排查一次}
    """)


def problems(text, directory):
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, "plans/x/catalog.yaml", directory)
    return [str(p) for p in info.value.problems]


def test_unit_entries_and_units_validate(directory):
    catalog = parse_catalog(CATALOG, "plans/x/catalog.yaml", directory)
    assert catalog.clauses[0].departments[1].unit == "350102001"
    assert catalog.clauses[1].obligations[0].units == ["350121002"]
    eff = effective_catalog(catalog, PolicyDefault(), directory)
    first = {o.id: o for o in eff.clauses[0].obligations}
    # the listed department gets the issuer's progress report; the named unit its own, for it alone
    assert first["1.p"].who == ["civil_affairs"] and getattr(first["1.p"], "units", None) is None
    assert (first["1.u"].who, first["1.u"].scope, first["1.u"].units) == (["township_office"], "township", ["350102001"])
    assert eff.clauses[0].departments[1].key == "township_office"
    # an obligation already owed by the unit: nothing generated for it
    assert [o.id for o in eff.clauses[1].obligations] == ["2.1", "2.2", "2.3"]


def test_unit_code_not_in_directory(directory):
    text = CATALOG.replace('{name: 鼓东街道, unit: "350102001", role: co}', '{name: 鼓东街道, unit: "359999001", role: co}')
    text = text.replace('units: ["350121002"]', 'units: ["350121999"]')
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:16: clauses[0].departments[1].unit: 区划代码 '359999001' 不在部门目录的行政区划中",
        "plans/x/catalog.yaml:29: clauses[1].obligations[0].units[0]: 区划代码 '350121999' 不在部门目录的行政区划中",
    ]


def test_units_at_another_level_than_the_scope(directory):
    text = CATALOG.replace('units: ["350121002"]', 'units: ["350121"]')
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:29: clauses[1].obligations[0].units[0]: 单位 闽侯县（350121）是县级，"
        "与义务的 scope 'township' 不在同一层级"
    ]


def test_unit_entry_with_no_office_at_its_level(directory):
    text = CATALOG.replace('{name: 鼓东街道, unit: "350102001", role: co}', '{name: 鼓楼区, unit: "350102", role: co}')
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:16: clauses[0].departments[1].key: 单位 鼓楼区 是县级，须用 key 指明由哪个部门或角色承担"
    ]


def test_materialize_makes_items_only_for_the_named_units(plans_loaded, engine, directory):
    catalog = effective_catalog(parse_catalog(CATALOG, "plans/x/catalog.yaml", directory), PolicyDefault(), directory)
    with Session(engine) as session, session.begin():
        load_catalog(session, catalog)
    until = D(2025, 12, 31)
    materialize(engine, plans_loaded.calendar(), until, today=D(2025, 1, 1), default_start=D(2025, 1, 1))
    with Session(engine) as s:
        def units(code):
            rows = s.execute(select(Jurisdiction.name, Occurrence.party_key, Occurrence.period_key)
                             .join(Occurrence, Occurrence.jurisdiction_id == Jurisdiction.id)
                             .join(Obligation, Obligation.id == Occurrence.obligation_id)
                             .where(Obligation.plan_id == "fz-units", Obligation.code == code)).all()
            return {(name, party) for name, party, _ in rows}, len(rows)

        assert units("1.u") == ({("鼓东街道", "township_office")}, 4)        # quarterly, that unit alone
        assert units("2.1") == ({("上街镇", "township_office")}, 4)
        # the same obligation without units: every township of 福州市
        assert units("2.2")[0] == {(n, "township_office") for n in ("鼓东街道", "温泉街道", "甘蔗街道", "上街镇")}
        assert units("1.p")[0] == {("福州市", "civil_affairs")}
        # a unit outside the plan's locality (厦门市's 中华街道): nothing, and plans check says why
        assert units("2.3") == (set(), 0)
        why = {c.obligation: c.reason for c in check_plan(s, "fz-units")}
        assert why["2.3"] == "所列单位（区划代码 350203001）不在福州市之内" and why["2.1"] is None
        stored = s.scalar(select(Obligation.units).where(Obligation.plan_id == "fz-units", Obligation.code == "2.1"))
        assert stored == "/350121002/"


TEXT = """福州市未成年人保护工作2025年重点任务

一、健全工作机制
1.建立健全未成年人保护工作协调机制，开展专项督导。（市民政局、鼓东街道负责）
2.每季度开展一次困境儿童走访排查。（市民政局、温泉街道、某某镇负责）
"""


def test_the_reader_binds_a_township_the_directory_knows(directory):
    draft = extract_catalog(TEXT, directory, "fz-draft")
    one, two = draft.clauses
    assert one["departments"] == [{"name": "市民政局", "key": "civil_affairs", "role": "lead"},
                                  {"name": "鼓东街道", "key": "township_office", "unit": "350102001", "role": "co"}]
    assert "区划代码 350102001" in one["review"]
    # a unit the directory does not know (某某镇) stays out, with its note
    assert [d.get("unit") for d in two["departments"]] == [None, "350102002"]
    assert "“某某镇”是一个乡镇（街道）等单位" in two["review"]
    # the stated cadence: owed by the city's bureau, and by 温泉街道 alone
    obs = {o["id"]: o for o in two["obligations"]}
    assert obs["2.1"]["who"] == ["civil_affairs"] and "units" not in obs["2.1"]
    assert (obs["2.1.u"]["who"], obs["2.1.u"]["scope"], obs["2.1.u"]["units"]) == (
        ["township_office"], "township", ["350102002"])
    assert obs["2.1.u"]["cadence"] == obs["2.1"]["cadence"] and obs["2.1.u"]["cadence"] is not obs["2.1"]["cadence"]
    # the draft is a valid catalog as it stands
    from obligations.extract.draft import to_yaml
    parse_catalog(to_yaml(draft, "t.txt"), "plans/fz-draft/catalog.yaml", directory)


def test_without_the_unit_in_the_directory_the_note_stays(directory):
    draft = extract_catalog(TEXT.replace("鼓东街道", "龙泉街道"), directory, "fz-draft")
    assert [d["name"] for d in draft.clauses[0]["departments"]] == ["市民政局"]
    assert "“龙泉街道”是一个乡镇（街道）等单位" in draft.clauses[0]["review"]


def test_rugao_journey_gives_ruchen_subdistrict_its_own_items(tmp_path, database_url, monkeypatch, capsys):
    """如皋市's checklist (市民政局、如城街道) in a folder of 如皋市 down to townships, with no hand
    edit: the subdistrict is a unit entry, and its progress report goes to 如城街道 alone."""
    import re

    import sqlalchemy as sa

    from flows.cli import main
    from storage.db import make_engine
    from tests.test_extract_unseen import text_of

    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    monkeypatch.setenv("DUBAN_DATABASE_URL", database_url)
    plan_text = tmp_path / "方案.txt"
    plan_text.write_text(text_of("rugao_weibao_qingdan_2022"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "如皋", "--locality", "南通市/如皋市", "--depth", "township"]) == 0
    monkeypatch.chdir(tmp_path / "如皋")
    assert main(["plans", "extract", str(plan_text), "--add"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    pid = re.search(r"plans/([a-z0-9-]+)/catalog.yaml", out)[1]
    catalog = (tmp_path / "如皋" / "plans" / pid / "catalog.yaml").read_text(encoding="utf-8")
    assert re.search(r"\{name: 如城街道, key: township_office, unit: '\d{9}', role: co\}", catalog), catalog
    assert main(["plans", "load", "--all"]) == 0, capsys.readouterr().err
    assert main(["materialize", "--until", "2026-12-31", "--today", "2026-01-01"]) == 0
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT DISTINCT j.name, x.party_key FROM occurrence x JOIN obligation o ON o.id = x.obligation_id "
                "JOIN jurisdiction j ON j.id = x.jurisdiction_id WHERE o.plan_id = :p AND o.code = 'list-1.u'"),
                {"p": pid}).all()
            townships = conn.execute(sa.text("SELECT count(*) FROM jurisdiction WHERE level = 'township'")).scalar()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("如城街道", "township_office")] and townships > 10


def test_units_must_be_a_list_of_codes(directory):
    text = CATALOG.replace('units: ["350121002"]', 'units: "350121002"')
    assert problems(text, directory) == [
        "plans/x/catalog.yaml:29: clauses[1].obligations[0].units: units 应为区划代码的列表，如 ['320682001']"
    ]
