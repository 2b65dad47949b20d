"""The item page as a work page, the requests page and the mail, through the real database and
pages (test_web's world: 新华区 with its 教育局 account jy, coordinator mz, today 2025-04-10):

- the coordinator's extension (延期) is one door: rules, audit row, the CLI and the page;
- the item page shows the clause's text, the owing unit's contact, and a timeline whose
  automatic notices are grouped (逾期催办 ×12) with no internal code;
- requests decided in bulk, all or none, with a confirmation naming them; the decision and its
  note on the item page afterwards; the pending counts for the navigation;
- a refused completion keeps the note and the date; a link to a finished item shows no form;
- the digest mail: one column at most 600 px, a viewport, the sender office, the full list."""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from flows.cli import main as cli
from notifications.links import load_secret, make_token
from storage import views, workflow
from storage.tables import AuditEntry, Contact, ItemRequest, Jurisdiction, Notice, Occurrence
from tests.conftest import csrf_of, owing_contact
from tests.test_review import _open_items, _submit
from tests.test_web import TODAY, client
from tests.test_web import world as web_world

D = dt.date
world = web_world
# what a person must never read on a page: notice stages, plan ids, clause ids, status keys
INTERNAL = re.compile(r"\b(?:overdue|remind|escalate|urge|return)-\d+|\b[a-z]+-20\d\d\b|\blist-\d+|\breq-\d+"
                      r"|20\d\d-Q\d|\b(?:due_soon|done_late|submitted|waived|pending|approved|rejected|extension"
                      r"|waiver)\b")


def _text(html: str) -> str:
    """The page's readable text (no tags, attributes, scripts)."""
    body = html.split("<main>", 1)[-1]
    return re.sub(r"<[^>]+>", " ", body)


def _query(r, key: str) -> str:
    assert r.status_code == 303, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)[key][0]


def _request(engine, oid: int, kind: str = "extension", reason: str = "汛期入户困难") -> int:
    with Session(engine) as s, s.begin():
        r = workflow.request(s, oid, by=workflow.Actor("jy", "cli"), kind=kind, reason=reason, today=TODAY,
                             new_due=D(2025, 7, 31) if kind == "extension" else None)
        return r.id


# ---------------------------------------------------------------- extension: one door

def test_a_coordinator_extends_an_item_through_one_door(world):
    app, engine, settings, _ = world
    first, second, third = _open_items(engine, "新华区", None, 3)
    with Session(engine) as s:
        due = s.get(Occurrence, first).due
    mz = client(app, "mz")
    csrf = csrf_of(mz, f"/items/{first}")
    # refusals keep what was typed: no reason; a date not later; the department may not
    r = mz.post(f"/items/{first}/extend", data={"new_due": (due + dt.timedelta(days=10)).isoformat(), "reason": "",
                                                "csrf": csrf})
    assert _query(r, "error") == "延期必须说明理由"
    r = mz.post(f"/items/{first}/extend", data={"new_due": due.isoformat(), "reason": "等待上级文件", "csrf": csrf})
    assert _query(r, "error") == f"延期后的截止日期须晚于现截止日期 {due}"
    page = mz.get(r.headers["location"]).text
    assert "等待上级文件" in page and 'id="extend" open' in page
    jy = client(app, "jy")
    r = jy.post(f"/items/{first}/extend", data={"new_due": "2025-12-31", "reason": "x", "csrf": csrf_of(jy, "/inbox")})
    assert r.status_code in (403, 404)        # not theirs to see, or not theirs to extend
    new_due = due + dt.timedelta(days=20)
    r = mz.post(f"/items/{first}/extend", data={"new_due": new_due.isoformat(), "reason": "等待上级文件", "csrf": csrf})
    assert _query(r, "ok") == f"已延期：截止日期改为 {new_due}"
    page = mz.get(f"/items/{first}").text
    assert f"延期：截止日期 {due} → {new_due}" in page and "理由：等待上级文件" in page
    assert f"原截止日期 {due}，已延期" in page
    with Session(engine) as s:
        o = s.get(Occurrence, first)
        assert (o.due, o.original_due) == (new_due, due)
        [entry] = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "extend",
                                                        AuditEntry.object_id == str(first))).all()
        assert entry.actor == "mz" and entry.before["due"] == due.isoformat()
        assert entry.after["due"] == new_due.isoformat() and entry.after["reason"] == "等待上级文件"
    # the CLI goes through the same door (its refusals in the same words)
    assert cli(["--config", str(settings.path), "extend", str(second), "--to", due.isoformat(),
                "--reason", "x"]) != 0
    assert cli(["--config", str(settings.path), "extend", str(second), "--to", "2025-09-30",
                "--reason", "等待上级文件"]) == 0
    # an item with a pending request is decided on its request, not extended beside it
    _request(engine, third)
    r = mz.post(f"/items/{third}/extend", data={"new_due": "2025-09-30", "reason": "x", "csrf": csrf})
    assert "待审核的豁免或延期申请" in _query(r, "error")
    with Session(engine) as s:
        assert s.get(Occurrence, second).due == D(2025, 9, 30)
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "extend")) == 2


