"""A synthetic province for the benchmarks: jurisdictions, contacts, key-child cases and the
three shipped plans pointed at it. Everything is written with bulk inserts."""
from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import insert, select
from sqlmodel import Session

from obligations.cases import RISK_CATEGORIES
from obligations.catalog import effective_catalog
from storage.catalog_repo import load_catalog
from storage.db import make_engine, migrate
from storage.directory_repo import sync_directory
from storage.files import load_settings, read_catalog, read_directory
from storage.tables import Case, Contact, Department, Jurisdiction

ROOT = Path(__file__).resolve().parents[1]
PROVINCE = "基准省"


@dataclass
class Size:
    cities: int = 10
    counties_per_city: int = 10
    townships_per_county: int = 10
    villages_per_township: int = 10
    cases: int = 100_000
    departments: int = 20

    @classmethod
    def quick(cls) -> Size:
        return cls(cities=10, counties_per_city=2, townships_per_county=10, villages_per_township=10, cases=10_000)


def fresh_engine(url: str | None, workdir: Path):
    """A new empty database: a SQLite file in workdir, or a fresh schema on a PostgreSQL URL."""
    if not url:
        return make_engine(f"sqlite:///{workdir / 'bench.db'}"), None
    schema = "bench_" + uuid.uuid4().hex[:8]
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return make_engine(url, schema=schema), schema


def drop_schema(url: str, schema: str) -> None:
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def build(engine, size: Size, seed: int = 7) -> dict[str, int]:
    """Create the province, its units, contacts and open cases; load the plans onto it."""
    migrate(engine)
    settings = load_settings(str(ROOT / "config.yaml"))
    directory = read_directory(settings.directory_path)
    rng = random.Random(seed)
    with Session(engine) as s, s.begin():
        sync_directory(s, directory)        # department and role keys (and the small sample tree)
        dept_keys = [k for (k,) in s.execute(select(Department.key).where(Department.kind == "department")
                                             .order_by(Department.key))][: size.departments]
        units = [dict(code="B0", name=PROVINCE, level="province", path="B0/")]
        for c in range(size.cities):
            city = f"B0C{c:02d}"
            units.append(dict(code=city, name=f"基准市{c:02d}", level="city", path=f"B0/{city}/"))
            for k in range(size.counties_per_city):
                county = f"{city}K{k:02d}"
                units.append(dict(code=county, name=f"基准县{c:02d}{k:02d}", level="county", path=f"B0/{city}/{county}/"))
                for t in range(size.townships_per_county):
                    town = f"{county}T{t:02d}"
                    tpath = f"B0/{city}/{county}/{town}/"
                    units.append(dict(code=town, name=f"基准镇{town}", level="township", path=tpath))
                    for v in range(size.villages_per_township):
                        village = f"{town}V{v:02d}"
                        units.append(dict(code=village, name=f"基准村{village}", level="village", path=tpath + village + "/"))
        for chunk in _chunks(units, 5000):
            s.execute(insert(Jurisdiction), chunk)
        ids = {code: (jid, level) for code, jid, level in s.execute(
            select(Jurisdiction.code, Jurisdiction.id, Jurisdiction.level).where(Jurisdiction.code.like("B0%")))}
        s.execute(sa.text("UPDATE jurisdiction SET parent_id = (SELECT p.id FROM jurisdiction p WHERE "
                          "jurisdiction.path LIKE p.path || '%' AND length(p.path) < length(jurisdiction.path) "
                          "AND p.level = CASE jurisdiction.level WHEN 'city' THEN 'province' WHEN 'county' THEN 'city' "
                          "WHEN 'township' THEN 'county' ELSE 'township' END) WHERE code LIKE 'B0%' AND level <> 'province'"))
        contacts = []
        villages = []
        for code, (jid, level) in ids.items():
            if level in ("province", "city", "county"):
                contacts += [dict(jurisdiction_id=jid, department_key=k, name=f"{code}-{k}",
                                  email=f"{k}@{code.lower()}.example.org") for k in dept_keys]
            elif level == "township":
                contacts.append(dict(jurisdiction_id=jid, department_key="civil_affairs", name=f"{code}-民政",
                                     email=f"civil_affairs@{code.lower()}.example.org"))
            else:
                contacts.append(dict(jurisdiction_id=jid, department_key="children_director", name=f"{code}-儿童主任",
                                     email=f"director@{code.lower()}.example.org"))
                villages.append(jid)
        for chunk in _chunks(contacts, 5000):
            s.execute(insert(Contact), chunk)
        cases = [dict(code=f"BK{i:07d}", jurisdiction_id=villages[i % len(villages)],
                      categories=[rng.choice(RISK_CATEGORIES)], director=None,
                      opened=dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(300)), closed=None, note=None)
                 for i in range(size.cases)]
        for chunk in _chunks(cases, 10000):
            s.execute(insert(Case), chunk)
        for folder, locality, level in (("fujian-2025", PROVINCE, "province"), ("guangdong-2024", PROVINCE, "province"),
                                        ("pingdingshan-2025", "基准市00", "city")):
            parsed = read_catalog(ROOT / "plans" / folder, directory)
            eff = effective_catalog(parsed.catalog, settings.policy, directory)
            eff.plan.locality, eff.plan.level = locality, level
            load_catalog(s, eff, catalog_path=str(parsed.path))
    return {"units": len(units), "contacts": len(contacts), "cases": size.cases}


def tenth(engine) -> str:
    """SQL for a number 0–9 per occurrence that does not depend on the ids the database
    assigned (SQLite and PostgreSQL fan out in different orders), so that "nine in ten done"
    leaves the same items open on both."""
    doy = ("CAST(strftime('%j', due) AS INTEGER)" if engine.dialect.name == "sqlite"
           else "CAST(EXTRACT(DOY FROM due) AS INTEGER)")
    return f"((obligation_id * 7 + jurisdiction_id * 13 + COALESCE(case_id, 0) * 3 + LENGTH(party_key) + {doy}) % 10)"


def hundredth(engine) -> str:
    """Like ``tenth``, a number 0–99 per occurrence (for samples of a few in a hundred)."""
    doy = ("CAST(strftime('%j', due) AS INTEGER)" if engine.dialect.name == "sqlite"
           else "CAST(EXTRACT(DOY FROM due) AS INTEGER)")
    return (f"((obligation_id * 7 + jurisdiction_id * 13 + COALESCE(case_id, 0) * 3 + LENGTH(party_key) "
            f"+ {doy} * 31) % 100)")


def _chunks(rows, n):
    for i in range(0, len(rows), n):
        yield rows[i:i + n]
