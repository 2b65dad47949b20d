"""Rendering a digest: subject, text and HTML from Jinja2 templates, in Chinese.

No child's name or identifying detail appears: case items carry the pseudonymous code and the
township only."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from notifications.links import make_token
from obligations.notify import COLOURS, stage_kind
from obligations.templating import environment
from obligations.words import NOTICE_KIND_NAMES, clause_label, date_with_weekday, numeral, period_label

TEMPLATES = Path(__file__).with_name("templates")
KIND_ORDER = {"urge": -1, "escalate": 0, "overdue": 1, "due": 2, "remind": 3, "return": 4, "feedback": 5}
CSS = {"remind": "#1f5fbf", "due": "#1f5fbf", "overdue": "#b8860b", "escalate": "#c0392b", "urge": "#c0392b",
       "return": "#8e44ad", "feedback": "#16a085"}
KIND_ORDER["confirm"], CSS["confirm"] = 6, "#1f7a5c"   # 协办确认提醒 (notifications/sweep.py)

_env = environment(TEMPLATES)


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a digest as the templates read it (attributes, not dict keys: Jinja tries
    getattr first, and a failed getattr per field per item was a tenth of rendering)."""
    clause: str
    clause_title: str
    what: str
    assignee: str
    case: str | None
    who_line: str
    period: str
    due: str
    timing: str
    done: int
    required: int
    link: str          # /c/…: the owing contact completes; /v/…: a supervisor views (cannot complete)
    note: str = ""        # a hand reminder's note (催办说明)
    reason: str | None = None   # why a coordinator returned the item's completion (退回)
    progress_link: str = ""     # a feedback reminder: the item's page, where progress is reported (进度反馈)
    action: str = ""      # the link's label when not the usual one (协办确认: the item's web page)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    items: int
    recipient: str = ""    # the name the mail addresses (a key child's village replaced by its township)


ITEMS_SQL = sa.text(
    "SELECT n.digest_id, n.id AS notice_id, n.stage, n.kind, n.workdays, o.id AS occurrence_id, o.due, o.period_key, "
    "o.required, o.done_count, p.title AS plan_title, p.id AS plan_id, cl.code AS clause, cl.title AS clause_title, "
    "ob.what, ob.code AS obligation, j.name AS unit, d.name AS dept, c.name AS contact_name, k.code AS case_code, "
    "t.name AS township, h.note AS urge_note, s.supervisor_name AS sender_name, "
    "s.supervisor_person AS sender_person, s.supervisor_mobile AS sender_mobile, s.supervisor_email AS sender_email, "
    "CASE WHEN n.kind = 'return' THEN (SELECT r.return_reason FROM completion r WHERE r.occurrence_id = o.id "
    "AND r.returned_at IS NOT NULL ORDER BY r.returned_at DESC, r.id DESC LIMIT 1) END AS return_reason "
    "FROM notice n JOIN occurrence o ON o.id = n.occurrence_id JOIN obligation ob ON ob.id = o.obligation_id "
    "JOIN clause cl ON cl.id = ob.clause_id JOIN plan p ON p.id = o.plan_id "
    "JOIN jurisdiction j ON j.id = o.jurisdiction_id JOIN department d ON d.key = o.party_key "
    "LEFT JOIN contact c ON c.jurisdiction_id = o.jurisdiction_id AND c.department_key = o.party_key "
    "LEFT JOIN care_case k ON k.id = o.case_id LEFT JOIN hand_reminder h ON h.notice_id = n.id "
    "LEFT JOIN jurisdiction t ON t.id = CASE WHEN j.level = 'village' THEN j.parent_id ELSE j.id END "
    "LEFT JOIN jurisdiction s ON s.id = j.escalate_to_id "
    "WHERE n.digest_id IN :digests AND o.waived_at IS NULL "
    "AND (o.done_count < o.required OR (n.kind = 'confirm' AND o.submitted_at IS NOT NULL)) "
    # a co-department's confirmation reminder only while its confirmation is still pending
    "AND (n.kind <> 'confirm' OR EXISTS (SELECT 1 FROM co_confirmation cc JOIN contact cx "
    "ON cx.department_key = cc.party_key AND cx.jurisdiction_id = o.jurisdiction_id "
    "WHERE cx.id = n.recipient_id AND cc.occurrence_id = o.id AND cc.confirmed_at IS NULL)) "
    "ORDER BY n.digest_id, p.id, n.kind, o.due, cl.position, ob.position, j.path, d.key, n.id"
).bindparams(sa.bindparam("digests", expanding=True))


def feedback_timing(stage: str) -> str:
    """A feedback reminder's words: its feedback day (stage feedback-YYMMDD) and what to do."""
    day = dt.datetime.strptime(stage.split("-", 1)[1], "%y%m%d").date()
    return f"{day.month}月{day.day}日为进度反馈日，尚未报送工作进展，请登录督办系统在事项页“进度反馈”中填报"


def item_rows(session: Session, digest_ids: list[int]) -> dict[int, list]:
    """The current items of several digests in one query."""
    out: dict[int, list] = {d: [] for d in digest_ids}
    for r in session.execute(ITEMS_SQL, {"digests": digest_ids}):
        out[r.digest_id].append(r)
    return out


@dataclass(frozen=True)
class Sender:
    """Who a digest comes from, for the reader to call back: the office supervising the items'
    unit (its 督查室 from the directory) with its contact person, phone and address."""
    unit: str
    person: str = ""
    phone: str = ""
    email: str = ""

    @property
    def contact(self) -> str:
        return "，".join(x for x in (f"联系人：{self.person}" if self.person else "",
                                     f"电话：{self.phone}" if self.phone else "",
                                     f"邮箱：{self.email}" if self.email else "") if x)