def test_a_coordinator_waives_from_the_item_page(world):
    app, engine, _, _ = world
    [oid] = _open_items(engine, "新华区", "education", 1)
    mz = client(app, "mz")
    csrf = csrf_of(mz, f"/items/{oid}")
    assert _query(mz.post(f"/items/{oid}/waive", data={"reason": " ", "csrf": csrf}), "error") == "豁免必须说明理由"
    assert _query(mz.post(f"/items/{oid}/waive", data={"reason": "本期无此项工作", "csrf": csrf}), "ok")
    page = mz.get(f"/items/{oid}").text
    assert "已豁免" in page and "理由：本期无此项工作" in page and 'id="coordinator"' not in page


# ---------------------------------------------------------------- the item page

def test_the_item_page_shows_clause_contact_and_a_grouped_timeline(world):
    app, engine, _, _ = world
    [oid] = _open_items(engine, "新华区", "education", 1, after=None)
    with Session(engine) as s, s.begin():
        o = s.get(Occurrence, oid)
        contact = s.get(Contact, owing_contact(s, oid))
        contact.person, contact.mobile, contact.title = "李明", "13800001111", "科长"
        for k in range(1, 13):
            s.add(Notice(occurrence_id=oid, stage=f"overdue-{k}", kind="overdue", swept_on=D(2025, 3, k), workdays=k,
                         recipient_kind="contact", recipient_id=contact.id))
        s.add(Notice(occurrence_id=oid, stage="remind-7", kind="remind", swept_on=D(2025, 2, 20), workdays=7,
                     recipient_kind="contact", recipient_id=contact.id))
        clause_text = s.execute(sa.text("SELECT c.text FROM clause c JOIN obligation b ON b.clause_id = c.id "
                                        "WHERE b.id = :o"), {"o": o.obligation_id}).scalar()
    page = client(app, "mz").get(f"/items/{oid}").text
    assert clause_text.strip()[:30] in page
    assert "李明（科长）" in page and 'href="tel:13800001111"' in page
    assert "逾期催办 ×12" in page and "最近一次 2025-03-12，首次 2025-03-01" in page
    assert page.count("逾期催办") == 1 and "到期提醒" in page
    assert not INTERNAL.search(_text(page)), INTERNAL.search(_text(page))


def test_a_refused_completion_keeps_the_note_and_the_date(world):
    app, engine, _, _ = world
    [oid] = _open_items(engine, "新华区", "education", 1)
    jy = client(app, "jy")
    r = jy.post(f"/items/{oid}/complete", data={"count": "1", "note": "已召开专题会议", "done_on": "2025-04-08",
                                              "csrf": csrf_of(jy, f"/items/{oid}")},
                files={"upload": ("会议纪要.pdf", b"not a pdf at all", "application/pdf")})
    assert _query(r, "error")
    page = jy.get(r.headers["location"]).text
    assert ">已召开专题会议</textarea>" in page and 'value="2025-04-08"' in page and "已保留" in page
    with Session(engine) as s:
        assert s.get(Occurrence, oid).done_count == 0


