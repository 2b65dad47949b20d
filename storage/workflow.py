"""The one door behind every door: what people do to items, each as one function that enforces
every rule and writes its audit row, in the caller's transaction.

    complete(…)        a completion (count, date, note, evidence file)
    complete_by_link(…) the same from a notice's single-use link
    waive(…)           a coordinator's waiver with a reason
    extend(…)          a coordinator moves an open item's due date later, with a reason
    request(…)         a department's waiver or extension request
    decide(…)          a coordinator's decision on a request
    decide_many(…)     the same on several requests at once (each checked, one audit row each)
    accept(…)          a coordinator accepts completions awaiting review (办结审核), in bulk
    return_(…)         a coordinator returns one, with a reason: the item is open again
    confirm_part(…)    a co-department confirms its part on the lead's item (协办确认)

The CLI, the web pages, the API, completion links, imports and the demo call these and check
nothing themselves. Every check runs before the first write, so a refusal leaves the session as
it was (and an evidence file stored for a refused completion is removed again).

Who acts is an ``Actor``: a person's name and the channel, and for the web and the API their
``Principal`` (what they may see and do). The CLI and the demo act as the operator of the
installation (no principal: every item, every action)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session

from obligations import timeliness
from obligations.catalog import completion_review
from obligations.errors import DubanError, Forbidden, NotFound, Refused
from obligations.workcal import WorkCalendar
from storage import audit
from storage import evidence as evidence_files
from storage import occurrences as occ
from storage.access import Principal, occurrence_filter
from storage.contacts import check_name
from storage.evidence import Evidence
from storage.tables import (
    CoConfirmation,
    Completion,
    Contact,
    Department,
    ItemRequest,
    Notice,
    Obligation,
    Occurrence,
    Plan,
)

REQUEST_KINDS = {"waiver": "豁免", "extension": "延期"}
MAX_COUNT = 1000
MAX_NOTE = 2000
MAX_NAME = 40
MAX_BULK = 1000


class InvalidInput(DubanError, ValueError):
    """A value the rules do not accept (a date in the future, a count out of range …)."""

    http_status = 422


class LinkSpent(Refused):
    """A completion link that was used already or belongs to no notice: gone for good."""

    http_status = 410


USED = "此链接已使用过（每个链接只能登记一次）。如需补充，请登录督办系统办理。"
VIEW_ONLY = "此链接来自督查通知，只能查看事项，不能登记办理；办理情况由责任单位登记。"


@dataclass(frozen=True)
class Actor:
    """Who acts: the name recorded in the item's history and audit, the channel (cli, web, api,
    email for links, demo, import), and for signed-in people their principal."""

    name: str
    channel: str
    principal: Principal | None = None


@dataclass(frozen=True)
class Setting:
    """What the rules need from the installation: its calendar (event items follow a
    completion; the grace counts working days), the folder evidence goes to, today's date as the
    door's clock sees it (the recording day), and the grace before a completion's claimed day is
    flagged (config.yaml ``schedule.completion_grace_days``)."""

    calendar: WorkCalendar | None
    data_dir: Path
    today: dt.date
    grace_days: int = timeliness.GRACE_DAYS

    @classmethod
    def of(cls, settings, today: dt.date) -> Setting:
        """From the installation's settings (storage.files.Settings)."""
        return cls(settings.calendar(), settings.data_dir, today, settings.completion_grace_days)


def _state(o: Occurrence) -> dict:
    return {"done": o.done_count, "required": o.required, "completed_on": o.completed_on, "due": o.due,
            "original_due": o.original_due, "waived": o.waived_at is not None,
            "submitted": o.submitted_at is not None}


def _item(session: Session, occurrence_id: int, by: Actor) -> Occurrence:
    """The item if ``by`` may see it; the same answer for "absent" and "not yours" (never
    confirm that someone else's item exists)."""
    q = select(Occurrence).where(Occurrence.id == occurrence_id)
    if by.principal is not None:
        q = q.where(occurrence_filter(by.principal))
    found = session.scalar(q)
    if found is None:
        raise NotFound(f"没有编号为 {occurrence_id} 的督办事项，或您无权查看")
    return found


