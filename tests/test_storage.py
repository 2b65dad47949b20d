"""Loading catalogs and the directory into the real database (SQLite, or PostgreSQL in CI)."""
import json

import pytest
import yaml
from sqlalchemy import func, select
from sqlmodel import Session

from obligations.catalog import CatalogError, parse_catalog
from storage import catalog_repo
from storage.catalogs import load_plans
from storage.files import load_settings
from storage.tables import (
    Clause,
    ClauseDepartment,
    Contact,
    Department,
    Jurisdiction,
    Obligation,
    ObligationParty,
    Plan,
)
from tests.conftest import PLAN_IDS

TABLES = (Plan, Clause, ClauseDepartment, Obligation, ObligationParty, Department, Jurisdiction, Contact)


def counts(engine):
    with Session(engine) as s:
        return {t.__name__: s.scalar(select(func.count()).select_from(t)) for t in TABLES}


def snapshot(engine):
    with Session(engine) as s:
        return {
            "clauses": sorted((c.plan_id, c.code, c.content_hash, c.active) for c in s.scalars(select(Clause))),
            "obligations": sorted((o.plan_id, o.code, o.content_hash, o.active) for o in s.scalars(select(Obligation))),
        }


def test_load_all_then_again_changes_nothing(project, engine):
    settings = load_settings()
    first = load_plans(engine, settings)
    assert [r.plan_id for r in first.plans] == list(PLAN_IDS)
    assert all(r.created for r in first.plans)
    assert first.directory.units_added == 191 and first.directory.departments_added == 27   # 25 departments + 2 roles
    before, state = counts(engine), snapshot(engine)
    assert before["Plan"] == 3 and before["Clause"] == 34 + 32 + 40
    again = load_plans(engine, settings)
    assert again.directory.unchanged and all(r.unchanged for r in again.plans)
    assert counts(engine) == before and snapshot(engine) == state


def test_revised_catalog_updates_in_place_and_reports_the_diff(project, engine):
    settings = load_settings()
    load_plans(engine, settings, ["fujian-2025"])
    path = project / "plans" / "fujian-2025" / "catalog.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    clauses = {c["id"]: c for c in doc["clauses"]}
    clauses["1"]["obligations"][0]["cadence"]["months"] = [3, 9]           # changed obligation
    clauses["1"]["obligations"][0]["cadence"]["rrule"] = "FREQ=YEARLY;BYMONTH=3,9"
    clauses["3"]["title"] = "加强部门信息数据共享（修订）"                  # changed clause
    doc["clauses"] = [c for c in doc["clauses"] if c["id"] != "req-3"]     # removed clause
    doc["clauses"].append({"id": "12", "kind": "task", "title": "新增条款", "text": "新增条款。（省民政厅负责）",
                           "lines": [81, 81], "departments": [{"name": "省民政厅", "role": "lead"}],
                           "obligations": [{"id": "12.1", "what": "每月报送", "who": ["civil_affairs"],
                                            "scope": "issuer", "cadence": {"kind": "monthly", "origin": "stated",
                                                                           "text": "每月报送"}}]})
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    report = load_plans(engine, settings, ["fujian-2025"]).plans[0]
    assert report.clauses_added == ["12"]
    assert report.clauses_changed == ["3"]
    assert report.clauses_removed == ["req-3"]
    assert report.obligations_added == ["12.1"]
    assert set(report.obligations_changed) == {"1.1", "3.p"}  # 3.p's text quotes the clause title
    assert report.obligations_removed == ["req-3.p"]
    with Session(engine) as s:
        removed = s.scalar(select(Clause).where(Clause.plan_id == "fujian-2025", Clause.code == "req-3"))
        assert removed is not None and removed.active is False   # retired, not deleted
        ob = s.scalar(select(Obligation).where(Obligation.plan_id == "fujian-2025", Obligation.code == "1.1"))
        assert ob.cadence["months"] == [3, 9]
    with Session(engine) as s:
        exported = catalog_repo.export_catalog(s, "fujian-2025")
    assert "req-3" not in [c["id"] for c in exported["clauses"]]
    assert load_plans(engine, settings, ["fujian-2025"]).plans[0].unchanged


