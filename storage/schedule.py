"""Materialize: obligations → schedule periods → occurrences, set-based.

Each obligation's cadence is expanded once in Python (a handful of periods) into
``schedule_period``; assignees and cases are fanned out in SQL with one
``INSERT … SELECT … ON CONFLICT DO NOTHING`` per plan and scope, so the database does the
million-row work and a second run inserts nothing. A revised catalog replaces only open future
occurrences (no completion, not waived, period not yet begun); history is never rewritten."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from obligations.cadence import event_due, expand, obligation_start
from obligations.catalog import co_departments, content_hash
from obligations.workcal import WorkCalendar
from storage.db import refresh_statistics
from storage.tables import (
    CoConfirmation,
    Completion,
    Jurisdiction,
    Notice,
    Obligation,
    ObligationParty,
    Occurrence,
    Plan,
    SchedulePeriod,
)


@dataclass
class MaterializeReport:
    until: dt.date
    periods_added: int = 0
    periods_replaced: int = 0
    occurrences_added: int = 0
    occurrences_removed: int = 0
    events_added: int = 0
    confirmations_added: int = 0      # co-department confirmation rows (co_departments: confirm)
    by_plan: dict[str, int] = field(default_factory=dict)
    unplaced_plans: list[str] = field(default_factory=list)        # locality not in the directory
    unassigned: list[str] = field(default_factory=list)            # obligations nobody owes
    calendar_fallback_years: list[int] = field(default_factory=list)


def _schedule_hash(ob: Obligation, parties: list[str], start: dt.date, mode: str = "separate") -> str:
    value = {"cadence": ob.cadence, "scope": ob.scope, "who": parties, "start": start.isoformat()}
    if mode != "separate":    # only then: the hashes of every existing schedule stay as they were
        value["co_departments"] = mode
    if ob.units:              # only when set, likewise
        value["units"] = ob.units
    return content_hash(value)


def confirm_obligations(plans: dict[str, Plan], obligations) -> list[int]:
    """The active obligations whose co-departments confirm on the lead's item (``co_departments:
    confirm`` on the obligation or its plan)."""
    return [ob.id for ob in obligations
            if ob.active and co_departments(plans[ob.plan_id].doc if ob.plan_id in plans else None, ob.doc) == "confirm"]


def plan_unit(session: Session, plan: Plan) -> Jurisdiction | None:
    """The jurisdiction a plan was issued for: its locality at its level (an ad-hoc assignment
    names its unit by code, as unit names repeat across a province)."""
    code = (plan.doc or {}).get("unit_code")
    if code:
        return session.scalar(select(Jurisdiction).where(Jurisdiction.code == code))
    rows = session.scalars(select(Jurisdiction).where(Jurisdiction.name == plan.locality)).all()
    same_level = [j for j in rows if j.level == plan.level]
    return (same_level or rows or [None])[0]


def materialize(engine: Engine, calendar: WorkCalendar, until: dt.date, *, today: dt.date,
                default_start: dt.date, window_from: dt.date | None = None) -> MaterializeReport:
    report = MaterializeReport(until)
    with Session(engine) as session, session.begin():
        plans = {p.id: p for p in session.scalars(select(Plan))}
        parties: dict[int, list[str]] = {}
        for oid, key in session.execute(select(ObligationParty.obligation_id, ObligationParty.party_key)
                                        .order_by(ObligationParty.obligation_id, ObligationParty.position)):
            parties.setdefault(oid, []).append(key)
        obligations = session.scalars(select(Obligation)).all()
        confirm = confirm_obligations(plans, obligations)
        confirm_set = set(confirm)
        _retire(session, [o.id for o in obligations if not o.active], today, report)
        existing: dict[int, dict[str, str]] = {}
        for oid, key, digest in session.execute(select(SchedulePeriod.obligation_id, SchedulePeriod.period_key,
                                                       SchedulePeriod.schedule_hash)):
            existing.setdefault(oid, {})[key] = digest
        cache: dict[tuple, list] = {}
        new_periods = []
        for ob in obligations:
            if not ob.active or ob.cadence_kind == "event":
                continue
            start = obligation_start(ob.cadence, plans[ob.plan_id].doc, default_start)
            digest = _schedule_hash(ob, parties.get(ob.id, []), start,
                                    "confirm" if ob.id in confirm_set else "separate")
            have = existing.get(ob.id, {})
            stale = [k for k, h in have.items() if h != digest]
            if stale:
                report.periods_replaced += _replace_future(session, ob.id, stale, today, digest, report)
                have = {k: h for k, h in have.items() if h == digest or k in _kept(session, ob.id, stale)}
            cache_key = (content_hash(ob.cadence), start, window_from)
            if cache_key not in cache:
                cache[cache_key] = expand(ob.cadence, start, until, calendar, window_from)
            for p in cache[cache_key]:
                if p.key not in have:
                    new_periods.append(dict(obligation_id=ob.id, period_key=p.key, period_start=p.start,
                                            period_end=p.end, due=p.due, required=int(ob.cadence.get("count") or 1),
                                            schedule_hash=digest))
        if new_periods:
            session.execute(insert_ignore(SchedulePeriod.__table__, session.get_bind().dialect.name), new_periods)
            report.periods_added = len(new_periods)
        for plan in plans.values():
            unit = plan_unit(session, plan)
            if unit is None:
                report.unplaced_plans.append(plan.id)
                continue
            added = _fan_out(session, plan.id, unit, until, confirm)
            report.by_plan[plan.id] = added
            report.occurrences_added += added
        report.events_added = spawn_events(session, calendar)
        report.confirmations_added = co_confirmations(session, confirm)
        refresh_statistics(session.connection(), ("occurrence", "schedule_period"), report.occurrences_added)
        report.unassigned = _unassigned(session, until)
    report.calendar_fallback_years = sorted(calendar.fallback_years)
    return report


def insert_ignore(table: sa.Table, dialect_name: str):
    """INSERT … ON CONFLICT DO NOTHING for SQLite and PostgreSQL (executemany-friendly)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing()


