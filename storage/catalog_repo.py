"""Writing plan catalogs into the database and reading them back.

Loading is one transaction and idempotent: unchanged clauses and obligations are left alone; a
revised catalog updates rows in place and reports what was added, changed and removed. Removed
clauses and obligations are retired (``active = false``), never deleted: occurrences and
completions recorded against them stay meaningful."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session

from obligations.catalog import Catalog, content_hash
from obligations.errors import NotFound
from storage.tables import Clause, ClauseDepartment, Department, Obligation, ObligationParty, Plan


class UnknownPlan(NotFound, LookupError):
    def __init__(self, plan_id: str):
        super().__init__(f"没有编号为 {plan_id} 的已加载计划")
        self.plan_id = plan_id


@dataclass
class LoadReport:
    plan_id: str
    created: bool = False
    plan_changed: bool = False
    clauses_added: list[str] = field(default_factory=list)
    clauses_changed: list[str] = field(default_factory=list)
    clauses_removed: list[str] = field(default_factory=list)
    obligations_added: list[str] = field(default_factory=list)
    obligations_changed: list[str] = field(default_factory=list)
    obligations_removed: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.created or self.plan_changed or self.clauses_added or self.clauses_changed
                    or self.clauses_removed or self.obligations_added or self.obligations_changed
                    or self.obligations_removed)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"unchanged": self.unchanged}


def _clause_doc(clause) -> dict[str, Any]:
    return clause.model_dump(mode="json", exclude={"obligations"})


def load_catalog(session: Session, catalog: Catalog, *, catalog_path: str | None = None,
                 source_sha256: str | None = None, now: dt.datetime | None = None) -> LoadReport:
    """Write an (effective) catalog. The caller owns the transaction."""
    now = now or dt.datetime.now(dt.timezone.utc)
    info = catalog.plan
    report = LoadReport(info.id)
    plan_doc = info.model_dump(mode="json")
    plan_hash = content_hash(plan_doc)
    plan = session.get(Plan, info.id)
    if plan is None:
        plan = Plan(id=info.id, title=info.title, issuer=info.issuer, locality=info.locality, level=info.level,
                    issued=info.issued, catalog_path=catalog_path, source_sha256=source_sha256,
                    content_hash=plan_hash, doc=plan_doc, loaded_at=now, updated_at=now)
        session.add(plan)
        report.created = True
    elif plan.content_hash != plan_hash or plan.source_sha256 != source_sha256:
        plan.title, plan.issuer, plan.locality, plan.level, plan.issued = (
            info.title, info.issuer, info.locality, info.level, info.issued)
        plan.doc, plan.content_hash, plan.source_sha256 = plan_doc, plan_hash, source_sha256
        plan.updated_at = now
        report.plan_changed = True
    if catalog_path:
        plan.catalog_path = catalog_path
    session.flush()

    clauses = {c.code: c for c in session.scalars(select(Clause).where(Clause.plan_id == info.id))}
    obligations = {o.code: o for o in session.scalars(select(Obligation).where(Obligation.plan_id == info.id))}
    seen_clauses: set[str] = set()
    seen_obligations: set[str] = set()
    for position, clause in enumerate(catalog.clauses):
        seen_clauses.add(clause.id)
        doc = _clause_doc(clause)
        digest = content_hash(doc)
        row = clauses.get(clause.id)
        values = dict(position=position, kind=clause.kind, section=clause.section, title=clause.title,
                      text=clause.text, line_first=clause.lines[0], line_last=clause.lines[1],
                      content_hash=digest, doc=doc, active=True)
        if row is None:
            row = Clause(plan_id=info.id, code=clause.id, **values)
            session.add(row)
            session.flush()
            report.clauses_added.append(clause.id)
            _write_departments(session, row.id, clause)
        elif row.content_hash != digest or not row.active or row.position != position:
            if row.content_hash != digest or not row.active:
                (report.clauses_changed if row.active else report.clauses_added).append(clause.id)
            for k, v in values.items():
                setattr(row, k, v)
            session.execute(delete(ClauseDepartment).where(ClauseDepartment.clause_id == row.id))
            _write_departments(session, row.id, clause)
        for opos, ob in enumerate(clause.obligations):
            seen_obligations.add(ob.id)
            odoc = ob.model_dump(mode="json")
            odigest = content_hash(odoc)
            orow = obligations.get(ob.id)
            ovalues = dict(clause_id=row.id, position=opos, what=ob.what, scope=ob.scope,
                           cadence_kind=ob.cadence.kind, origin=ob.cadence.origin,
                           generated=bool(getattr(ob, "generated", False)),
                           cadence=ob.cadence.model_dump(mode="json"), content_hash=odigest, doc=odoc, active=True,
                           units=_units(getattr(ob, "units", None)))
            if orow is None:
                orow = Obligation(plan_id=info.id, code=ob.id, **ovalues)
                session.add(orow)
                session.flush()
                report.obligations_added.append(ob.id)
                _write_parties(session, orow.id, ob.who)
            elif orow.content_hash != odigest or not orow.active or orow.clause_id != row.id or orow.position != opos:
                if orow.content_hash != odigest or not orow.active:
                    (report.obligations_changed if orow.active else report.obligations_added).append(ob.id)
                for k, v in ovalues.items():
                    setattr(orow, k, v)
                session.execute(delete(ObligationParty).where(ObligationParty.obligation_id == orow.id))
                _write_parties(session, orow.id, ob.who)
    for code, row in clauses.items():
        if code not in seen_clauses and row.active:
            row.active = False
            report.clauses_removed.append(code)
    for code, orow in obligations.items():
        if code not in seen_obligations and orow.active:
            orow.active = False
            report.obligations_removed.append(code)
    if not report.unchanged and not report.created:
        plan.updated_at = now
    session.flush()
    return report


def _write_departments(session: Session, clause_id: int, clause) -> None:
    rows = [dict(clause_id=clause_id, position=i, name=d.name, department_key=d.key, role=d.role)
            for i, d in enumerate(clause.departments)]
    if rows:
        session.execute(insert(ClauseDepartment), rows)


def _write_parties(session: Session, obligation_id: int, who: list[str]) -> None:
    session.execute(insert(ObligationParty),
                    [dict(obligation_id=obligation_id, position=i, party_key=k) for i, k in enumerate(who)])


def export_catalog(session: Session, plan_id: str) -> dict[str, Any]:
    """The loaded catalog as a document with the fixed field names (policy obligations included)."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise UnknownPlan(plan_id)
    clauses = session.scalars(select(Clause).where(Clause.plan_id == plan_id, Clause.active)
                              .order_by(Clause.position)).all()
    obs: dict[int, list[dict]] = {}
    for o in session.scalars(select(Obligation).where(Obligation.plan_id == plan_id, Obligation.active)
                             .order_by(Obligation.position)):
        obs.setdefault(o.clause_id, []).append(o.doc)
    return {"plan": plan.doc, "clauses": [c.doc | {"obligations": obs.get(c.id, [])} for c in clauses]}