def _finished(o: Occurrence) -> None:
    if o.waived_at is not None:
        raise Refused(f"督办事项 {o.id} 已豁免（{o.waived_reason}），不能再登记完成")
    if o.done_count >= o.required and o.submitted_at is not None:
        raise Refused(f"督办事项 {o.id} 已于 {o.completed_on} 登记办结，正待审核，未重复登记")
    if o.done_count >= o.required:
        raise Refused(f"督办事项 {o.id} 已于 {o.completed_on} 办结（{o.done_count}/{o.required}），未重复登记")


def _text(value: str | None, field: str, limit: int) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise InvalidInput(f"{field}不能超过 {limit} 个字（现有 {len(value)} 个）")
    if "\x00" in value:
        raise InvalidInput(f"{field}中含有无法保存的字符")
    return value or None


def _check_completion(o: Occurrence, *, count: int, done_on: dt.date, setting: Setting) -> timeliness.Judged:
    """The count, the claimed day (obligations.timeliness: not after today, not before the
    period began; flagged when older than the grace) and the item still open."""
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"完成次数必须是 1 到 {MAX_COUNT} 之间的整数")
    try:
        judged = timeliness.judge_claim(done_on, period_start=o.period_start, recorded=setting.today,
                                        grace_days=setting.grace_days, calendar=setting.calendar)
    except timeliness.ClaimRefused as exc:
        raise InvalidInput(str(exc)) from None
    _finished(o)
    return judged


def _check_evidence(session: Session, o: Occurrence, evidence: Evidence | None) -> None:
    """An assignment (交办) that asks for evidence takes no completion without a file."""
    from storage.tasks import evidence_required

    if evidence is None and evidence_required(session, o):
        raise InvalidInput("此项交办任务要求附佐证材料，请上传文件后再登记")


def complete(session: Session, occurrence_id: int, *, by: Actor, count: int, done_on: dt.date | None,
             setting: Setting, note: str | None = None, evidence: Evidence | None = None,
             action: str = "complete") -> Completion:
    """Record that ``count`` of the item's required times were done on ``done_on`` (default
    today): the item must be visible to the actor, open, and the actor allowed to complete; the
    date not after today nor before the item's period began (a date older than the grace is
    recorded flagged and judged by today: obligations.timeliness); the count 1–1000; the note at
    most 2000 characters; the evidence file a PDF, JPG, PNG, DOCX or XLSX of at most 10 MB whose
    content matches its name."""
    o = _item(session, occurrence_id, by)
    if by.principal is not None and not by.principal.can_complete:
        raise Forbidden("督查账号只能查看，不能登记办理")
    _not_co_department(o, by)
    done_on = done_on or setting.today
    judged = _check_completion(o, count=count, done_on=done_on, setting=setting)
    _check_evidence(session, o, evidence)
    note = _text(note, "办理情况说明", MAX_NOTE)
    before = _state(o)
    stored = evidence_files.store(evidence, setting.data_dir, o.id) if evidence is not None else None
    with evidence_files.kept_only_if_recorded(setting.data_dir, stored):
        try:
            c = occ.record_completion(session, o.id, count=count, actor=by.name, channel=by.channel, note=note,
                                      evidence_path=stored, done_on=done_on, judged_on=judged.judged,
                                      flagged=judged.flagged, calendar=setting.calendar,
                                      review=needs_review(session, o))
        except occ.OccurrenceError as exc:   # another writer finished it since we looked
            raise Refused(str(exc)) from None
        session.refresh(o)
        audit.record(session, actor=by.name, action=action, object_type="occurrence", object_id=o.id,
                     jurisdiction_id=o.jurisdiction_id, before=before,
                     after={**_state(o), "count": count, "done_on": done_on, "judged_on": judged.judged,
                            "flagged": judged.flagged, "note": note, "evidence": stored, "channel": by.channel})
    return c