def _fan_out(session: Session, plan_id: str, unit: Jurisdiction, until: dt.date, confirm: list[int] = ()) -> int:
    """One INSERT … SELECT per scope family for this plan: units at a level within the plan's
    locality (only units that hold the party's department), the issuer unit itself, and open
    cases (the period after opening, until closing). An obligation in ``confirm``
    (``co_departments: confirm``) makes items for its lead (the first party) only."""
    cols = ("obligation_id, plan_id, jurisdiction_id, party_key, case_id, period_key, period_start, "
            "period_end, due, required, done_count")
    common = ("FROM schedule_period sp JOIN obligation o ON o.id = sp.obligation_id "
              "JOIN obligation_party op ON op.obligation_id = o.id ")
    statements = [
        # the issuing body itself
        f"INSERT INTO occurrence ({cols}) SELECT sp.obligation_id, o.plan_id, :unit, op.party_key, NULL, "
        f"sp.period_key, sp.period_start, sp.period_end, sp.due, sp.required, 0 {common}"
        "JOIN contact c ON c.jurisdiction_id = :unit AND c.department_key = op.party_key "
        "WHERE o.plan_id = :plan AND o.active AND (op.position = 0 OR o.id NOT IN :confirm) AND o.scope = 'issuer' AND sp.period_start <= :until "
        "ON CONFLICT DO NOTHING",
        # every unit at the obligation's level within the plan's locality (only those it names)
        f"INSERT INTO occurrence ({cols}) SELECT sp.obligation_id, o.plan_id, j.id, op.party_key, NULL, "
        f"sp.period_key, sp.period_start, sp.period_end, sp.due, sp.required, 0 {common}"
        "JOIN jurisdiction j ON j.level = o.scope AND j.path LIKE :path "
        "AND (o.units IS NULL OR o.units LIKE '%/' || j.code || '/%') "
        "JOIN contact c ON c.jurisdiction_id = j.id AND c.department_key = op.party_key "
        "WHERE o.plan_id = :plan AND o.active AND (op.position = 0 OR o.id NOT IN :confirm) AND o.scope IN ('province','city','county','township','village') "
        "AND sp.period_start <= :until ON CONFLICT DO NOTHING",
        # every open key-child case within the locality: from the period after opening
        f"INSERT INTO occurrence ({cols}) SELECT sp.obligation_id, o.plan_id, k.jurisdiction_id, op.party_key, k.id, "
        f"sp.period_key, sp.period_start, sp.period_end, sp.due, sp.required, 0 {common}"
        "JOIN care_case k ON sp.period_start > k.opened AND (k.closed IS NULL OR sp.period_end <= k.closed) "
        "JOIN jurisdiction j ON j.id = k.jurisdiction_id AND j.path LIKE :path "
        "WHERE o.plan_id = :plan AND o.active AND (op.position = 0 OR o.id NOT IN :confirm) AND o.scope = 'case' AND sp.period_start <= :until "
        "ON CONFLICT DO NOTHING",
    ]
    params = {"plan": plan_id, "unit": unit.id, "path": unit.path + "%", "until": until, "confirm": list(confirm)}
    added = 0
    for sql in statements:
        added += session.execute(sa.text(sql).bindparams(sa.bindparam("confirm", expanding=True)), params).rowcount or 0
    return added