# ---------------------------------------------------------------- requests

def test_requests_are_decided_in_bulk_with_a_confirmation(world):
    app, engine, _, _ = world
    items = _open_items(engine, "新华区", None, 3)
    ids = [_request(engine, i) for i in items]
    with Session(engine) as s:
        coordinator = views.user_by_name(s, "mz")
        from web.deps import principal_of
        p = principal_of(s, coordinator)
        assert views.pending_counts(s, p)["requests"] == 3
        assert views.pending_counts(s, principal_of(s, views.user_by_name(s, "jy"))) == {"requests": 0, "review": 0}
    c = client(app, "mz")
    page = c.get("/requests").text
    assert "待审核共 3 项" in page and "第" in page and "新华区 " in page
    assert not INTERNAL.search(_text(page)), INTERNAL.search(_text(page))
    csrf = csrf_of(c, "/requests")
    # one unknown id refuses the batch: nothing decided
    r = c.post("/requests/decide", data={"id": [str(ids[0]), "999999"], "decision": "approve", "note": "同意",
                                         "csrf": csrf})
    assert "没有编号为 999999 的申请" in _query(r, "error")
    with Session(engine) as s:
        assert {r.status for r in s.scalars(sa.select(ItemRequest))} == {"pending"}
    r = c.post("/requests/decide", data={"id": [str(ids[0]), str(ids[1])], "decision": "approve",
                                         "note": "同意延期，请按新期限办结", "csrf": csrf})
    ok = _query(r, "ok")
    assert ok.startswith("已批准 2 项申请：延期至 2025-07-31·") and "（新华区" in ok
    assert ok in c.get(r.headers["location"]).text
    r = c.post(f"/requests/{ids[2]}/decide", data={"decision": "reject", "note": "理由不充分", "back": f"/items/{items[2]}",
                                                  "csrf": csrf})
    assert r.headers["location"].startswith(f"/items/{items[2]}?ok=") and _query(r, "ok").startswith("已驳回 1 项申请")
    item = c.get(f"/items/{items[0]}").text
    assert "批准延期申请" in item and "审核意见：同意延期，请按新期限办结" in item and "2025-07-31" in item
    assert "驳回延期申请" in c.get(f"/items/{items[2]}").text
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action.in_(("approve", "reject")))) == 3
        assert s.get(Occurrence, items[0]).due == D(2025, 7, 31)
    assert "已批准" in c.get("/requests?show=all").text


# ---------------------------------------------------------------- links and mail

def test_a_link_to_a_finished_item_shows_no_form(world):
    app, engine, settings, _ = world
    [oid] = _open_items(engine, "新华区", "education", 1)
    with Session(engine) as s, s.begin():
        n = Notice(occurrence_id=oid, stage="remind-7", kind="remind", swept_on=TODAY, workdays=7,
                   recipient_kind="contact", recipient_id=owing_contact(s, oid))
        s.add(n)
        s.flush()
        nid = n.id
    _submit(engine, settings, oid)
    token = make_token(load_secret(settings.data_dir), notice_id=nid, occurrence_id=oid, expires=D(2025, 5, 10))
    page = client(app).get(f"/c/{token}")
    assert page.status_code == 200 and 'id="link-form"' not in page.text
    assert "已于 2025-04-10 登记办结，正等待协调员审核，无需再登记" in page.text


def test_a_refused_link_completion_keeps_what_was_typed(world):
    app, engine, settings, _ = world
    [oid] = _open_items(engine, "新华区", "education", 1)
    with Session(engine) as s, s.begin():
        n = Notice(occurrence_id=oid, stage="remind-7", kind="remind", swept_on=TODAY, workdays=7,
                   recipient_kind="contact", recipient_id=owing_contact(s, oid))
        s.add(n)
        s.flush()
        nid = n.id
    token = make_token(load_secret(settings.data_dir), notice_id=nid, occurrence_id=oid, expires=D(2025, 5, 10))
    c = client(app)
    csrf = csrf_of(c, f"/c/{token}")
    r = c.post(f"/c/{token}", data={"count": "1", "name": "王小明", "done_on": "2025-04-09", "note": "已走访",
                                    "csrf": csrf}, files={"upload": ("照片.png", b"GIF89a not png", "image/png")})
    assert r.status_code == 422 and 'id="link-form"' in r.text
    assert 'value="王小明"' in r.text and 'value="2025-04-09"' in r.text and ">已走访</textarea>" in r.text