def complete_by_link(session: Session, notice_id: int, occurrence_id: int, *, name: str, count: int,
                     done_on: dt.date | None, setting: Setting, note: str | None = None,
                     evidence: Evidence | None = None, now: dt.datetime | None = None) -> Completion:
    """A completion from a notice's link (no sign-in): the link must belong to that notice and
    item, the notice must have gone to the contact of the department (or director) that owes the
    item — a supervisor's notice links for viewing only — and not have been used; the person
    gives their name. Of two submissions at once exactly one wins (compare-and-set). The link is
    spent only when the completion is recorded."""
    state = link_state(session, notice_id, occurrence_id)
    if state == "unknown":
        raise LinkSpent("链接无效：对应的通知不存在")
    if state == "view":
        raise Forbidden(VIEW_ONLY)
    if state == "used":
        raise LinkSpent(USED)
    by = Actor(f"通知链接：{person_name(name)}", "email")
    o = _item(session, occurrence_id, by)
    _check_completion(o, count=count, done_on=done_on or setting.today, setting=setting)
    if not _use_link(session, notice_id, occurrence_id, now or dt.datetime.now(dt.timezone.utc)):
        raise LinkSpent(USED)
    return complete(session, occurrence_id, by=by, count=count, done_on=done_on, setting=setting, note=note,
                    evidence=evidence, action="link.use")


def _use_link(session: Session, notice_id: int, occurrence_id: int, now: dt.datetime) -> bool:
    """Mark a notice's completion link used: compare-and-set, so of two tabs (or two people)
    submitting at once exactly one wins."""
    n = Notice.__table__.c
    result = session.execute(sa.update(Notice.__table__).where(
        n.id == notice_id, n.occurrence_id == occurrence_id, n.link_used_at.is_(None)).values(link_used_at=now))
    return result.rowcount == 1


def person_name(value: str | None) -> str:
    """The name of whoever completes through a link: required, 2 to 40 characters, plain text
    (no address, link, comma, semicolon, quote, angle bracket or line break)."""
    try:
        text = check_name(value, "登记人姓名")
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if not text:
        raise InvalidInput("请填写登记人姓名")
    if len(text) < 2 or "://" in text or text.lower().startswith("www."):
        raise InvalidInput(f"登记人姓名应为 2 到 {MAX_NAME} 个字的姓名：{text!r}")
    return text


def link_state(session: Session, notice_id: int, occurrence_id: int) -> str:
    """unknown | view (the notice went to someone who does not owe the item: a supervisor) |
    used | ready."""
    notice = session.get(Notice, notice_id)
    if notice is None or notice.occurrence_id != occurrence_id:
        return "unknown"
    if not _owes(session, notice):
        return "view"
    return "used" if notice.link_used_at is not None else "ready"


def _owes(session: Session, notice: Notice) -> bool:
    """The notice went to the contact of the department or director that owes its item."""
    if notice.recipient_kind != "contact":
        return False
    o, c = Occurrence.__table__.c, Contact.__table__.c
    return session.scalar(sa.select(sa.func.count()).select_from(Contact.__table__.join(
        Occurrence.__table__, sa.and_(o.jurisdiction_id == c.jurisdiction_id, o.party_key == c.department_key)))
        .where(c.id == notice.recipient_id, o.id == notice.occurrence_id)) == 1


def waive(session: Session, occurrence_id: int, *, by: Actor, reason: str, now: dt.datetime | None = None) -> None:
    """A coordinator (or the operator) waives an open item, with a reason."""
    o = _item(session, occurrence_id, by)
    if by.principal is not None and not by.principal.can_review:
        raise Forbidden("只有协调员可以豁免督办事项")
    reason = _text(reason, "豁免理由", MAX_NOTE)
    if not reason:
        raise InvalidInput("豁免必须说明理由")
    _finished(o)
    before = _state(o)
    occ.waive(session, o.id, reason=reason, actor=by.name, now=now)
    audit.record(session, actor=by.name, action="waive", object_type="occurrence", object_id=o.id,
                 jurisdiction_id=o.jurisdiction_id, before=before, after={**_state(o), "reason": reason})