def test_a_bad_catalog_loads_nothing_even_with_good_ones(project, engine):
    settings = load_settings()
    path = project / "plans" / "pingdingshan-2025" / "catalog.yaml"
    text = path.read_text(encoding="utf-8").replace("kind: quarterly", "kind: fortnightly", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_plans(engine, settings)
    [problem] = info.value.problems
    assert problem.file.endswith("pingdingshan-2025/catalog.yaml") and problem.field.endswith("cadence.kind")
    assert counts(engine) == {t.__name__: 0 for t in TABLES}


def test_export_round_trips_through_validation(project, engine, directory):
    settings = load_settings()
    load_plans(engine, settings)
    for pid in PLAN_IDS:
        with Session(engine) as s:
            doc = catalog_repo.export_catalog(s, pid)
        text = json.dumps(doc, ensure_ascii=False)
        again = parse_catalog(text, f"{pid}.json", directory)   # JSON is YAML: the same validator
        assert again.model_dump(mode="json") == doc
        assert set(doc) == {"plan", "clauses"}
        assert {"id", "kind", "section", "title", "text", "lines", "departments", "obligations"} <= set(doc["clauses"][0])
        ob = doc["clauses"][0]["obligations"][0]
        assert {"id", "what", "who", "scope", "cadence"} <= set(ob)
        assert {"kind", "rrule", "months", "count", "start", "deadline", "after", "origin", "text"} <= set(ob["cadence"])


def test_queries_filter_by_plan_department_and_origin(project, engine):
    load_plans(engine, load_settings())
    with Session(engine) as s:
        stated = catalog_repo.list_obligations(s, origin="stated")
        assert {r["origin"] for r in stated} == {"stated"} and len(stated) == 13
        edu = catalog_repo.list_obligations(s, plan="fujian-2025", department="education")
        assert edu and all("education" in r["who"] for r in edu) and {r["plan"] for r in edu} == {"fujian-2025"}
        director = catalog_repo.list_obligations(s, department="children_director")
        assert sorted(r["obligation"] for r in director) == ["2.1", "2.2", "list-20.1"]
        with pytest.raises(catalog_repo.UnknownPlan):
            catalog_repo.list_obligations(s, plan="nope")
        plans = catalog_repo.list_plans(s)
        assert [p["id"] for p in plans] == sorted(PLAN_IDS)
        deps = {d["key"]: d for d in catalog_repo.list_departments(s)}
        assert deps["children_director"]["kind"] == "role" and deps["education"]["obligations"] > 0


def test_directory_change_is_an_update_in_place(project, engine):
    settings = load_settings()
    load_plans(engine, settings, ["fujian-2025"])
    path = project / "plans" / "directory.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "civil_affairs: {email: minzheng@fj.example.org", "civil_affairs: {email: mz@fj.example.org")
    path.write_text(text, encoding="utf-8")
    result = load_plans(engine, settings, ["fujian-2025"])
    assert result.directory.contacts_changed == 1 and result.directory.contacts_added == 0
    with Session(engine) as s:
        fj = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "350000"))
        c = s.scalar(select(Contact).where(Contact.jurisdiction_id == fj.id, Contact.department_key == "civil_affairs"))
        assert c.email == "mz@fj.example.org"
        fuzhou = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "350100"))
        assert fuzhou.parent_id == fj.id
        subtree = s.scalar(select(func.count()).select_from(Jurisdiction).where(Jurisdiction.path.like(fuzhou.path + "%")))
        assert subtree == 1 + 2 + 4 + 8


def test_migrations_build_the_schema_the_models_describe(engine):
    """Alembic's comparison of the migrated database with the SQLModel tables finds nothing."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import storage.tables  # noqa: F401

    with warnings.catch_warnings(), engine.connect() as conn:
        warnings.simplefilter("ignore")   # the expression index ux_occurrence_key cannot be reflected
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migration_0006_keeps_the_rows_and_the_links_to_them(database_url, project):
    """0006 drops the foreign keys of occurrence and notice (on SQLite by rebuilding the tables,
    which completions and notices point at): an existing database keeps every row, its
    completions still point at their items, and the way back restores the constraints."""
    import datetime as dt

    import sqlalchemy as sa

    from storage import occurrences as occ
    from storage.db import make_engine, migrate
    from storage.integrity import dangling
    from storage.schedule import materialize
    from storage.tables import Notice, Occurrence

    eng = make_engine(database_url)

    def fks(table):
        return sorted(fk["constrained_columns"][0] for fk in sa.inspect(eng).get_foreign_keys(table))

    # the models describe the newest schema: write the rows there, then go down to 0005 with them
    migrate(eng)
    settings = load_settings()
    load_plans(eng, settings)
    materialize(eng, settings.calendar(), dt.date(2025, 3, 31), today=dt.date(2025, 1, 1),
                default_start=settings.schedule_start)
    with Session(eng) as s, s.begin():
        first = s.scalar(select(Occurrence.id).order_by(Occurrence.id).limit(1))
        occ.record_completion(s, first, count=1, actor="x", channel="cli", done_on=dt.date(2025, 1, 5))
        s.add(Notice(occurrence_id=first, stage="due", kind="due", swept_on=dt.date(2025, 1, 5), workdays=0,
                     recipient_kind="contact", recipient_id=1))
    migrate(eng, "0005", down=True)
    assert fks("occurrence") == ["case_id", "jurisdiction_id", "obligation_id", "party_key", "plan_id"]

    def state():
        with eng.connect() as c:
            return (c.execute(sa.text("SELECT count(*), sum(done_count) FROM occurrence")).one(),
                    c.execute(sa.text("SELECT count(*) FROM completion c JOIN occurrence o ON o.id = c.occurrence_id"))
                    .scalar(),
                    c.execute(sa.text("SELECT occurrence_id, stage FROM notice")).all())

    before = state()
    assert before[1] == 1
    migrate(eng)                                       # 0005 → 0006 … head
    assert state() == before
    assert fks("occurrence") == [] and fks("notice") == []
    assert fks("completion") == ["occurrence_id"]       # people's rows keep theirs
    with eng.connect() as c:
        assert dangling(c) == []
        indexes = {i["name"] for i in sa.inspect(c).get_indexes("occurrence")}
    assert {"ix_occurrence_due_cover", "ix_occurrence_party_unit", "ix_occurrence_plan_id"} <= indexes
    with eng.begin() as c, pytest.raises(sa.exc.IntegrityError):   # the expression key survived the rebuild
        c.execute(sa.text("INSERT INTO occurrence (obligation_id, plan_id, jurisdiction_id, party_key, case_id, "
                          "period_key, period_start, period_end, due, required, done_count) SELECT obligation_id, "
                          "plan_id, jurisdiction_id, party_key, case_id, period_key, period_start, period_end, due, "
                          "required, 0 FROM occurrence WHERE id = :id"), {"id": first})
    migrate(eng, "0005", down=True)
    assert state() == before
    assert fks("occurrence") == ["case_id", "jurisdiction_id", "obligation_id", "party_key", "plan_id"]
    assert fks("notice") == ["digest_id", "occurrence_id"]
    eng.dispose()
