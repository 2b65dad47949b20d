"""The audit trail: one row per change a person made (who, what, when, before and after)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session

from storage.tables import AuditEntry, Jurisdiction

ACTIONS = {"complete": "登记办理", "waive": "豁免", "extend": "延期", "request": "申请豁免或延期",
           "approve": "批准申请", "reject": "驳回申请", "user.add": "新增账号", "user.update": "修改账号",
           "token.add": "新增接口令牌", "catalog.load": "加载计划目录", "link.use": "通过通知链接登记",
           "directory.import": "导入行政区划", "contacts.import": "导入通讯录",
           "task.assign": "交办任务", "urge": "催办",
           "user.sign_in": "登录", "user.sign_in_failed": "登录失败", "user.sign_out": "退出登录",
           "user.disable": "停用账号", "user.enable": "启用账号", "user.password": "修改密码",
           "user.ics": "更换日历订阅地址", "token.revoke": "吊销接口令牌", "report.issue": "印发通报",
           "accept": "审核通过", "return": "退回", "contact.update": "修改联系人", "contact.add": "添加联系人", "progress": "进度反馈"}
ACTIONS["confirm"] = "协办确认"     # a co-department confirms its part (workflow.confirm_part)


def record(session: Session, *, actor: str, action: str, object_type: str, object_id: Any,
           jurisdiction_id: int | None = None, before: dict | None = None, after: dict | None = None,
           at: dt.datetime | None = None) -> AuditEntry:
    entry = AuditEntry(at=at or dt.datetime.now(dt.timezone.utc), actor=actor, action=action,
                       object_type=object_type, object_id=str(object_id), jurisdiction_id=jurisdiction_id,
                       before=_plain(before), after=_plain(after))
    session.add(entry)
    return entry


def _plain(value: dict | None) -> dict | None:
    if value is None:
        return None
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in value.items()}


SORTS = {"at": "时间", "actor": "操作人", "action": "操作"}


def _query(*, area_path: str | None = None, object_type: str | None = None, object_id: str | None = None,
           q: str = "", actions: tuple[str, ...] | None = None, since: dt.datetime | None = None,
           until: dt.datetime | None = None):
    """The entries' filters as one select of AuditEntry. ``q``: every word in the person (user
    name or display name), the action's Chinese name, or, for an item, its title, clause, plan,
    unit or department (the sentence's words, searched in SQL)."""
    query = select(AuditEntry)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEntry.object_id == str(object_id))
    if area_path is not None:
        query = query.where(AuditEntry.jurisdiction_id.in_(select(Jurisdiction.id).where(
            Jurisdiction.path.like(area_path + "%"))) | AuditEntry.jurisdiction_id.is_(None))
    if actions:
        query = query.where(AuditEntry.action.in_(actions))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    for word in q.split()[:8]:
        query = query.where(_word(word))
    return query


def _like(column, word: str):
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return sa.func.coalesce(sa.cast(column, sa.String), "").ilike(pattern, escape="\\")


def _word(word: str):
    from storage.tables import Clause, Department, Obligation, Occurrence, Plan, UserAccount

    named = [k for k, v in ACTIONS.items() if word in v]
    people = select(UserAccount.username).where(_like(UserAccount.username, word) | _like(UserAccount.display_name, word))
    items = (select(sa.cast(Occurrence.id, sa.String))
             .join(Obligation, Obligation.id == Occurrence.obligation_id)
             .join(Clause, Clause.id == Obligation.clause_id).join(Plan, Plan.id == Occurrence.plan_id)
             .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
             .join(Department, Department.key == Occurrence.party_key)
             .where(_like(Obligation.what, word) | _like(Clause.title, word) | _like(Plan.title, word)
                    | _like(Jurisdiction.name, word) | _like(Department.name, word)))
    return sa.or_(_like(AuditEntry.actor, word), AuditEntry.actor.in_(people),
                  AuditEntry.action.in_(named) if named else sa.false(),
                  sa.and_(AuditEntry.object_type == "occurrence", AuditEntry.object_id.in_(items)))


def entries(session: Session, *, area_path: str | None = None, object_type: str | None = None,
            object_id: str | None = None, limit: int | None = 200, offset: int = 0, q: str = "",
            actions: tuple[str, ...] | None = None, since: dt.datetime | None = None,
            until: dt.datetime | None = None, sort: str = "at", desc: bool = True) -> list[AuditEntry]:
    """The entries, newest first (or by ``sort``, a key of ``SORTS``), ``limit`` from ``offset``."""
    column = {"at": AuditEntry.at, "actor": AuditEntry.actor, "action": AuditEntry.action}[sort]
    query = _query(area_path=area_path, object_type=object_type, object_id=object_id, q=q, actions=actions,
                   since=since, until=until)
    query = query.order_by(column.desc() if desc else column.asc(), AuditEntry.id.desc() if desc else AuditEntry.id)
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return list(session.scalars(query))