MAX_EXTENSION_DAYS = 366


def extend(session: Session, occurrence_id: int, *, by: Actor, new_due: dt.date | None, reason: str,
           today: dt.date) -> None:
    """A coordinator (or the operator) moves an open item's due date later (延期), with a reason:
    the item must be visible to them, still open (not done, awaiting review or waived) and have
    no request waiting for a decision (decide that one instead); the new date later than the
    current one and at most a year after ``today``. The first due date stays beside the new one."""
    o = _item(session, occurrence_id, by)
    if by.principal is not None and not by.principal.can_review:
        raise Forbidden("只有协调员可以为督办事项延期")
    reason = _text(reason, "延期理由", MAX_NOTE)
    if not reason:
        raise InvalidInput("延期必须说明理由")
    if new_due is None:
        raise InvalidInput("请填写延期后的截止日期")
    if new_due <= o.due:
        raise InvalidInput(f"延期后的截止日期须晚于现截止日期 {o.due}")
    if new_due > today + dt.timedelta(days=MAX_EXTENSION_DAYS):
        raise InvalidInput(f"延期后的截止日期不能晚于 {today + dt.timedelta(days=MAX_EXTENSION_DAYS)}（一年之内）")
    _finished(o)
    if session.scalar(sa.select(sa.func.count()).select_from(ItemRequest).where(
            ItemRequest.occurrence_id == o.id, ItemRequest.status == "pending")):
        raise Refused("该事项有待审核的豁免或延期申请，请先在“申请审核”中批准或驳回")
    before = _state(o)
    o.original_due = o.original_due or o.due    # the first due date stays beside the new one
    o.due = new_due
    session.flush()
    audit.record(session, actor=by.name, action="extend", object_type="occurrence", object_id=o.id,
                 jurisdiction_id=o.jurisdiction_id, before=before,
                 after={**_state(o), "reason": reason, "channel": by.channel})


def request(session: Session, occurrence_id: int, *, by: Actor, kind: str, reason: str, today: dt.date,
            new_due: dt.date | None = None, now: dt.datetime | None = None) -> ItemRequest:
    """The owing department or director asks to waive the item or move its due date, while the
    item is open and not past due (``today``: the door's clock; obligations.timeliness)."""
    o = _item(session, occurrence_id, by)
    if by.principal is not None and by.principal.role not in ("department", "director"):
        raise Forbidden("豁免和延期由责任单位申请、协调员审核")
    _not_co_department(o, by)
    if kind not in REQUEST_KINDS:
        raise InvalidInput(f"未知的申请类型 {kind}（可用：{'、'.join(REQUEST_KINDS.values())}）")
    reason = _text(reason, "申请理由", MAX_NOTE)
    if not reason:
        raise InvalidInput("请说明申请理由")
    timeliness.check_request(occurrence_id=o.id, finished=o.waived_at is not None or o.done_count >= o.required,
                             due=o.due, today=today)
    if kind == "extension" and (new_due is None or new_due <= o.due):
        raise InvalidInput(f"延期申请须给出晚于原截止日期 {o.due} 的新日期")
    if kind == "waiver":
        new_due = None
    if session.scalar(sa.select(sa.func.count()).select_from(ItemRequest).where(
            ItemRequest.occurrence_id == o.id, ItemRequest.status == "pending")):
        raise Refused("该事项已有待审核的申请")
    r = ItemRequest(occurrence_id=o.id, kind=kind, reason=reason, new_due=new_due,
                    requested_by=by.name, requested_at=now or dt.datetime.now(dt.timezone.utc))
    session.add(r)
    session.flush()
    audit.record(session, actor=by.name, action="request", object_type="occurrence", object_id=o.id,
                 jurisdiction_id=o.jurisdiction_id, after={"request": r.id, "kind": kind, "reason": reason,
                                                           "new_due": new_due})
    return r


