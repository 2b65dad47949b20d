"""/api/v1: the same data and rules as the pages, for other systems. Bearer tokens act as their
account (duban users token NAME); a department's token sees what that department owes."""
from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from obligations.periods import PeriodSyntaxError, parse_period
from obligations.status import STATUSES
from reports.cache import figures as build_report
from storage import occurrences as occ
from storage import views, workflow
from storage.access import Principal, occurrence_filter
from storage.evidence import MAX_BYTES, Evidence
from storage.occurrences import OccurrenceError
from web.deps import api_user, db, unit_in_area

router = APIRouter(prefix="/api/v1", tags=["督办"])
ItemId = Path(..., ge=1, le=2**62, description="督办事项编号")
Status = Literal["open", "due_soon", "overdue", "done", "done_late", "waived", "submitted"]


class ProgressBrief(BaseModel):
    percent: int = Field(..., description="完成进度（%）")
    on: dt.date = Field(..., description="反馈日期")


class OccurrenceOut(BaseModel):
    id: int
    plan: str
    clause: str
    clause_title: str | None
    obligation: str
    what: str
    assignee: str
    assignee_name: str
    jurisdiction: str
    jurisdiction_code: str
    case: str | None
    period: str
    period_start: dt.date
    period_end: dt.date
    due: dt.date
    required: int
    done: int
    completed_on: dt.date | None
    status: Status
    original_due: dt.date | None = Field(None, description="批准延期前的原截止日期")
    returns: int | None = Field(None, description="办结情况被退回的次数（单个事项）")
    return_reason: str | None = Field(None, description="最近一次退回的理由（事项因退回而重新打开时）")
    progress: ProgressBrief | None = Field(None, description="最新进度反馈（列表中给出）")


class AcceptIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(..., min_length=1, max_length=1000, description="待审核的督办事项编号（一次至多 1000 项）")
    note: str | None = Field(None, description="审核意见（2000 字以内）")
    anyway: bool = Field(False, description="协办部门未全部确认也审核通过（须填写审核意见）")


class ReturnIn(BaseModel):
    reason: str = Field(..., description="退回理由（必填，2000 字以内），责任单位将在通知中看到")


class EvidenceIn(BaseModel):
    filename: str = Field(..., min_length=1, max_length=200, description="文件名，如 走访记录.pdf")
    content_base64: str = Field(..., max_length=(MAX_BYTES + 2) * 4 // 3 + 4,
                                description="文件内容（Base64），PDF/JPG/PNG/DOCX/XLSX，10 MB 以内")


class CompletionIn(BaseModel):
    count: int = Field(1, description="本次完成的次数（1–1000）")
    note: str | None = Field(None, description="办理情况说明（2000 字以内）")
    done_on: dt.date | None = Field(None, description="办理日期，默认今天")
    evidence: EvidenceIn | None = Field(None, description="佐证材料（可选）")


class CompletionOut(BaseModel):
    id: int
    done_on: dt.date = Field(..., description="填报的办理日期")
    judged_on: dt.date = Field(..., description="判定是否按期所用的日期（补登时为登记日期）")
    flagged: bool = Field(..., description="补登待核：办理日期早于登记日期超过宽限的工作日数")
    occurrence: OccurrenceOut


class PlanOut(BaseModel):
    id: str
    title: str
    issuer: str
    locality: str
    level: str
    issued: dt.date | None


class DepartmentOut(BaseModel):
    key: str
    name: str


class Me(BaseModel):
    username: str
    role: str
    jurisdiction: str
    department: str | None


@router.get("/me", response_model=Me, summary="当前令牌的账号")
def me(p: Principal = Depends(api_user)):
    return Me(username=p.username, role=p.role, jurisdiction=p.jurisdiction_name, department=p.department_key)


@router.get("/occurrences", response_model=list[OccurrenceOut], summary="督办事项（按截止日期排序）")
def occurrences(request: Request, status: list[Status] = Query(default=[]), plan: str | None = None,
                department: str | None = None, due_from: dt.date | None = None, due_to: dt.date | None = None,
                limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=10_000_000),
                p: Principal = Depends(api_user), session: Session = db):
    try:
        return occ.list_occurrences(session, today=request.app.state.today(), plan=plan, department=department,
                                    date_from=due_from, date_to=due_to, statuses=tuple(status) or None,
                                    limit=limit, offset=offset, where=occurrence_filter(p))
    except OccurrenceError as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/occurrences/{occurrence_id}", response_model=OccurrenceOut, summary="一项督办事项",
            responses={404: {"description": "不存在或无权查看"}})
