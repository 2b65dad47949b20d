"""催办 by hand: a coordinator reminds the owing department of one item, or of a filtered list
of items, now — not waiting for the sweep's stages.

It goes the sweep's way: one ``notice`` row per item (kind ``urge``, stage ``urge-N``, the N-th
hand reminder of that item), gathered into one outbox message per recipient, which the next
delivery sends (during quiet hours it waits for their end, as every message does). The item's
history shows it (a ``hand_reminder`` row: who, when, the note; and the audit row), and the
report counts it among the notices.

``urge`` is the one door (CLI, item page, list, API, demo): it checks every rule before its first
write — only a coordinator, only items in their area, only open items whose unit has an address
— and refuses the whole request, naming the items, when one fails."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel import Session

from notifications.deliver import in_quiet_hours
from notifications.outbox import OutboxStatus
from obligations.errors import DubanError, Forbidden, NotFound, Refused
from obligations.workcal import WorkCalendar
from storage import audit
from storage.access import occurrence_filter
from storage.tables import Contact, HandReminder, Notice, Occurrence, Outbox

MAX_ITEMS = 500
MAX_NOTE = 500


class UrgeInput(DubanError, ValueError):
    http_status = 422


@dataclass
class Urged:
    items: int
    messages: int
    send_at: dt.datetime          # when the next delivery may send them (after quiet hours)
    stages: dict[int, str]        # item → its stage (urge-N)


def send_time(now: dt.datetime, quiet_hours: tuple[dt.time, dt.time] | None, timezone: str) -> dt.datetime:
    """Now, or the end of the quiet hours when now is inside them (in UTC)."""
    if not in_quiet_hours(now, quiet_hours, timezone):
        return now
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    end = dt.datetime.combine(local.date(), quiet_hours[1], zone)
    if end <= local:
        end = dt.datetime.combine(local.date() + dt.timedelta(days=1), quiet_hours[1], zone)
    return end.astimezone(dt.UTC)


def _channel(email: str | None, hook: str | None) -> str:
    """As the sweep chooses it (notifications.sweep._digests)."""
    if email:
        return "email"
    if hook and "/cgi-bin/webhook/send" in hook:
        return "wecom"
    return "dingtalk" if hook else "none"


def urge(session: Session, item_ids: list[int], *, by, note: str | None, today: dt.date, calendar: WorkCalendar,
         quiet_hours: tuple[dt.time, dt.time] | None, timezone: str, now: dt.datetime | None = None) -> Urged:
    """Send a hand reminder for each item: ``by`` is a ``storage.workflow.Actor`` (with a
    principal, only a coordinator, only items they may see). The caller owns the transaction."""
    p = by.principal
    if p is not None and not p.can_review:
        raise Forbidden("只有协调员可以催办")
    ids = list(dict.fromkeys(int(i) for i in item_ids))
    if not ids:
        raise UrgeInput("请选择要催办的事项")
    if len(ids) > MAX_ITEMS:
        raise UrgeInput(f"一次最多催办 {MAX_ITEMS} 项（现有 {len(ids)} 项），请缩小筛选范围")
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise UrgeInput(f"催办说明不能超过 {MAX_NOTE} 个字（现有 {len(note)} 个）")
    if note and ("\x00" in note or any(ord(c) < 32 and c not in "\n\t" for c in note)):
        raise UrgeInput("催办说明中含有无法保存的字符")
    o, c = Occurrence, Contact
    q = (select(o.id, o.due, o.done_count, o.required, o.completed_on, o.waived_at, o.jurisdiction_id,
                c.id.label("contact"), c.name, c.email, c.webhook)
         .outerjoin(c, sa.and_(c.jurisdiction_id == o.jurisdiction_id, c.department_key == o.party_key))
         .where(o.id.in_(ids)))
    if p is not None:
        q = q.where(occurrence_filter(p))
    rows = {r.id: r for r in session.execute(q)}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(f"没有编号为 {'、'.join(map(str, missing[:10]))} 的督办事项，或您无权查看")
    finished = [f"{i}（{'已豁免' if rows[i].waived_at is not None else f'已于 {rows[i].completed_on} 办结'}）"
                for i in ids if rows[i].waived_at is not None or rows[i].done_count >= rows[i].required]
    if finished:
        raise Refused(f"督办事项 {'、'.join(finished[:10])} 无需催办；未发送任何催办")
    unreachable = [str(i) for i in ids if rows[i].contact is None or not (rows[i].email or rows[i].webhook)]
    if unreachable:
        raise Refused(f"督办事项 {'、'.join(unreachable[:10])} 的责任单位在部门目录中没有邮箱或机器人地址，无法催办；"
                      "未发送任何催办")

    if now is None:   # the installation's day (as_of in the demo, frozen in tests) at the real time of day
        zone = ZoneInfo(timezone)
        now = dt.datetime.combine(today, dt.datetime.now(zone).time(), zone).astimezone(dt.UTC)
    earlier = dict(session.execute(select(Notice.occurrence_id, func.count()).where(
        Notice.occurrence_id.in_(ids), Notice.kind == "urge").group_by(Notice.occurrence_id)).all())
    notices, late = {}, {}
    for i in ids:
        r = rows[i]
        due = r.due if isinstance(r.due, dt.date) else dt.date.fromisoformat(str(r.due))
        if due not in late:
            late[due] = calendar.workdays_between(due, today)   # > 0: working days late
        notices[i] = Notice(occurrence_id=i, stage=f"urge-{earlier.get(i, 0) + 1}", kind="urge", swept_on=today,
                            workdays=late[due], recipient_kind="contact", recipient_id=r.contact)
    session.add_all(notices.values())
    session.flush()
    at = send_time(now, quiet_hours, timezone)
    by_contact: dict[int, list[int]] = {}
    for i in ids:
        by_contact.setdefault(rows[i].contact, []).append(i)
    messages = {}
    for cid, items in by_contact.items():
        r = rows[items[0]]
        messages[cid] = Outbox(key=f"urge:contact:{cid}:{notices[items[0]].id}", recipient_kind="contact",
                               recipient_id=cid, day=today, channel=_channel(r.email, r.webhook),
                               address=r.email or r.webhook, recipient_name=r.name, status=OutboxStatus.PENDING.value,
                               attempts=0, next_attempt_at=at, created_at=now, items=len(items))
    session.add_all(messages.values())
    session.flush()
    for cid, items in by_contact.items():   # one UPDATE per message, not one per notice
        session.execute(sa.update(Notice.__table__).where(Notice.__table__.c.id.in_([notices[i].id for i in items]))
                        .values(digest_id=messages[cid].id))
    session.add_all([HandReminder(occurrence_id=i, notice_id=notices[i].id, outbox_id=messages[rows[i].contact].id,
                                  actor=by.name, at=now, note=note) for i in ids])
    for i in ids:
        audit.record(session, actor=by.name, action="urge", object_type="occurrence", object_id=i,
                     jurisdiction_id=rows[i].jurisdiction_id, at=now,
                     after={"stage": notices[i].stage, "note": note, "outbox": messages[rows[i].contact].id,
                            "send_at": at, "channel": by.channel})
    session.flush()
    return Urged(len(ids), len(messages), at, {i: notices[i].stage for i in ids})


def reminders_of(session: Session, occurrence_id: int) -> list:
    """An item's hand reminders, oldest first, with whether their message went out."""
    return session.execute(
        select(HandReminder.at, HandReminder.actor, HandReminder.note, Notice.stage, Outbox.status, Outbox.sent_at)
        .join(Notice, Notice.id == HandReminder.notice_id).outerjoin(Outbox, Outbox.id == HandReminder.outbox_id)
        .where(HandReminder.occurrence_id == occurrence_id).order_by(HandReminder.id)).all()