def decide(session: Session, request_id: int, *, by: Actor, approve: bool, note: str | None = None,
           now: dt.datetime | None = None) -> ItemRequest:
    """A coordinator approves or rejects a pending request on an item in their area."""
    if by.principal is not None and not by.principal.can_review:
        raise Forbidden("只有协调员可以审核豁免和延期申请")
    r = session.get(ItemRequest, request_id)
    if r is None:
        raise NotFound(f"没有编号为 {request_id} 的申请")
    try:
        o = _item(session, r.occurrence_id, by)
    except NotFound:
        raise NotFound(f"没有编号为 {request_id} 的申请") from None
    if r.status != "pending":
        raise Refused("该申请已审核")
    note = _text(note, "审核意见", MAX_NOTE)
    if approve:
        _finished(o)
    now = now or dt.datetime.now(dt.timezone.utc)
    before = _state(o)
    r.status, r.decided_by, r.decided_at, r.decision_note = ("approved" if approve else "rejected"), by.name, now, note
    if approve and r.kind == "waiver":
        occ.waive(session, o.id, reason=r.reason, actor=by.name, now=now)
    elif approve:
        o.original_due = o.original_due or o.due    # the first due date stays beside the new one
        o.due = r.new_due
    session.flush()
    audit.record(session, actor=by.name, action="approve" if approve else "reject", object_type="occurrence",
                 object_id=o.id, jurisdiction_id=o.jurisdiction_id, before=before,
                 after={**_state(o), "request": r.id, "kind": r.kind, "note": note})
    return r


def decide_many(session: Session, request_ids: list[int], *, by: Actor, approve: bool,
                note: str | None = None, now: dt.datetime | None = None) -> list[ItemRequest]:
    """Approve or reject several pending requests at once with one note: each is checked by
    ``decide``'s rules and gets its own audit row; one that fails refuses the whole batch (the
    caller rolls back: nothing is half decided)."""
    if not request_ids:
        raise InvalidInput("请勾选要审核的申请")
    if len(request_ids) > MAX_BULK:
        raise InvalidInput(f"一次最多审核 {MAX_BULK} 项申请（现有 {len(request_ids)} 项）")
    if any(not isinstance(i, int) or isinstance(i, bool) or not 1 <= i <= 2**62 for i in request_ids):
        raise InvalidInput("申请编号应为正整数")
    if len(set(request_ids)) != len(request_ids):
        raise InvalidInput("申请编号重复")
    now = now or dt.datetime.now(dt.timezone.utc)
    return [decide(session, i, by=by, approve=approve, note=note, now=now) for i in request_ids]


def needs_review(session: Session, o: Occurrence) -> bool:
    """Whether a completion of the item waits for a coordinator's acceptance: the obligation's
    or else the plan's ``completion_review`` in the catalog (default: required)."""
    row = session.execute(select(Plan.doc, Obligation.doc).join(Obligation, Obligation.plan_id == Plan.id)
                          .where(Obligation.id == o.obligation_id)).first()
    return completion_review(row[0], row[1]) if row else True


def _reviewer(by: Actor) -> None:
    if by.principal is not None and not by.principal.can_review:
        raise Forbidden("只有本级或上级协调员可以审核办结情况")


def _awaiting(o: Occurrence) -> None:
    if o.waived_at is not None:
        raise Refused(f"督办事项 {o.id} 已豁免，无需审核")
    if o.submitted_at is None:
        if o.done_count >= o.required:
            raise Refused(f"督办事项 {o.id} 已审核办结，不能再审核")
        raise Refused(f"督办事项 {o.id} 尚未登记办结（{o.done_count}/{o.required}），没有待审核的办结情况")