def list_plans(session: Session) -> list[dict[str, Any]]:
    nclauses = dict(session.execute(select(Clause.plan_id, func.count()).where(Clause.active).group_by(Clause.plan_id)).all())
    counts: dict[tuple[str, str], int] = {}
    for plan_id, origin, n in session.execute(
        select(Obligation.plan_id, Obligation.origin, func.count()).where(Obligation.active)
        .group_by(Obligation.plan_id, Obligation.origin)
    ):
        counts[(plan_id, origin)] = n
    out = []
    for p in session.scalars(select(Plan).order_by(Plan.id)):
        out.append({
            "id": p.id, "title": p.title, "issuer": p.issuer, "locality": p.locality, "level": p.level,
            "issued": p.issued.isoformat() if p.issued else None, "clauses": nclauses.get(p.id, 0),
            "obligations_stated": counts.get((p.id, "stated"), 0),
            "obligations_policy": counts.get((p.id, "policy"), 0),
            "updated_at": p.updated_at.isoformat(timespec="seconds"),
        })
    return out


def list_obligations(session: Session, *, plan: str | None = None, department: str | None = None,
                     origin: str | None = None) -> list[dict[str, Any]]:
    """Active obligations with their clause and parties, in catalog order."""
    query = (select(Obligation, Clause).join(Clause, Clause.id == Obligation.clause_id)
             .where(Obligation.active).order_by(Obligation.plan_id, Clause.position, Obligation.position))
    if plan:
        if session.get(Plan, plan) is None:
            raise UnknownPlan(plan)
        query = query.where(Obligation.plan_id == plan)
    if origin:
        query = query.where(Obligation.origin == origin)
    if department:
        query = query.where(Obligation.id.in_(
            select(ObligationParty.obligation_id).where(ObligationParty.party_key == department)))
    rows = session.execute(query).all()
    parties: dict[int, list[str]] = {}
    ids = [o.id for o, _ in rows]
    for chunk in range(0, len(ids), 500):
        for oid, key in session.execute(
            select(ObligationParty.obligation_id, ObligationParty.party_key)
            .where(ObligationParty.obligation_id.in_(ids[chunk:chunk + 500])).order_by(ObligationParty.position)
        ):
            parties.setdefault(oid, []).append(key)
    out = []
    for o, c in rows:
        cad = o.cadence
        out.append({
            "plan": o.plan_id, "clause": c.code, "clause_title": c.title, "obligation": o.code, "what": o.what,
            "who": parties.get(o.id, []), "scope": o.scope, "kind": o.cadence_kind, "count": cad.get("count", 1),
            "months": cad.get("months"), "rrule": cad.get("rrule"), "start": cad.get("start"), "deadline": cad.get("deadline"),
            "after": cad.get("after"), "origin": o.origin, "text": cad.get("text"), "generated": o.generated,
        })
    return out


def list_departments(session: Session) -> list[dict[str, Any]]:
    used = dict(session.execute(
        select(ObligationParty.party_key, func.count(func.distinct(ObligationParty.obligation_id)))
        .join(Obligation, Obligation.id == ObligationParty.obligation_id).where(Obligation.active)
        .group_by(ObligationParty.party_key)).all())
    out = []
    for d in session.scalars(select(Department).order_by(Department.kind, Department.key)):
        doc = d.doc
        names = doc.get("names") or {}
        out.append({"key": d.key, "kind": d.kind, "name": d.name,
                    "levels": doc.get("levels") or ([doc["level"]] if doc.get("level") else []),
                    "names": names, "aliases": doc.get("aliases", []), "obligations": used.get(d.key, 0)})
    return out


def _units(codes: list | None) -> str | None:
    """A catalog's ``units`` as stored: /code/code/ (materialize matches a unit's code inside it)."""
    return "/" + "/".join(str(c) for c in codes) + "/" if codes else None