def count(session: Session, **filters: Any) -> int:
    """How many entries ``entries`` would give with the same filters and no limit."""
    return session.scalar(select(sa.func.count()).select_from(_query(**filters).subquery())) or 0


# ---------------------------------------------------------------- the trail in words

ROLE_WORDS = {"coordinator": "协调员", "supervisor": "督查人员", "department": "责任部门", "director": "儿童主任"}
SIGN_IN_FAILURES = {"password": "密码错误", "locked": "尝试过多已锁定", "unknown": "无此账号", "disabled": "账号已停用"}
REQUEST_KINDS = {"waive": "豁免", "extend": "延期"}
PLAN_CHANGES = {"created": "首次加载", "plan_changed": "计划信息有变", "clauses_added": "新增条款",
                "clauses_changed": "修改条款", "clauses_removed": "删除条款", "obligations_added": "新增任务",
                "obligations_changed": "修改任务", "obligations_removed": "删除任务"}


def _people(session: Session, actors, account_ids=()) -> tuple[dict, dict, dict]:
    """(people: user name → 新华区民政局 张三, accounts: id → 张三（zhangsan）, logins: id → user
    name) of the accounts named by ``actors`` (user names) or ``account_ids``: one query."""
    from storage.tables import Department, UserAccount

    people: dict[str, str] = {}
    accounts: dict[str, str] = {}
    logins: dict[str, str] = {}
    q = (select(UserAccount.id, UserAccount.username, UserAccount.display_name, Jurisdiction.name,
                Department.name, UserAccount.role, UserAccount.director)
         .join(Jurisdiction, Jurisdiction.id == UserAccount.jurisdiction_id)
         .outerjoin(Department, Department.key == UserAccount.department_key)
         .where(UserAccount.username.in_(set(actors)) | UserAccount.id.in_(set(account_ids))))
    for uid, username, display, unit, dept, role, director in session.execute(q):
        display = display or username
        accounts[str(uid)] = f"{display}（{username}）" if display != username else username
        if display == username:     # no name of its own: the account's department or role
            display = dept or (f"儿童主任 {director}" if director else ROLE_WORDS.get(role, "账号"))
        people[username] = display if unit in display else f"{unit} {display}"
        logins[str(uid)] = username
    return people, accounts, logins


def people_words(session: Session, actors) -> dict[str, str]:
    """Each actor of ``actors`` (user names, ``cli``, ``demo``, a notice link's name …) as people
    name them (``actor_name``): for the item page's timeline and its 催办 line."""
    actors = {a for a in actors if a}
    people = _people(session, actors)[0] if actors else {}
    return {a: actor_name(a, None, people) for a in actors}


def names_for(session: Session, rows: list[AuditEntry]) -> dict[str, dict[str, str]]:
    """What ``audit_sentence`` needs to name the people, items, accounts and plans of ``rows``,
    in one query per kind (never one per row): ``departments`` (key → name), ``people`` (user name → 新华区民政局 张三),
    ``items`` (item id → 新华区 教育局「福建省实施方案」第3条 2025年第2季度), ``accounts``
    (account id → 张三（zhangsan）), ``logins`` (account id → user name), ``plans`` (plan id → title)."""
    from obligations import words
    from storage.tables import Clause, Department, Obligation, Occurrence, Plan

    actors = {e.actor for e in rows}
    account_ids = {int(e.object_id) for e in rows if e.object_type == "user" and str(e.object_id).isdigit()}
    item_ids = {int(e.object_id) for e in rows if e.object_type == "occurrence" and str(e.object_id).isdigit()}
    plan_ids = {e.object_id for e in rows if e.object_type == "plan"}
    dept_keys = {str(e.after.get("department")) for e in rows if isinstance(e.after, dict) and e.after.get("department")}
    out: dict[str, dict[str, str]] = {"people": {}, "items": {}, "accounts": {}, "logins": {}, "plans": {},
                                      "departments": {}}
    if dept_keys:
        out["departments"] = dict(session.execute(select(Department.key, Department.name)
                                                  .where(Department.key.in_(dept_keys))).all())
    if actors or account_ids:
        out["people"], out["accounts"], out["logins"] = _people(session, actors, account_ids)
    if item_ids:
        q = (select(Occurrence.id, Jurisdiction.name, Department.name, Plan.title, Clause.code, Occurrence.period_key,
                    Obligation.what)
             .join(Obligation, Obligation.id == Occurrence.obligation_id)
             .join(Clause, Clause.id == Obligation.clause_id).join(Plan, Plan.id == Occurrence.plan_id)
             .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
             .join(Department, Department.key == Occurrence.party_key).where(Occurrence.id.in_(item_ids)))
        for oid, unit, dept, title, code, period, what in session.execute(q):
            where = f"「{words.short_title(title)}」{words.clause_label(code)}" if code != "assigned" \
                else f"交办事项「{what[:20]}」"
            out["items"][str(oid)] = f"{unit} {dept}{where} {words.period_label(period)}"
    if plan_ids:
        out["plans"] = {pid: title for pid, title in session.execute(select(Plan.id, Plan.title)
                                                                     .where(Plan.id.in_(plan_ids)))}
    return out