def accept(session: Session, ids: list[int], *, by: Actor, note: str | None = None,
           anyway: bool = False) -> list[int]:
    """A coordinator of the items' unit or above (or the operator) accepts completions awaiting
    review (待审核): each item then counts as done on time or late by its judged completion day
    (the timeliness rules applied to the submission). Every item is checked before any is
    written: one that is not visible, not awaiting review or repeated refuses the whole batch.
    An item whose co-departments have not all confirmed their part (协办确认) is refused unless
    ``anyway`` is given with a note (审核意见); the audit row then names the missing ones."""
    _reviewer(by)
    if not ids:
        raise InvalidInput("请选择要审核通过的督办事项")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"一次最多审核 {MAX_BULK} 项（现有 {len(ids)} 项）")
    if any(not isinstance(i, int) or isinstance(i, bool) or not 1 <= i <= 2**62 for i in ids):
        raise InvalidInput("督办事项编号应为正整数")
    if len(set(ids)) != len(ids):
        raise InvalidInput("督办事项编号重复")
    note = _text(note, "审核意见", MAX_NOTE)
    q = select(Occurrence).where(Occurrence.id.in_(ids))
    if by.principal is not None:
        q = q.where(occurrence_filter(by.principal))
    found = {o.id: o for o in session.scalars(q)}
    for i in ids:
        if i not in found:
            raise NotFound(f"没有编号为 {i} 的督办事项，或您无权查看")
        _awaiting(found[i])
    missing = pending_confirmations(session, ids)
    if missing and not anyway:
        listed = "；".join(f"事项 {i}：{'、'.join(names)}" for i, names in sorted(missing.items())[:10])
        raise Refused(f"协办部门尚未全部确认，不能审核通过（{listed}）。如确需通过，请填写审核意见并选择“仍然通过”")
    if missing and not note:
        raise InvalidInput("协办部门未全部确认而审核通过时，必须填写审核意见")
    befores = {i: _state(found[i]) for i in ids}
    if occ.accept(session, ids) != len(ids):   # another coordinator decided one since we looked
        raise Refused("所选督办事项中有的刚被他人审核，请刷新后重试")
    # the UPDATE changed only the review mark: the after state follows without re-reading each row
    for i in ids:
        audit.record(session, actor=by.name, action="accept", object_type="occurrence", object_id=i,
                     jurisdiction_id=found[i].jurisdiction_id, before=befores[i],
                     after={**befores[i], "submitted": False, "note": note, "channel": by.channel,
                            **({"missing_confirmations": missing[i]} if i in missing else {})})
    for o in found.values():
        session.expire(o, ["submitted_at"])
    return ids


def return_(session: Session, occurrence_id: int, *, by: Actor, reason: str,
            now: dt.datetime | None = None) -> Completion:
    """A coordinator of the item's unit or above (or the operator) returns a completion awaiting
    review, with a reason (退回): the completion no longer counts, the item's count goes back to
    what it was before it and the item is open again (overdue if its due date has passed); the
    owing department's contact gets the reason in their next digest; the return is counted."""
    _reviewer(by)
    o = _item(session, occurrence_id, by)
    reason = _text(reason, "退回理由", MAX_NOTE)
    if not reason:
        raise InvalidInput("退回必须说明理由")
    _awaiting(o)
    now = now or dt.datetime.now(dt.timezone.utc)
    before = _state(o)
    returned = occ.return_submission(session, o.id, actor=by.name, reason=reason, now=now)
    if returned is None:
        raise Refused(f"督办事项 {o.id} 刚被他人审核，请刷新后重试")
    session.refresh(o)
    _notify_return(session, o, returned, now)
    audit.record(session, actor=by.name, action="return", object_type="occurrence", object_id=o.id,
                 jurisdiction_id=o.jurisdiction_id, before=before,
                 after={**_state(o), "completion": returned.id, "reason": reason, "channel": by.channel})
    return returned