def occurrence(request: Request, occurrence_id: int = ItemId, *, p: Principal = Depends(api_user), session: Session = db):
    try:
        return occ.occurrence_detail(session, occurrence_id, today=request.app.state.today(),
                                     where=occurrence_filter(p))
    except OccurrenceError:
        raise HTTPException(404, f"没有编号为 {occurrence_id} 的督办事项，或无权查看") from None


@router.post("/occurrences/{occurrence_id}/completions", response_model=CompletionOut, status_code=201,
             summary="登记办理情况", responses={404: {"description": "不存在或无权查看"},
                                          403: {"description": "只读账号"}, 409: {"description": "已办结或已豁免"},
                                          422: {"description": "日期、次数、说明或附件不符合要求"}})
def complete(request: Request, body: CompletionIn, occurrence_id: int = ItemId, *, p: Principal = Depends(api_user),
             session: Session = db):
    day = request.app.state.today()
    settings = request.app.state.settings
    c = workflow.complete(session, occurrence_id, by=workflow.Actor(p.username, "api", p), count=body.count,
                          done_on=body.done_on, note=body.note, evidence=_evidence(body.evidence),
                          setting=workflow.Setting.of(settings, day))
    session.flush()
    return CompletionOut(id=c.id, done_on=c.done_on, judged_on=c.judged_on, flagged=c.flagged,
                         occurrence=occ.occurrence_detail(session, occurrence_id, today=day))


@router.post("/review/accept", response_model=list[OccurrenceOut], summary="办结审核：审核通过（可批量）",
             responses={404: {"description": "不存在或无权查看"}, 403: {"description": "非协调员"},
                        409: {"description": "不在待审核状态"}, 422: {"description": "编号或意见不符合要求"}})
def review_accept(request: Request, body: AcceptIn, p: Principal = Depends(api_user), session: Session = db):
    """Accepted items count as done on time or late by their judged completion day; one item not
    awaiting review refuses the whole batch."""
    day = request.app.state.today()
    workflow.accept(session, body.ids, by=workflow.Actor(p.username, "api", p), note=body.note, anyway=body.anyway)
    session.flush()
    return [occ.occurrence_detail(session, i, today=day) for i in body.ids]


@router.post("/occurrences/{occurrence_id}/return", response_model=OccurrenceOut, summary="办结审核：退回（须说明理由）",
             responses={404: {"description": "不存在或无权查看"}, 403: {"description": "非协调员"},
                        409: {"description": "不在待审核状态"}, 422: {"description": "未说明理由"}})
def review_return(request: Request, body: ReturnIn, occurrence_id: int = ItemId, *,
                  p: Principal = Depends(api_user), session: Session = db):
    """The item is open again; the owing department is told the reason in its next digest."""
    workflow.return_(session, occurrence_id, by=workflow.Actor(p.username, "api", p), reason=body.reason)
    session.flush()
    return occ.occurrence_detail(session, occurrence_id, today=request.app.state.today())


def _evidence(given: EvidenceIn | None) -> Evidence | None:
    if given is None:
        return None
    try:
        return Evidence(given.filename, base64.b64decode(given.content_base64, validate=True))
    except (binascii.Error, ValueError):
        raise workflow.InvalidInput(f"附件 {given.filename} 的内容不是有效的 Base64") from None


@router.get("/plans", response_model=list[PlanOut], summary="已加载的计划")
def plans(p: Principal = Depends(api_user), session: Session = db):
    return [PlanOut(**r._mapping) for r in views.plan_rows(session)]


@router.get("/departments", response_model=list[DepartmentOut], summary="部门与角色")
def departments(p: Principal = Depends(api_user), session: Session = db):
    return [DepartmentOut(key=k, name=n) for k, n in views.department_rows(session)]


@router.get("/reports/data", summary="督查通报的数据（与各格式报告相同的数字）",
            responses={403: {"description": "仅协调员和督查"}, 400: {"description": "参数有误"}})