def test_the_digest_mail_is_one_column_with_sender_and_full_list(world, smtp_sink, monkeypatch):
    from notifications import service as notices

    app, engine, settings, _ = world
    with Session(engine) as s, s.begin():
        unit = s.scalar(sa.select(Jurisdiction).where(Jurisdiction.name == "新华区"))
        unit.supervisor_person, unit.supervisor_mobile = "赵督查", "13900002222"
    monkeypatch.setenv("DUBAN_SMTP_URL", smtp_sink.url)
    notices.run_sweep(engine, settings, TODAY)
    notices.run_deliver(engine, settings, now=dt.datetime.combine(TODAY, dt.time(2, 0), dt.UTC), force=True)
    mails = {m["To"].addresses[0].addr_spec: m for m in smtp_sink.messages}
    edu = next(m for a, m in mails.items() if a.endswith("@410402.example.org") and not a.startswith("ducha"))
    html = edu.get_body(("html",)).get_content()
    text = edu.get_body(("plain",)).get_content()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "max-width: 600px" in html and "<th" not in html
    assert "http://127.0.0.1:8000/inbox" in html and "本单位全部待办事项（需登录）：http://127.0.0.1:8000/inbox" in text
    with Session(engine) as s:
        office = s.scalar(sa.select(Jurisdiction.supervisor_name).where(Jurisdiction.name == "新华区"))
    assert f"发送单位：{office}" in html and "联系人：赵督查，电话：13900002222" in html
    assert f"发送单位：{office}（联系人：赵督查，电话：13900002222" in text
    late = re.search(r"已逾期 (\d+) 个工作日（(\d+) 天）", text)
    assert late and int(late.group(2)) >= int(late.group(1)) > 0


@pytest.mark.parametrize("who", ["mz"])
def test_pending_counts_count_reviews(world, who):
    app, engine, settings, _ = world
    first, second = _open_items(engine, "新华区", None, 2)
    _submit(engine, settings, first)
    _submit(engine, settings, second)
    from web.deps import principal_of
    with Session(engine) as s:
        assert views.pending_counts(s, principal_of(s, views.user_by_name(s, who))) == {"requests": 0, "review": 2}


def test_the_timeline_names_people_not_their_user_names(world):
    """Who completed, who returned and who urged, as people name them (the account's name and
    unit), never the sign-in name."""
    app, engine, _, _ = world
    [oid] = _open_items(engine, "新华区", "education", 1, after=None)
    jy, mz = client(app, "jy"), client(app, "mz")
    r = jy.post(f"/items/{oid}/complete", data={"count": "1", "note": "已走访", "done_on": "2025-04-08",
                                              "csrf": csrf_of(jy, f"/items/{oid}")}, follow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["location"]
    r = mz.post(f"/items/{oid}/return", data={"reason": "佐证材料不全", "csrf": csrf_of(mz, f"/items/{oid}")},
                follow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["location"]
    r = mz.post(f"/items/{oid}/urge", data={"note": "请尽快重新办理", "csrf": csrf_of(mz, f"/items/{oid}")},
                follow_redirects=False)
    assert r.status_code == 303 and "error" not in r.headers["location"], r.headers["location"]
    page = mz.get(f"/items/{oid}").text
    timeline = _text(page.split('id="timeline"', 1)[1].split("</ol>", 1)[0])
    assert "新华区教育局" in timeline and "新华区民政局" in timeline
    assert not re.search(r"\b(?:jy|mz)\b", timeline), timeline
    urged = _text(page.split('id="urged"', 1)[1].split("</p>", 1)[0])
    assert "新华区民政局" in urged and not re.search(r"\bmz\b", urged), urged