def _notify_return(session: Session, o: Occurrence, returned: Completion, now: dt.datetime) -> None:
    """A notice for the owing contact, waiting for their next digest (the sweep gathers notices
    not yet in a digest): stage ``return-<completion>``, one per return."""
    contact = session.scalar(select(Contact.id).where(Contact.jurisdiction_id == o.jurisdiction_id,
                                                      Contact.department_key == o.party_key)
                             .order_by(Contact.id).limit(1))
    if contact is None:
        return
    session.add(Notice(occurrence_id=o.id, stage=f"return-{returned.id}", kind="return", swept_on=now.date(),
                       workdays=0, recipient_kind="contact", recipient_id=contact))
    session.flush()


def report_progress(session: Session, occurrence_id: int, *, by: Actor, percent: int, done: str, today: dt.date,
                    difficulties: str | None = None, next_steps: str | None = None, on: dt.date | None = None,
                    now: dt.datetime | None = None):
    """A dated progress report on an open item (进度反馈): visible to the actor and the actor
    allowed to complete (a supervisor reads only); the item neither done, awaiting review nor
    waived; percent 0–100 and not below the latest earlier report's unless the item was returned
    since; what was done required; each text at most 2000 characters; the date (default today)
    not after today, not before the period began nor before the latest earlier report
    (obligations.feedback). One ``progress_report`` row and its audit row."""
    from obligations import feedback
    from storage.tables import ProgressReport

    o = _item(session, occurrence_id, by)
    if by.principal is not None and not by.principal.can_complete:
        raise Forbidden("督查账号只能查看，不能报送进度")
    on = on or today
    if not isinstance(on, dt.date) or isinstance(on, dt.datetime):
        raise InvalidInput("反馈日期应为日期，如 2025-06-25")
    if o.waived_at is not None:
        raise Refused(f"督办事项 {o.id} 已豁免，不再报送进度")
    if o.done_count >= o.required:
        state = "已登记办结，正待审核" if o.submitted_at is not None else "已办结"
        raise Refused(f"督办事项 {o.id} {state}，不再报送进度")
    r = ProgressReport.__table__.c
    last = session.execute(sa.select(r.reported_on, r.percent, r.created_at).where(r.occurrence_id == o.id)
                           .order_by(r.reported_on.desc(), r.id.desc()).limit(1)).first()
    reports = session.scalar(sa.select(sa.func.count()).where(r.occurrence_id == o.id)) or 0
    returned = last is not None and bool(session.scalar(
        sa.select(sa.func.count()).select_from(Completion).where(
            Completion.occurrence_id == o.id, Completion.returned_at.is_not(None),
            Completion.returned_at > last.created_at)))
    try:
        checked = feedback.check_report(percent=percent, done=done, difficulties=difficulties, next_steps=next_steps,
                                        on=on, today=today, period_start=o.period_start,
                                        last=(last.reported_on, last.percent) if last else None,
                                        returned_since_last=returned, reports=reports)
    except feedback.ProgressRefused as exc:
        raise InvalidInput(str(exc)) from None
    report = ProgressReport(occurrence_id=o.id, reported_on=checked.on, percent=checked.percent, done=checked.done,
                            difficulties=checked.difficulties, next_steps=checked.next_steps, actor=by.name,
                            channel=by.channel, created_at=now or dt.datetime.now(dt.timezone.utc))
    session.add(report)
    session.flush()
    audit.record(session, actor=by.name, action="progress", object_type="occurrence", object_id=o.id,
                 jurisdiction_id=o.jurisdiction_id,
                 before={"percent": last.percent, "reported_on": last.reported_on} if last else None,
                 after={"report": report.id, "percent": checked.percent, "reported_on": checked.on,
                        "done": checked.done, "difficulties": checked.difficulties,
                        "next_steps": checked.next_steps, "channel": by.channel})
    return report


def progress_reports(session: Session, occurrence_id: int, *, by: Actor) -> list:
    """The item's progress reports, newest first (the item visible to ``by``: else NotFound)."""
    from storage.tables import ProgressReport

    o = _item(session, occurrence_id, by)
    return list(session.scalars(select(ProgressReport).where(ProgressReport.occurrence_id == o.id)
                                .order_by(ProgressReport.reported_on.desc(), ProgressReport.id.desc())))