CONFIRMATIONS_SQL = sa.text(
    # every lead item of a confirm obligation gets one pending row per co-department (a party
    # after the first) that has a contact at the item's unit, unless that co-department owns an
    # item of its own for the same period (made before the obligation switched to confirm)
    "INSERT INTO co_confirmation (occurrence_id, party_key) SELECT x.id, op.party_key FROM occurrence x "
    "JOIN obligation_party lp ON lp.obligation_id = x.obligation_id AND lp.position = 0 AND lp.party_key = x.party_key "
    "JOIN obligation_party op ON op.obligation_id = x.obligation_id AND op.position > 0 AND op.party_key <> x.party_key "
    "JOIN contact c ON c.jurisdiction_id = x.jurisdiction_id AND c.department_key = op.party_key "
    "WHERE x.obligation_id IN :confirm AND NOT EXISTS (SELECT 1 FROM occurrence y WHERE "
    "y.obligation_id = x.obligation_id AND y.jurisdiction_id = x.jurisdiction_id AND y.party_key = op.party_key "
    "AND coalesce(y.case_id, 0) = coalesce(x.case_id, 0) AND y.period_key = x.period_key) "
    "ON CONFLICT DO NOTHING").bindparams(sa.bindparam("confirm", expanding=True))

# pending confirmations whose item is gone or whose obligation no longer asks for them (switched
# back to separate); confirmations given stay on record
STALE_CONFIRMATIONS_SQL = sa.text(
    "DELETE FROM co_confirmation WHERE confirmed_at IS NULL AND NOT EXISTS (SELECT 1 FROM occurrence x "
    "WHERE x.id = co_confirmation.occurrence_id AND x.obligation_id IN :confirm)"
).bindparams(sa.bindparam("confirm", expanding=True))


def co_confirmations(session: Session, confirm: list[int]) -> int:
    """Set-based: drop stale pending confirmation rows, add the missing ones. Returns rows added."""
    session.execute(STALE_CONFIRMATIONS_SQL, {"confirm": list(confirm)})
    return add_confirmations(session, confirm)


def add_confirmations(session: Session, confirm: list[int]) -> int:
    """The missing pending confirmation rows of these confirm obligations' lead items."""
    if not confirm:
        return 0
    return session.execute(CONFIRMATIONS_SQL, {"confirm": list(confirm)}).rowcount or 0


def _untouched() -> tuple:
    """An occurrence nobody has acted on and nobody has been told about: no completion, no
    waiver, no notice (a reminder can precede a short period's start). Only those are removed
    when a catalog changes; the rest is history. (A returned completion leaves the count at 0
    but stays on record: its item is not untouched.)"""
    return (Occurrence.done_count == 0, Occurrence.waived_at.is_(None),
            ~sa.exists().where(Notice.occurrence_id == Occurrence.id),
            ~sa.exists().where(Completion.occurrence_id == Occurrence.id),
            ~sa.exists().where(CoConfirmation.occurrence_id == Occurrence.id, CoConfirmation.confirmed_at.is_not(None)))


def _retire(session: Session, obligation_ids: list[int], today: dt.date, report: MaterializeReport) -> None:
    """Obligations removed from their catalog: drop their open future occurrences and periods."""
    if not obligation_ids:
        return
    report.occurrences_removed += session.execute(
        delete(Occurrence).where(Occurrence.obligation_id.in_(obligation_ids), Occurrence.period_start > today,
                                 *_untouched())).rowcount or 0
    session.execute(delete(SchedulePeriod).where(SchedulePeriod.obligation_id.in_(obligation_ids),
                                                 SchedulePeriod.period_start > today))