def report_data(request: Request, period: str = Query(..., max_length=40, examples=["2025H1"]),
                plan: str | None = None, jurisdiction: str | None = None,
                p: Principal = Depends(api_user), session: Session = db) -> dict:
    if not p.can_report:
        raise HTTPException(403, "报告数据仅供协调员和督查人员使用")
    try:
        start, end = parse_period(period)
        unit = unit_in_area(session, p, jurisdiction)
        data = build_report(session, start=start, end=end, today=request.app.state.today(), plan=plan,
                            jurisdiction=unit.code, soon_days=request.app.state.settings.due_soon_days,
                            scoring=request.app.state.settings.report.scoring.rules())
    except (OccurrenceError, PeriodSyntaxError) as exc:
        raise HTTPException(400, str(exc)) from None
    return _jsonable(dataclasses.asdict(data))


class TaskIn(BaseModel):
    title: str = Field(..., max_length=200, description="任务名称（100 字以内）")
    departments: list[str] = Field(..., max_length=10, description="责任部门（部门键或名称），牵头部门在前")
    jurisdiction: str = Field(..., max_length=64, description="交办地区（名称或区划代码）")
    level: str | None = Field(None, max_length=16, description="交办给该地区下此层级的每个单位，如 county；不填为本级")
    due: dt.date | None = Field(None, description="截止日期（与 within 二选一）")
    within: int | None = Field(None, description="N 个工作日内办结")
    source: str | None = Field(None, max_length=40, description="任务来源：批示、会议、来文……")
    text: str | None = Field(None, max_length=4000, description="任务内容和要求（2000 字以内）")
    count: int = Field(1, description="应完成次数")
    evidence: bool = Field(False, description="办结时须附佐证材料")


class TaskOut(BaseModel):
    plan_id: str
    title: str
    due: dt.date
    units: int
    items: int
    departments: list[str]


class UrgeIn(BaseModel):
    items: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(..., min_length=1, max_length=500,
                                                                description="督办事项编号")
    note: str | None = Field(None, max_length=1000, description="催办说明（500 字以内），随通知发出")


class UrgeOut(BaseModel):
    items: int
    messages: int
    send_at: dt.datetime
    stages: dict[int, str]


@router.post("/tasks", response_model=TaskOut, status_code=201, summary="交办任务（批示件、会议交办、来文交办）",
             responses={403: {"description": "仅协调员，且限本辖区"}, 422: {"description": "名称、部门、地区或期限不符合要求"}})
def add_task(request: Request, body: TaskIn, p: Principal = Depends(api_user), session: Session = db):
    from storage import tasks

    settings = request.app.state.settings
    done = tasks.assign(session, workflow.Actor(p.username, "api", p), title=body.title, departments=body.departments,
                        jurisdiction=body.jurisdiction, level=body.level, due=body.due, within=body.within,
                        source=body.source, text=body.text, count=body.count, evidence=body.evidence,
                        today=request.app.state.today(), calendar=settings.calendar())
    return TaskOut(**done.__dict__)


@router.get("/tasks", summary="交办任务及其办理进度", responses={403: {"description": "仅协调员和督查人员"}})
def list_tasks(request: Request, p: Principal = Depends(api_user), session: Session = db) -> list[dict]:
    from storage import tasks

    if not p.sees_area:
        raise HTTPException(403, "交办任务清单仅供协调员和督查人员使用")
    return tasks.list_assignments(session, area_path=p.jurisdiction_path, today=request.app.state.today())


@router.post("/urge", response_model=UrgeOut, status_code=201, summary="催办：立即向责任单位发出催办通知",
             responses={403: {"description": "仅协调员"}, 404: {"description": "不存在或无权查看"},
                        409: {"description": "已办结、已豁免或无联系方式"}, 422: {"description": "编号或说明不符合要求"}})
def urge_items(request: Request, body: UrgeIn, p: Principal = Depends(api_user), session: Session = db):
    from notifications.urge import urge

    settings = request.app.state.settings
    done = urge(session, body.items, by=workflow.Actor(p.username, "api", p), note=body.note,
                today=request.app.state.today(), calendar=settings.calendar(),
                quiet_hours=tuple(settings.notify.quiet_hours) or None, timezone=settings.timezone)
    return UrgeOut(**done.__dict__)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value