def _sender(rows: list, supervisor: bool) -> Sender | None:
    """The supervising office of a department's digest (the items of one digest share their
    unit); None for a supervisor's own digest (it is about the units it supervises)."""
    if supervisor:
        return None
    r = rows[0]
    name = getattr(r, "sender_name", None)
    if not name:
        return None
    return Sender(name, getattr(r, "sender_person", None) or "", getattr(r, "sender_mobile", None) or "",
                  getattr(r, "sender_email", None) or "")


def compose(rows: list, *, recipient: str, supervisor: bool, day: dt.date, secret: bytes, base_url: str,
            link_days: int) -> Rendered | None:
    """A digest from its current item rows (``item_rows``): items completed or waived since the
    sweep are already left out; None when nothing is left to say. Completion links (/c/) go only
    to the owing department's or director's contact; a supervisor's digest links each item for
    viewing (/v/), and the link door refuses a supervisor's notice a completion in any case."""
    if not rows:
        return None
    expires = day + dt.timedelta(days=link_days)
    # a digest about key children addresses its reader by the township: the village's name beside
    # a child's code could point to the child
    for village, township in {r.unit: r.township for r in rows if r.case_code and r.township}.items():
        if village != township:
            recipient = recipient.replace(village, township)
    plans: dict[str, dict] = {}
    for r in rows:
        kind = stage_kind(r.stage)
        plan = plans.setdefault(r.plan_id, {"title": r.plan_title, "groups": {}})
        group = plan["groups"].setdefault(kind, {"name": NOTICE_KIND_NAMES[kind], "colour": COLOURS[kind],
                                                 "css": CSS[kind], "entries": [], "order": KIND_ORDER[kind]})
        due = r.due if isinstance(r.due, dt.date) else dt.date.fromisoformat(str(r.due))
        # days late as the web says them: working days, the calendar days beside
        late = f"已逾期 {r.workdays} 个工作日（{(day - due).days} 天）"
        if kind == "urge":
            timing = (late if r.workdays > 0 and due < day
                      else "今日到期" if due == day else f"还剩 {max(-r.workdays, 0)} 个工作日")
        elif kind == "return":
            late = day > due
            timing = "已退回，请重新办理并登记" + ("（已过截止日期）" if late else "")
        elif kind == "feedback":
            timing = feedback_timing(r.stage)
        elif kind == "remind":
            timing = f"还剩 {r.workdays} 个工作日"
        elif kind == "confirm":
            timing = "今日到期，请确认协办部分" if r.workdays <= 0 else f"还剩 {r.workdays} 个工作日，请确认协办部分"
        elif kind == "due":
            timing = "今日到期"
        else:
            timing = late
        token = make_token(secret, notice_id=r.notice_id, occurrence_id=r.occurrence_id, expires=expires)
        # a key child's item names the township only: not the village (with the code, it could
        # point to the child) nor a contact named after it
        assignee = f"{r.township}{r.dept}" if r.case_code else (r.contact_name or f"{r.unit}{r.dept}")
        confirm = kind == "confirm"    # to a co-department: the lead's item, confirmed on its web page
        group["entries"].append(Entry(
            clause=clause_label(r.clause), clause_title=r.clause_title or "", what=r.what,
            assignee=assignee,
            case=f"{r.case_code}（{r.township}）" if r.case_code else None,
            who_line=(f"牵头单位：{assignee}；贵单位为协办部门" if confirm else f"责任单位：{assignee}")
            + (f"；服务对象：{r.case_code}（{r.township}）" if r.case_code else ""),
            period=period_label(r.period_key), due=date_with_weekday(due), timing=timing,
            done=r.done_count, required=r.required,
            link=(f"{base_url.rstrip('/')}/items/{r.occurrence_id}" if confirm
                  else f"{base_url.rstrip('/')}/{'v' if supervisor else 'c'}/{token}"),
            action="协办确认（登录后在事项页确认）" if confirm else "",
            note=(r.urge_note or "") if kind == "urge" else "",
            reason=getattr(r, "return_reason", None),
            progress_link=f"{base_url.rstrip('/')}/items/{r.occurrence_id}" if kind == "feedback" and not supervisor else "",
        ))
    plan_list = []
    for i, plan in enumerate(plans.values()):
        groups = sorted(plan["groups"].values(), key=lambda g: g["order"])
        plan_list.append({"number": numeral(i + 1), "title": plan["title"], "groups": groups})
    kinds = {g["order"] for p in plan_list for g in p["groups"]}
    headline = {-1: "催办", 0: "督办", 1: "催办", 2: "提醒", 3: "提醒", 4: "退回", 5: "进度反馈", 6: "协办确认"}[min(kinds)]
    overdue = sum(len(g["entries"]) for p in plan_list for g in p["groups"] if 0 <= g["order"] <= 1)
    intro = (f"截至{date_with_weekday(day)}，贵单位督查范围内下列单位的督办事项已逾期且尚未办结，请督促有关单位抓紧办理："
             if supervisor else f"根据有关实施方案，截至{date_with_weekday(day)}，贵单位有下列事项需要办理：")
    base = base_url.rstrip("/")
    ctx = {"list_url": f"{base}/dashboard" if supervisor else f"{base}/inbox", "sender": _sender(rows, supervisor),
           "intro": intro, "recipient": recipient, "supervisor": supervisor, "day_text": date_with_weekday(day), "plans": plan_list,
           "subject_day": f"{day.year}年{day.month}月{day.day}日", "total": len(rows), "overdue": overdue, "headline": headline, "link_days": link_days}
    subject = _env.get_template("digest.subject.j2").render(ctx).strip()
    return Rendered(subject, _env.get_template("digest.txt.j2").render(ctx),
                    _env.get_template("digest.html.j2").render({**ctx, "subject": subject}), len(rows), recipient)