def _replace_future(session: Session, obligation_id: int, keys: list[str], today: dt.date, digest: str,
                    report: MaterializeReport) -> int:
    """A revised cadence, scope or party list: remove open occurrences of future periods that
    were computed under the old schedule. Periods already begun keep their rows and are
    re-stamped with the new schedule, so later runs do not revisit them."""
    future = [k for (k,) in session.execute(
        select(SchedulePeriod.period_key).where(SchedulePeriod.obligation_id == obligation_id,
                                                SchedulePeriod.period_key.in_(keys),
                                                SchedulePeriod.period_start > today))]
    begun = [k for k in keys if k not in future]
    if begun:
        session.execute(sa.update(SchedulePeriod.__table__).where(
            SchedulePeriod.__table__.c.obligation_id == obligation_id,
            SchedulePeriod.__table__.c.period_key.in_(begun)).values(schedule_hash=digest))
    if not future:
        return 0
    report.occurrences_removed += session.execute(
        delete(Occurrence).where(Occurrence.obligation_id == obligation_id, Occurrence.period_key.in_(future),
                                 *_untouched())).rowcount or 0
    session.execute(delete(SchedulePeriod).where(SchedulePeriod.obligation_id == obligation_id,
                                                 SchedulePeriod.period_key.in_(future)))
    return len(future)


def _kept(session: Session, obligation_id: int, keys: list[str]) -> set[str]:
    """Of ``keys``, the periods that still exist (begun ones, re-stamped)."""
    return {k for (k,) in session.execute(select(SchedulePeriod.period_key).where(
        SchedulePeriod.obligation_id == obligation_id, SchedulePeriod.period_key.in_(keys)))}


def spawn_events(session: Session, calendar: WorkCalendar) -> int:
    """Event obligations (报送备案 within 10 days of issuing): one occurrence per completed
    predecessor occurrence, for the same unit and case, due N days or working days after."""
    events = session.scalars(select(Obligation).where(Obligation.active, Obligation.cadence_kind == "event")).all()
    added = 0
    for ev in events:
        after = ev.cadence["after"]
        pred = session.scalar(select(Obligation.id).where(Obligation.plan_id == ev.plan_id,
                                                           Obligation.code == after["obligation"]))
        if pred is None:
            continue
        who = [k for (k,) in session.execute(select(ObligationParty.party_key)
                                             .where(ObligationParty.obligation_id == ev.id)
                                             .order_by(ObligationParty.position))]
        plan = session.get(Plan, ev.plan_id)
        parties = who
        if co_departments(plan.doc if plan else None, ev.doc) == "confirm":
            who = who[:1]     # the lead's item; co_confirmations adds the co-departments' rows
        done = session.execute(
            select(Occurrence.jurisdiction_id, Occurrence.case_id, Occurrence.period_key, Occurrence.completed_on)
            .where(Occurrence.obligation_id == pred, Occurrence.completed_on.is_not(None))
            .distinct()).all()
        rows = []
        for unit, case, key, completed in done:
            due = event_due(after, completed, calendar)
            rows += [dict(obligation_id=ev.id, plan_id=ev.plan_id, jurisdiction_id=unit, party_key=k, case_id=case,
                          period_key=key, period_start=completed, period_end=due, due=due,
                          required=int(ev.cadence.get("count") or 1), done_count=0) for k in who]
        if rows:
            before = _count(session, ev.id)
            session.execute(insert_ignore(Occurrence.__table__, session.get_bind().dialect.name), rows)
            added += _count(session, ev.id) - before
            if len(who) < len(parties):
                add_confirmations(session, [ev.id])
    return added


def _count(session: Session, obligation_id: int) -> int:
    return session.scalar(select(sa.func.count()).select_from(Occurrence).where(Occurrence.obligation_id == obligation_id))


def _unassigned(session: Session, until: dt.date) -> list[str]:
    """Active, non-event obligations with periods but no occurrence at all (e.g. a department
    the directory has at no unit of that level)."""
    q = sa.text(
        "SELECT o.plan_id || ':' || o.code FROM obligation o WHERE o.active AND o.cadence_kind <> 'event' "
        "AND o.scope <> 'case' AND EXISTS (SELECT 1 FROM schedule_period sp WHERE sp.obligation_id = o.id "
        "AND sp.period_start <= :until) AND NOT EXISTS (SELECT 1 FROM occurrence x WHERE x.obligation_id = o.id) "
        "ORDER BY 1")
    return [r for (r,) in session.execute(q, {"until": until})]
