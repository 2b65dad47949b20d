"""The coordinator's and supervisor's dashboard."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlmodel import Session

from obligations.periods import PeriodSyntaxError, parse_period
from obligations.words import period_words
from reports import charts
from reports.cache import figures as build_report
from storage import views
from storage.access import Principal
from storage.occurrences import OccurrenceError
from web.deps import db, page_user, unit_in_area
from web.templating import render, today

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- dashboard

@router.get("/dashboard")
def dashboard(request: Request, plan: str = "", clause: str = "", department: str = "", jurisdiction: str = "",
              period: str = "", p: Principal = Depends(page_user), session: Session = db):
    if not p.sees_area:
        raise HTTPException(403, "工作台仅供协调员和督查人员使用")
    day = today(request)
    period = period or str(day.year)
    try:
        start, end = parse_period(period)
    except PeriodSyntaxError as exc:
        raise HTTPException(400, str(exc)) from None
    unit = unit_in_area(session, p, jurisdiction)
    try:
        data = build_report(session, start=start, end=end, today=day, plan=plan or None, jurisdiction=unit.code,
                            department=department or None, clause=clause or None,
                            soon_days=request.app.state.settings.due_soon_days, top=100)
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None
    return render(request, "dashboard.html", {
        "user": p, "data": data, "period_words": period_words(start, end),
        "bars": charts.department_bars(data.by_department), "heat": charts.heat_map(data.heat, data.months),
        "filters": {"plan": plan, "clause": clause, "department": department, "jurisdiction": jurisdiction or unit.name,
                    "period": period},
        **views.dashboard_choices(session, p, plan or None),
        "flagged": views.flagged_completions(session, p, start=start, end=end),
        "grace": request.app.state.settings.completion_grace_days,
    })