def _get(entry: Any, key: str) -> Any:
    return entry.get(key) if isinstance(entry, dict) else getattr(entry, key)


def _day(value: Any) -> str:
    if value in (None, ""):
        return "无"
    return str(value)[:10]


def _progress(state: dict) -> str:
    return f"{state.get('done', 0)}/{state.get('required', 1)}"


def _result(state: dict) -> str:
    """The item's state in words after a change."""
    if state.get("waived"):
        return "已豁免"
    if state.get("submitted"):
        return "已办结，待审核"
    if state.get("done", 0) >= state.get("required", 1):
        return "已办结" + (f"（办结日期 {_day(state.get('completed_on'))}）" if state.get("completed_on") else "")
    return f"已办理 {_progress(state)}"


def _changes(before: dict, after: dict) -> str:
    """Before → after of an item's state (进度, 截止日期), only what changed."""
    parts = []
    if before.get("done") != after.get("done") and "done" in before and "done" in after:
        parts.append(f"进度 {_progress(before)} → {_progress(after)}")
    if before.get("due") != after.get("due") and before.get("due") and after.get("due"):
        parts.append(f"截止日期 {_day(before['due'])} → {_day(after['due'])}")
    return "；".join(parts)


def _note(label: str, text: Any) -> str:
    text = str(text or "").strip()
    return f"（{label}：{text[:200]}）" if text else ""


OPEN, CLOSE = "（(", "）)"


def unnest(text: str) -> str:
    """``text`` with no bracket inside a bracket: an inner （…） (an item's state, a stage's
    number, brackets typed into a note) becomes ，… within the outer one, and an outer bracket
    left open by a typed one is closed, e.g.
    （待审核 → 已办结（办结日期 2025-06-10）） → （待审核 → 已办结，办结日期 2025-06-10）."""
    out: list[str] = []
    depth = 0
    for i, ch in enumerate(text):
        if ch in OPEN:
            depth += 1
            if depth == 1:
                out.append(ch)
            elif out and out[-1] not in "，；：、（(":
                out.append("，")
        elif ch in CLOSE and depth:
            depth -= 1
            if depth == 0:
                out.append(ch)
            elif i + 1 < len(text) and text[i + 1] not in CLOSE + "，；。、" and out and out[-1] != "，":
                out.append("，")
        else:
            out.append(ch)
    if depth:                       # a bracket typed and never closed took the outer one's place
        out.append("）")
    return "".join(out)


def actor_name(actor: str, channel: Any, people: dict[str, str]) -> str:
    """The person who acted, as people name them: the account's name and unit, 管理员（命令行）,
    the name given on a notice link, the demo's simulated people (演示数据)."""
    from obligations import words

    if actor == "cli":
        return "管理员（命令行）"
    if actor == "web":
        return "未登录的访问者"
    if actor == "demo":
        return "演示数据"
    if actor.startswith("通知链接："):
        return f"{actor.partition('：')[2] or '未留名者'}（通知链接）"
    who = people.get(actor, actor)
    if channel == "demo":           # the demo's simulated people are named 演示部门, 演示协调员 …
        return who if who.startswith("演示") else f"{who}（演示数据）"
    if channel and channel not in ("email",):
        who += f"（{words.channel_name(channel)}）"
    return who


