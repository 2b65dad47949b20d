"""Who owes each obligation of a loaded plan, and why an obligation owes nothing: ``duban plans
check`` and the materialize summary. Counts come from one GROUP BY over the plan's items; the
reasons are looked up only for the obligations with none."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session

from obligations.words import LEVEL_NAMES
from storage.catalog_repo import UnknownPlan
from storage.tables import (
    Case,
    Clause,
    Contact,
    Department,
    Jurisdiction,
    Obligation,
    ObligationParty,
    Occurrence,
    Plan,
    SchedulePeriod,
)


@dataclass
class ObligationCheck:
    plan: str
    clause: str
    obligation: str
    what: str
    scope: str
    parties: list[str]
    units: int           # distinct units owing
    owing: int           # distinct (unit, department, case) owing
    items: int
    reason: str | None   # why nothing is owed; None when items exist

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def check_plan(session: Session, plan_id: str) -> list[ObligationCheck]:
    from storage.schedule import plan_unit

    plan = session.get(Plan, plan_id)
    if plan is None:
        raise UnknownPlan(plan_id)
    unit = plan_unit(session, plan)
    counts = {oid: (u, o, n) for oid, u, o, n in session.execute(
        select(Occurrence.obligation_id, func.count(sa.distinct(Occurrence.jurisdiction_id)),
               func.count(sa.distinct(sa.func.coalesce(sa.cast(Occurrence.case_id, sa.String), "")
                                      + ":" + Occurrence.party_key + ":"
                                      + sa.cast(Occurrence.jurisdiction_id, sa.String))),
               func.count())
        .where(Occurrence.plan_id == plan_id).group_by(Occurrence.obligation_id))}
    parties: dict[int, list[str]] = {}
    for oid, key in session.execute(select(ObligationParty.obligation_id, ObligationParty.party_key)
                                    .join(Obligation, Obligation.id == ObligationParty.obligation_id)
                                    .where(Obligation.plan_id == plan_id)
                                    .order_by(ObligationParty.obligation_id, ObligationParty.position)):
        parties.setdefault(oid, []).append(key)
    names = dict(session.execute(select(Department.key, Department.name)).all())
    out = []
    rows = session.execute(select(Obligation, Clause.code).join(Clause, Clause.id == Obligation.clause_id)
                           .where(Obligation.plan_id == plan_id, Obligation.active)
                           .order_by(Clause.position, Obligation.position)).all()
    for ob, clause in rows:
        units, owing, items = counts.get(ob.id, (0, 0, 0))
        who = parties.get(ob.id, [])
        reason = None if items else _why(session, plan, unit, ob, who, names)
        out.append(ObligationCheck(plan_id, clause, ob.code, ob.what, ob.scope, [names.get(k, k) for k in who],
                                   units, owing, items, reason))
    return out


def _why(session: Session, plan: Plan, unit: Jurisdiction | None, ob: Obligation, who: list[str],
         names: dict[str, str]) -> str:
    if unit is None:
        return f"计划的地区“{plan.locality}”不在部门目录中（duban jurisdictions import {plan.locality}）"
    if ob.cadence_kind == "event":
        return "事件触发：所依据的事项办结后才生成"
    if not session.scalar(select(func.count()).select_from(SchedulePeriod).where(SchedulePeriod.obligation_id == ob.id)):
        return "尚未生成期间（运行 duban materialize；或开始日期尚未到）"
    named = "、".join(names.get(k, k) for k in who) or "（无责任部门）"
    if ob.scope == "case":
        cases = session.scalar(select(func.count()).select_from(Case).join(Jurisdiction, Jurisdiction.id == Case.jurisdiction_id)
                               .where(Jurisdiction.path.like(unit.path + "%"), Case.closed.is_(None)))
        return ("没有在册的重点关爱对象（duban cases import 台账.xlsx）" if not cases
                else "尚未生成事项（运行 duban materialize）")
    if ob.scope == "issuer":
        targets = [unit.id]
        where = unit.name
    else:
        q = select(Jurisdiction.id).where(Jurisdiction.level == ob.scope, Jurisdiction.path.like(unit.path + "%"))
        codes = ob.units.strip("/").split("/") if ob.units else []
        targets = list(session.scalars(q.where(Jurisdiction.code.in_(codes)) if codes else q))
        where = f"{unit.name}的{LEVEL_NAMES.get(ob.scope, ob.scope)}单位"
        if codes and not targets:          # catalog units: only those units owe it
            return f"所列单位（区划代码 {'、'.join(codes)}）不在{unit.name}之内"
        if not targets and ob.scope == "village":
            return (f"{unit.name}下没有村（社区）单位：行政区划数据只到乡镇（街道），"
                    "村（社区）请在部门目录 directory.yaml 中补充")
        if not targets:
            return (f"{unit.name}下没有{LEVEL_NAMES.get(ob.scope, ob.scope)}单位"
                    f"（duban jurisdictions import {unit.code} --depth {_depth(ob.scope)}）")
    held = session.scalar(select(func.count()).select_from(Contact).where(
        Contact.jurisdiction_id.in_(targets), Contact.department_key.in_(who))) if who else 0
    if not held:
        return f"{named}不设在{where}（部门目录中该层级没有这个部门）"
    return "尚未生成事项（运行 duban materialize）"


def _depth(level: str) -> str:
    return level if level in ("county", "township") else "township"