# ---------------------------------------------------------------- co-departments (协办确认)

def _not_co_department(o: Occurrence, by: Actor) -> None:
    """A department sees the lead's items on which it is a co-department; it confirms its part
    there (confirm_part) and completes or asks nothing on them."""
    p = by.principal
    if p is not None and p.role == "department" and o.party_key != p.department_key:
        raise Forbidden("贵部门是本事项的协办部门：请在事项页“协办确认”中确认协办部分，办结由牵头部门登记")


def pending_confirmations(session: Session, ids: list[int]) -> dict[int, list[str]]:
    """Of these items, those with co-departments that have not confirmed: item → their names."""
    if not ids:
        return {}
    out: dict[int, list[str]] = {}
    for oid, name in session.execute(
            select(CoConfirmation.occurrence_id, Department.name)
            .join(Department, Department.key == CoConfirmation.party_key)
            .where(CoConfirmation.occurrence_id.in_(ids), CoConfirmation.confirmed_at.is_(None))
            .order_by(CoConfirmation.occurrence_id, CoConfirmation.id)):
        out.setdefault(oid, []).append(name)
    return out


def confirm_part(session: Session, occurrence_id: int, *, by: Actor, note: str | None = None,
                 party: str | None = None, now: dt.datetime | None = None) -> CoConfirmation:
    """A co-department confirms its part (协办确认) on the lead department's item: a department
    account of the item's unit whose department is one of the item's co-departments (the item is
    404 to whoever may not see it; the lead, a coordinator or a supervisor is refused); the
    operator (CLI, demo) names the co-department with ``party`` unless the item has only one.
    Once only: a second confirmation is refused and changes nothing. The note at most 2000
    characters. The lead's item is not changed; its review waits for the confirmations
    (accept)."""
    o = _item(session, occurrence_id, by)
    p = by.principal
    if p is not None:
        if p.role != "department" or o.party_key == p.department_key:
            raise Forbidden("只有本事项的协办部门可以确认协办部分")
        if party is not None and party != p.department_key:
            raise Forbidden("只能确认本部门的协办部分")
        party = p.department_key
    note = _text(note, "协办确认说明", MAX_NOTE)
    rows = session.scalars(select(CoConfirmation).where(CoConfirmation.occurrence_id == o.id)
                           .order_by(CoConfirmation.id)).all()
    if not rows:
        raise Refused(f"督办事项 {o.id} 没有协办部门需要确认")
    if party is None:
        if len(rows) > 1:
            keys = "、".join(r.party_key for r in rows)
            raise InvalidInput(f"督办事项 {o.id} 有多个协办部门，请指明确认的部门（{keys}）")
        party = rows[0].party_key
    row = next((r for r in rows if r.party_key == party), None)
    if row is None:
        raise Forbidden(f"{_department_name(session, party)}不是督办事项 {o.id} 的协办部门")
    if o.waived_at is not None:
        raise Refused(f"督办事项 {o.id} 已豁免，无需协办确认")
    if row.confirmed_at is not None:
        raise Refused(f"{_department_name(session, party)}已于 {_local(row.confirmed_at)} 确认协办部分，未重复登记")
    now = now or dt.datetime.now(dt.timezone.utc)
    t = CoConfirmation.__table__.c
    done = session.execute(sa.update(CoConfirmation.__table__).where(t.id == row.id, t.confirmed_at.is_(None))
                           .values(confirmed_at=now, confirmed_by=by.name, note=note)).rowcount
    if done != 1:   # the same department confirmed in another window since we looked
        raise Refused(f"{_department_name(session, party)}已确认协办部分，未重复登记")
    session.expire(row)
    audit.record(session, actor=by.name, action="confirm", object_type="occurrence", object_id=o.id,
                 jurisdiction_id=o.jurisdiction_id, at=now,
                 after={"department": party, "note": note, "channel": by.channel})
    return row


def _department_name(session: Session, key: str) -> str:
    return session.scalar(select(Department.name).where(Department.key == key)) or key


def _local(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")