def audit_sentence(entry: Any, names: dict[str, dict[str, str]] | None = None, *, at: str | None = None) -> str:
    """One audit entry as a sentence people read, e.g. 新华区民政局 张三（网页）将 新华区 教育局
    「福建省实施方案」第3条 2025年第2季度 登记为已办结（办理日期 2025-06-10；进度 0/1 → 1/1；备注：…）.
    ``entry``: an AuditEntry or a dict with its fields; ``names`` from ``names_for`` (missing names
    fall back to plain words, never to codes or JSON); ``at``: the time to put in front (already
    in local time). Pure: no database, no clock."""
    from obligations import words

    names = names or {}
    action, actor = _get(entry, "action"), str(_get(entry, "actor") or "")
    kind, oid = _get(entry, "object_type"), str(_get(entry, "object_id"))
    before, after = _get(entry, "before") or {}, _get(entry, "after") or {}
    who = actor_name(actor, after.get("channel"), names.get("people", {}))
    item = names.get("items", {}).get(oid, f"督办事项（编号 {oid}）") if kind == "occurrence" else ""
    account = names.get("accounts", {}).get(oid, "一个账号") if kind == "user" else ""

    if action in ("complete", "link.use"):
        details = [f"办理日期 {_day(after.get('done_on'))}"]
        if after.get("judged_on") and _day(after.get("judged_on")) != _day(after.get("done_on")):
            details.append(f"按登记日期 {_day(after['judged_on'])} 判定")
        if after.get("flagged"):
            details.append("补登待核")
        change = _changes(before, after)
        if change:
            details.append(change)
        if after.get("evidence"):
            details.append("附证明材料")
        if after.get("note"):
            details.append(f"备注：{str(after['note']).strip()[:200]}")
        result = _result({**after, "completed_on": None})
        text = f"{who}将 {item} 登记为{result}（{'；'.join(details)}）"
    elif action == "waive":
        text = f"{who}豁免了 {item}{_note('理由', after.get('reason'))}"
    elif action == "extend":
        text = f"{who}将 {item} 的截止日期由 {_day(before.get('due'))} 延至 {_day(after.get('due'))}" \
               + _note("理由", after.get("reason") or after.get("note"))
    elif action == "request":
        what = "豁免" if after.get("kind") == "waive" else f"延期至 {_day(after.get('new_due'))}"
        text = f"{who}就 {item} 申请{what}{_note('理由', after.get('reason'))}"
    elif action in ("approve", "reject"):
        kind_words = REQUEST_KINDS.get(after.get("kind"), "")
        verb = "批准" if action == "approve" else "驳回"
        change = _changes(before, after) if action == "approve" else ""
        text = f"{who}{verb}了 {item} 的{kind_words}申请" + (f"（{change}）" if change else "") \
            + _note("意见", after.get("note"))
    elif action == "accept":
        text = f"{who}审核通过了 {item} 的办结登记（待审核 → {_result({**after, 'submitted': False})}）" \
            + _note("意见", after.get("note"))
    elif action == "return":
        change = _changes(before, after)
        text = f"{who}将 {item} 退回重办" + (f"（{change}）" if change else "") + _note("理由", after.get("reason"))
    elif action == "urge":
        stage = words.stage_name(str(after["stage"])) if after.get("stage") else "催办"
        text = f"{who}催办了 {item}（{stage}）" + _note("说明", after.get("note"))
    elif action == "task.assign":
        depts = after.get("departments") or []
        text = (f"{who}交办任务「{str(after.get('title') or '')[:40]}」给 {after.get('unit') or ''} "
                f"{'及所辖地区' if (after.get('units') or 1) > 1 else ''}的 {len(depts)} 个部门，"
                f"截止日期 {_day(after.get('due'))}，共 {after.get('items') or 0} 项")
        if after.get("evidence"):
            text += "，须附证明材料"
    elif action == "user.add":
        role = ROLE_WORDS.get(after.get("role"), "")
        dept = names.get("departments", {}).get(after.get("department")) if after.get("department") else None
        extra = "、".join(str(x) for x in (after.get("jurisdiction"), dept, after.get("director")) if x)
        text = f"{who}新增账号 {after.get('username') or account}（{role}{'，' + extra if extra else ''}）"
    elif action == "user.update":
        text = f"{who}修改了账号 {account}"
        fields = {"display_name": "姓名", "role": "角色", "jurisdiction": "地区", "department": "部门",
                  "director": "儿童主任", "phone": "电话", "email": "邮箱"}
        changed = [f"{label} {before.get(k) or '无'} → {after.get(k) or '无'}" for k, label in fields.items()
                   if k in after and before.get(k) != after.get(k)]
        if changed:
            text += f"（{'；'.join(changed)}）"
    elif action == "user.disable":
        text = (f"{who}停用了账号 {account}（结束会话 {after.get('sessions_ended') or 0} 个，"
                f"吊销接口令牌 {after.get('tokens_revoked') or 0} 个）")
    elif action == "user.enable":
        text = f"{who}启用了账号 {account}" + ("（并清除了登录失败记录）" if after.get("failures_cleared") else "")
    elif action == "user.password":
        target = "自己的" if names.get("logins", {}).get(oid) == actor else f"账号 {account} 的"
        text = f"{who}修改了{target}密码（结束会话 {after.get('sessions_ended') or 0} 个）"
    elif action == "user.sign_in":
        text = f"{who}在网页登录" + (f"（来自 {after['client']}）" if after.get("client") else "")
    elif action == "user.sign_in_failed":
        reason = SIGN_IN_FAILURES.get(after.get("reason"), "原因不明")
        name = f"账号 {account} " if after.get("username") else "以不存在的用户名"
        text = f"{name}登录失败：{reason}" + (f"（来自 {after['client']}）" if after.get("client") else "")
    elif action == "user.sign_out":
        text = f"{who}在网页退出登录"
    elif action == "token.add":
        text = f"{who}为账号 {account} 新增接口令牌" + (f"，有效期至 {_day(after.get('expires'))}"
                                                      if after.get("expires") else "") \
            + (f"（用途：{after['label']}）" if after.get("label") else "")
    elif action == "token.revoke":
        which = "全部接口令牌" if after.get("token") == "all" else "一个接口令牌"
        text = f"{who}吊销了账号 {account} 的{which}（{after.get('revoked') or 0} 个）"
    elif action == "user.ics":
        text = f"{who}更换了账号 {account} 的日历订阅地址（旧地址失效）"
    elif action == "catalog.load":
        title = names.get("plans", {}).get(oid, "一个计划")
        parts = [PLAN_CHANGES[k] + (f" {len(v)} 项" if isinstance(v, list) else "")
                 for k, v in after.items() if k in PLAN_CHANGES and v]
        text = f"{who}加载计划「{title}」" + (f"（{'，'.join(parts)}）" if parts else "")
    elif action == "directory.import":
        text = f"{who}导入行政区划：{after.get('unit') or ''}，新增 {after.get('added') or 0} 个地区"
    elif action == "contacts.import":
        text = (f"{who}导入通讯录（共 {after.get('rows') or 0} 行，新增 {after.get('added') or 0}，"
                f"修改 {after.get('changed') or 0}，删除 {after.get('removed') or 0}）")
    elif action == "progress":           # a progress report on a long item (workflow.report_progress)
        was = f"{before['percent']}% → " if before.get("percent") is not None else ""
        text = f"{who}反馈了 {item} 的进度：{was}{after.get('percent', 0)}%" \
            + (f"（截至 {_day(after['reported_on'])}）" if after.get("reported_on") else "") \
            + _note("已完成", after.get("done")) + _note("困难", after.get("difficulties")) \
            + _note("下一步", after.get("next_steps"))
    elif action == "confirm":            # a co-department confirms its part (workflow.confirm_part)
        dept = names.get("departments", {}).get(after.get("department"), "协办部门")
        text = f"{who}确认了 {item} 中{dept}的协办部分" + _note("说明", after.get("note"))
    elif action == "contact.update":     # storage.contacts: a unit's contact edited on the web
        fields = {"person": "联系人", "title": "职务", "mobile": "手机", "email": "邮箱", "im_account": "钉钉/企业微信账号"}
        changed = [f"{label} {before.get(k) or '无'} → {after.get(k) or '无'}" for k, label in fields.items()
                   if k in after]
        office = before.get("office") or "一个单位"
        text = f"{who}修改了 {office} 的联系方式" + (f"（{'；'.join(changed)}）" if changed else "")
    elif action == "contact.add":        # storage.contacts.add_contact: a new contact from the web
        fields = {"person": "联系人", "title": "职务", "mobile": "手机", "email": "邮箱", "im_account": "钉钉/企业微信账号"}
        given = [f"{label} {after[k]}" for k, label in fields.items() if after.get(k)]
        text = f"{who}添加了 {after.get('office') or '一个单位'} 的联系人" + (f"：{'，'.join(given)}" if given else "")
    elif action == "report.issue":
        text = f"{who}印发通报 {after.get('text') or ''}" + (f"，印发日期 {_day(after['issued_on'])}"
                                                         if after.get("issued_on") else "") \
            + (f"，抄送 {'、'.join(map(str, after['cc']))}" if after.get("cc") else "")
    else:      # an action this function does not know yet: its name, the object, never raw data
        what = item or account or ""
        text = f"{who}{ACTIONS.get(action, '进行了一项操作')}" + (f"：{what}" if what else "")
    text = unnest(text)
    return f"{at} {text}" if at else text
