"""The coordinator's and supervisor's dashboard: the figures of the period, and its lists at
real size (the overdue items and the late entries to check), each counted, paged, searched and
sorted in SQL with the filters in the URL, and exported to Excel as filtered."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy import select
from sqlmodel import Session

from obligations import words
from obligations.periods import PeriodSyntaxError, parse_period
from reports import charts
from reports.cache import figures as build_report
from storage import views
from storage.access import Principal, occurrence_filter
from storage.occurrences import OccurrenceError
from storage.tables import Completion, Department, Jurisdiction, Obligation, Occurrence
from web import itemrows, listing
from web.deps import db, page_user, unit_in_area
from web.pages.common import period_options
from web.templating import render, today

router = APIRouter(include_in_schema=False)
FLAGGED_SORTS = {"recorded": "登记时间", "due": "截止日期", "unit": "地区"}


# ---------------------------------------------------------------- dashboard

@router.get("/dashboard")
def dashboard(request: Request, plan: str = "", clause: str = "", department: str = "", jurisdiction: str = "",
              period: str = "", p: Principal = Depends(page_user), session: Session = db):
    if not p.sees_area:
        raise HTTPException(403, "工作台仅供协调员和督查人员使用")
    day = today(request)
    settings = request.app.state.settings
    period = period or str(day.year)
    try:
        start, end = parse_period(period)
    except PeriodSyntaxError as exc:
        raise HTTPException(400, str(exc)) from None
    unit = unit_in_area(session, p, jurisdiction)
    soon = settings.due_soon_days
    # the overdue items (o_…) and the late entries to check (f_…): two lists, two prefixes
    overdue = listing.read(request, sorts=itemrows.SORTS_OVERDUE, default_sort="late", default_desc=True, prefix="o_")
    flagged = listing.read(request, sorts=FLAGGED_SORTS, default_sort="recorded", default_desc=True, prefix="f_")
    try:
        data = build_report(session, start=start, end=end, today=day, plan=plan or None, jurisdiction=unit.code,
                            department=department or None, clause=clause or None, soon_days=soon, top=0,
                            scoring=settings.report.scoring.rules())      # scored once, here (_scores.html)
        overdue_q = itemrows.with_escalation(itemrows.query(
            session, today=day, soon_days=soon, where=occurrence_filter(p), statuses=("overdue",),
            plan=plan or None, department=department or None, jurisdiction=unit.code, date_from=start,
            date_to=end, clause=clause if plan and clause else None, q=overdue.q))
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None
    calendar = settings.calendar()
    flagged_q = _flagged_query(p, start, end, flagged.q)
    if overdue.export:
        total = itemrows.count(session, overdue_q)
        listing.check_export(total)
        rows = itemrows.export_rows(session, itemrows.ordered(overdue_q, overdue, day, soon), today=day,
                                    calendar=calendar)
        return listing.xlsx_response(f"逾期未办事项 {unit.name} {words.period_words(start, end)}",
                                     itemrows.export_columns(overdue=True), rows, day=day)
    if flagged.export:
        total = itemrows.count(session, flagged_q)
        listing.check_export(total)
        rows = session.execute(_flagged_order(flagged_q, flagged)).mappings()
        return listing.xlsx_response(f"补登待核 {unit.name} {words.period_words(start, end)}", FLAGGED_COLUMNS,
                                     rows, day=day, zone=_zone(request))
    overdue.count(itemrows.count(session, overdue_q))
    overdue_rows = itemrows.rows(session, itemrows.ordered(overdue_q, overdue, day, soon)
                                 .limit(overdue.limit).offset(overdue.offset), today=day, calendar=calendar)
    flagged.count(itemrows.count(session, flagged_q))
    flagged_rows = session.execute(_flagged_order(flagged_q, flagged).limit(flagged.limit)
                                   .offset(flagged.offset)).mappings().all()
    choices = views.dashboard_choices(session, p, plan or None)
    return render(request, "dashboard.html", {
        "periods": period_options(day, period),
        "user": p, "data": data, "period_words": words.period_words(start, end),
        "bars": charts.department_bars(data.by_department), "heat": charts.heat_map(data.heat, data.months),
        "filters": {"plan": plan, "clause": clause, "department": department, "jurisdiction": jurisdiction or unit.name,
                    "period": period},
        **choices, "plan_names": dict(choices["plans"]),
        "overdue": overdue, "overdue_rows": overdue_rows, "flagged": flagged, "flagged_rows": flagged_rows,
        "grace": settings.completion_grace_days,
    })


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def _flagged_query(p: Principal, start, end, q: str):
    """Completions entered more than the grace after their claimed day (补登待核) on items
    ``p`` may see, due within [start, end]."""
    query = (select(Completion.id, Completion.occurrence_id, Completion.done_on, Completion.judged_on,
                    Completion.recorded_at, Completion.actor, Completion.channel, Occurrence.due, Obligation.what,
                    Jurisdiction.name.label("unit"), Department.name.label("department"))
             .join(Occurrence, Occurrence.id == Completion.occurrence_id)
             .join(Obligation, Obligation.id == Occurrence.obligation_id)
             .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
             .join(Department, Department.key == Occurrence.party_key)
             .where(Completion.flagged, occurrence_filter(p), Occurrence.due >= start, Occurrence.due <= end))
    found = listing.search(q, Obligation.what, Jurisdiction.name, Department.name, Completion.actor)
    return query.where(found) if found is not None else query


def _flagged_order(q, lst: listing.Listing):
    return q.order_by(*listing.order(lst, {"recorded": Completion.recorded_at, "due": Occurrence.due,
                                           "unit": (Jurisdiction.path, Department.name)}, Completion.id))


FLAGGED_COLUMNS = [listing.Column("地区", "unit"), listing.Column("责任部门", "department"),
                   listing.Column("事项", "what", width=40), listing.Column("截止日期", "due", "date"),
                   listing.Column("填报的办理日期", "done_on", "date"), listing.Column("登记时间", "recorded_at", "datetime"),
                   listing.Column("判定日期", "judged_on", "date"), listing.Column("登记人", "actor"),
                   listing.Column("登记渠道", lambda r: words.channel_name(r["channel"]))]