class ProgressIn(BaseModel):
    percent: int = Field(..., description="完成进度（0–100 的百分比，不低于上次反馈）")
    done: str = Field(..., max_length=4000, description="已完成的工作（必填，2000 字以内）")
    difficulties: str | None = Field(None, max_length=4000, description="存在的困难（2000 字以内）")
    next_steps: str | None = Field(None, max_length=4000, description="下一步计划（2000 字以内）")
    on: dt.date | None = Field(None, description="反馈日期，默认今天；不能晚于今天")


class ProgressOut(BaseModel):
    id: int
    occurrence: int
    reported_on: dt.date
    percent: int
    done: str
    difficulties: str | None
    next_steps: str | None
    by: str
    channel: str
    created_at: dt.datetime


def _progress_out(r) -> ProgressOut:
    return ProgressOut(id=r.id, occurrence=r.occurrence_id, reported_on=r.reported_on, percent=r.percent, done=r.done,
                       difficulties=r.difficulties, next_steps=r.next_steps, by=r.actor, channel=r.channel,
                       created_at=r.created_at)


@router.post("/occurrences/{occurrence_id}/progress", response_model=ProgressOut, status_code=201,
             summary="进度反馈：报送工作进展", responses={404: {"description": "不存在或无权查看"},
                                                403: {"description": "只读账号"}, 409: {"description": "已办结或已豁免"},
                                                422: {"description": "进度、日期或文字不符合要求"}})
def report_progress(request: Request, body: ProgressIn, occurrence_id: int = ItemId, *,
                    p: Principal = Depends(api_user), session: Session = db):
    r = workflow.report_progress(session, occurrence_id, by=workflow.Actor(p.username, "api", p), percent=body.percent,
                                 done=body.done, difficulties=body.difficulties, next_steps=body.next_steps,
                                 on=body.on, today=request.app.state.today())
    session.flush()
    return _progress_out(r)


@router.get("/occurrences/{occurrence_id}/progress", response_model=list[ProgressOut], summary="进度反馈（最新在前）",
            responses={404: {"description": "不存在或无权查看"}})
def progress_list(occurrence_id: int = ItemId, *, p: Principal = Depends(api_user), session: Session = db):
    return [_progress_out(r) for r in workflow.progress_reports(session, occurrence_id,
                                                                by=workflow.Actor(p.username, "api", p))]


assert set(STATUSES) == set(Status.__args__)


# ---------------------------------------------------------------- co-departments (协办确认)

class ConfirmIn(BaseModel):
    note: str | None = Field(None, max_length=2000, description="协办部分的办理说明（2000 字以内）")


class CoDepartmentOut(BaseModel):
    department: str
    name: str
    confirmed_at: dt.datetime | None
    confirmed_by: str | None
    note: str | None


class ConfirmOut(BaseModel):
    occurrence: int
    department: str = Field(..., description="确认的协办部门（键）")
    confirmed: int = Field(..., description="已确认的协办部门数")
    of: int = Field(..., description="协办部门总数")
    co_departments: list[CoDepartmentOut]


@router.post("/occurrences/{occurrence_id}/confirm", response_model=ConfirmOut, summary="协办确认：协办部门确认协办部分",
             responses={404: {"description": "不存在或无权查看"}, 403: {"description": "不是本事项的协办部门"},
                        409: {"description": "已确认过或事项已豁免"}, 422: {"description": "说明不符合要求"}})
def confirm_part(body: ConfirmIn, occurrence_id: int = ItemId, *, p: Principal = Depends(api_user),
                 session: Session = db):
    """A co-department's token confirms its part on the lead department's item, once."""
    row = workflow.confirm_part(session, occurrence_id, by=workflow.Actor(p.username, "api", p), note=body.note)
    session.flush()
    parts = views.confirmations_of(session, occurrence_id)
    return ConfirmOut(occurrence=occurrence_id, department=row.party_key,
                      confirmed=sum(1 for r in parts if r.confirmed_at is not None), of=len(parts),
                      co_departments=[CoDepartmentOut(department=r.party_key, name=r.name, confirmed_at=r.confirmed_at,
                                                      confirmed_by=r.confirmed_by, note=r.note) for r in parts])
