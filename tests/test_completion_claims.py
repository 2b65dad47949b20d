"""Numbers a supervisor can trust, through the real database, pages, API, CLI and mail:

- a completion dated before its item's period began (1900-01-01 on the page, 0001-01-01 through
  the API) is refused, and one dated more than the grace before it was recorded is taken but
  flagged (补登待核) and counted by its recording day, never silently on time; the coordinator
  finds flagged completions on the dashboard, the item page and with ``occurrences list --flagged``;
- waiver and extension requests only while the item is open and not past due; an approved
  extension keeps the original due date beside the new one, on the page, in the API and reports;
- a supervisor's digest carries view links only: the link door refuses a completion from a
  supervisor's notice, and a completion through a link needs a plausible name.

The world is test_web's: 新华区 with its 教育局 account jy, coordinator mz, today 2025-04-10."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient
from sqlmodel import Session

from flows.cli import main as cli
from notifications import service as notices
from notifications.links import load_secret, make_token
from reports.data import build as build_report
from reports.document import build_document
from storage import workflow
from storage.tables import AuditEntry, Completion, Contact, Jurisdiction, Notice, Occurrence
from tests.conftest import csrf_of, owing_contact
from tests.test_web import TODAY, api, client
from tests.test_web import world as web_world

D = dt.date
world = web_world     # test_web's world, as this module's fixture


def _items(engine, unit_name: str, party: str, *, due_before=None, due_after=None) -> list[int]:
    """Open single items of a department at a unit, by due date."""
    with Session(engine) as s:
        unit = s.scalar(sa.select(Jurisdiction.id).where(Jurisdiction.name == unit_name))
        q = sa.select(Occurrence.id).where(Occurrence.jurisdiction_id == unit, Occurrence.party_key == party,
                                           Occurrence.required == 1, Occurrence.done_count == 0)
        if due_before:
            q = q.where(Occurrence.due < due_before)
        if due_after:
            q = q.where(Occurrence.due > due_after)
        return list(s.scalars(q.order_by(Occurrence.due, Occurrence.id)))


def _jy_items(engine, **kw) -> list[int]:
    """Open single items of 新华区 教育局 (the account jy)."""
    return _items(engine, "新华区", "education", **kw)


def _wd_late(engine) -> int:
    """An item of 卫东区 民政局 (the account wd) overdue since March."""
    late = _items(engine, "卫东区", "civil_affairs", due_before=D(2025, 4, 1))
    assert late, "an item of wd overdue since March"
    return late[0]


def _status(app, token, oid) -> dict:
    return api(app, token).get(f"/api/v1/occurrences/{oid}").json()


def _accept(engine, oid: int) -> None:
    """The coordinator's review (办结审核) accepts the item's completion."""
    with Session(engine) as s, s.begin():
        workflow.accept(s, [oid], by=workflow.Actor("民政局", "cli"))


def _error_of(response) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["error"][0]


# ---------------------------------------------------------------- backdating

def test_backdating_an_overdue_item_is_refused_on_the_page_and_through_the_api(world):
    app, engine, _, tokens = world
    oid = _wd_late(engine)
    assert _status(app, tokens["wd"], oid)["status"] == "overdue"
    c = client(app, "wd")
    r = c.post(f"/items/{oid}/complete", data={"count": "1", "done_on": "1900-01-01",
                                              "csrf": csrf_of(c, f"/items/{oid}")})
    start = _status(app, tokens["wd"], oid)["period_start"]
    assert _error_of(r) == f"办理日期 1900-01-01 早于本期开始日期 {start}，不能登记（请填写实际办理日期；本期以前的工作不计入本期）"
    r = api(app, tokens["wd"]).post(f"/api/v1/occurrences/{oid}/completions", json={"count": 1, "done_on": "0001-01-01"})
    assert r.status_code == 422 and r.json()["detail"].startswith(f"办理日期 0001-01-01 早于本期开始日期 {start}")
    assert _status(app, tokens["wd"], oid)["status"] == "overdue"
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Completion).where(Completion.occurrence_id == oid)) == 0


def test_a_late_entry_is_flagged_and_counted_by_its_recording_day(world, capsys):
    """Overdue since March, completed on 10 April claiming a day in March (inside the period,
    before the due date): taken, flagged, and 逾期办结 — not 按期办结."""
    app, engine, _, tokens = world
    oid = _wd_late(engine)
    item = _status(app, tokens["wd"], oid)
    claimed = max(D.fromisoformat(item["period_start"]), D(2025, 3, 3)).isoformat()
    assert claimed < item["due"]
    r = api(app, tokens["wd"]).post(f"/api/v1/occurrences/{oid}/completions", json={"count": 1, "done_on": claimed})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["done_on"], body["judged_on"], body["flagged"]) == (claimed, "2025-04-10", True)
    assert body["occurrence"]["status"] == "submitted" and body["occurrence"]["completed_on"] == "2025-04-10"
    _accept(engine, oid)
    assert _status(app, tokens["wd"], oid)["status"] == "done_late"
    with Session(engine) as s:
        c = s.scalar(sa.select(Completion).where(Completion.occurrence_id == oid))
        assert (c.done_on.isoformat(), c.judged_on, c.flagged) == (claimed, TODAY, True)
        audit = s.scalar(sa.select(AuditEntry).where(AuditEntry.object_id == str(oid), AuditEntry.action == "complete"))
        assert audit.after["flagged"] is True and audit.after["judged_on"] == "2025-04-10"
    # the coordinator sees it: on the item page, on the dashboard, and from the command line
    mz = client(app, "dc")        # 平顶山市 督查室: 卫东区 is in its area
    page = mz.get(f"/items/{oid}").text
    assert "补登待核" in page and "按登记日期 2025-04-10 判定" in page and claimed in page
    board = mz.get("/dashboard", params={"period": "2025"}).text
    flagged_card = board.split('id="flagged"', 1)[1].split('<div class="card"', 1)[0]   # up to the next card
    assert f'href="/items/{oid}?back=' in flagged_card and claimed in flagged_card
    assert cli(["occurrences", "list", "--flagged", "--today", "2025-04-10", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [oid] and listed[0]["status"] == "done_late"


def test_within_the_grace_the_claimed_day_counts(world):
    app, engine, _, tokens = world
    oid = _jy_items(engine, due_after=D(2025, 4, 10))[0]
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{oid}/completions", json={"count": 1, "done_on": "2025-04-07"})
    assert r.status_code == 201 and r.json()["flagged"] is False
    assert r.json()["occurrence"]["status"] == "submitted" and r.json()["occurrence"]["completed_on"] == "2025-04-07"
    _accept(engine, oid)
    assert _status(app, tokens["jy"], oid)["status"] == "done"
    assert f'href="/items/{oid}?back=' not in client(app, "mz").get("/dashboard", params={"period": "2025"}).text.split(
        'id="flagged"', 1)[1]


def test_the_grace_comes_from_the_configuration(world, project, capsys):
    app, engine, settings, _ = world
    oid = _jy_items(engine, due_after=D(2025, 4, 10))[0]
    config = project / "config.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("schedule", {}).update(as_of="2025-04-10", completion_grace_days=10)
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert cli(["complete", str(oid), "--by", "教育局", "--on", "2025-04-01", "--format", "json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["completions"][0]["flagged"] is False and detail["completed_on"] == "2025-04-01"
    assert detail["status"] == "submitted"
    doc["schedule"]["completion_grace_days"] = -1
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert cli(["overdue"]) == 1
    assert "schedule.completion_grace_days" in capsys.readouterr().err


def test_the_cli_says_when_a_completion_is_flagged(world, project, capsys):
    app, engine, settings, _ = world
    oid = _jy_items(engine, due_after=D(2025, 4, 10))[0]
    config = project / "config.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("schedule", {})["as_of"] = "2025-04-10"
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert cli(["complete", str(oid), "--by", "教育局", "--on", "2025-04-01"]) == 0
    out = capsys.readouterr().out
    assert "补登待核" in out and "按登记日期 2025-04-10 判定" in out
    assert cli(["occurrences", "show", str(oid)]) == 0
    assert "补登待核：按登记日期 2025-04-10 判定" in capsys.readouterr().out


# ---------------------------------------------------------------- requests

def _ask(c, oid, **data):
    return c.post(f"/items/{oid}/request", data={"csrf": csrf_of(c, f"/items/{oid}"), **data})


def test_no_request_on_an_overdue_or_finished_item(world):
    """The finding: an extension asked for an item already late, once approved, moved its due
    date and the item counted as on time. Now neither an overdue nor a finished item takes a
    request, and the page offers none."""
    app, engine, _, tokens = world
    late = _wd_late(engine)
    jy = client(app, "wd")
    assert 'id="request-form"' not in jy.get(f"/items/{late}").text
    r = _ask(jy, late, kind="extension", reason="材料未齐", new_due="2025-06-30")
    assert _error_of(r) == f"督办事项 {late} 已于 {_status(app, tokens['wd'], late)['due']} 到期，逾期后不能再申请豁免或延期；请尽快办理并登记"
    r = _ask(jy, late, kind="waiver", reason="本期无此项工作")
    assert "逾期后不能再申请" in _error_of(r)
    api(app, tokens["wd"]).post(f"/api/v1/occurrences/{late}/completions", json={"count": 1})
    assert _status(app, tokens["wd"], late)["status"] == "submitted"
    assert _error_of(_ask(jy, late, kind="waiver", reason="补")) == f"督办事项 {late} 已办结或已豁免，不能再申请豁免或延期"
    _accept(engine, late)
    assert _status(app, tokens["wd"], late)["status"] == "done_late"
    assert _error_of(_ask(jy, late, kind="extension", reason="补", new_due="2025-06-30")) == \
        f"督办事项 {late} 已办结或已豁免，不能再申请豁免或延期"
    assert _status(app, tokens["wd"], late)["status"] == "done_late"
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "request")) == 0


def test_an_approved_extension_keeps_the_original_due_date(world):
    app, engine, settings, tokens = world
    oid = _jy_items(engine, due_after=D(2025, 4, 10))[0]
    old_due = _status(app, tokens["jy"], oid)["due"]
    new_due = (D.fromisoformat(old_due) + dt.timedelta(days=30)).isoformat()
    jy, mz = client(app, "jy"), client(app, "mz")
    r = _ask(jy, oid, kind="extension", reason="等待上级文件", new_due=new_due)
    assert "ok=" in r.headers["location"]
    rid = re.search(r"/requests/(\d+)/decide", mz.get("/requests").text)[1]
    mz.post(f"/requests/{rid}/decide", data={"decision": "approve", "note": "同意", "csrf": csrf_of(mz, "/requests")})
    item = _status(app, tokens["jy"], oid)
    assert (item["due"], item["original_due"]) == (new_due, old_due)
    assert f"原截止日期 {old_due}，已延期" in jy.get(f"/items/{oid}").text
    # a second extension keeps the first due date, not the moved one
    later = (D.fromisoformat(new_due) + dt.timedelta(days=10)).isoformat()
    _ask(jy, oid, kind="extension", reason="再次延期", new_due=later)
    rid = re.search(r"/requests/(\d+)/decide", mz.get("/requests").text)[1]
    mz.post(f"/requests/{rid}/decide", data={"decision": "approve", "csrf": csrf_of(mz, "/requests")})
    assert (_status(app, tokens["jy"], oid)["due"], _status(app, tokens["jy"], oid)["original_due"]) == (later, old_due)
    # where reports show due dates (the overdue list), the original stands beside the new one
    with Session(engine) as s:
        data = build_report(s, start=D(2025, 1, 1), end=D(2025, 12, 31), today=D(2025, 9, 1), jurisdiction="新华区")
    row = next(r for r in data.overdue_items if r["id"] == oid)
    assert row["original_due"] == old_due
    doc = build_document(data, issuer="督查室", issued_on=D(2025, 9, 1))
    table = next(t for t in doc.tables() if t.key == "overdue")
    assert any(r["due"] == dt.date.fromisoformat(later) and f"已延期，原应办日期 {old_due}" in r["period"]
               for r in table.rows)


def test_the_method_note_states_the_rules(world):
    _, engine, *_ = world
    with Session(engine) as s:
        data = build_report(s, start=D(2025, 1, 1), end=D(2025, 3, 31), today=TODAY, jurisdiction="新华区")
    doc = build_document(data, issuer="督查室", issued_on=TODAY, grace_days=4)
    note = next(t for t in doc.tables() if t.key == "summary").note
    assert "按期与否的判定规则" in note and "早于登记日期 4 个工作日以上" in note and "按登记日期" in note
    assert doc.method_text.startswith("按期判定规则：（1）") and "早于登记日期 4 个工作日以上" in doc.method_text
    # the HTML (and so the PDF) method note and the Word document carry it
    from reports.docx import context
    from reports.html import render_html

    html = render_html(doc, font="WenQuanYi Zen Hei")
    assert "早于登记日期 4 个工作日以上" in html.split('class="meta"', 1)[1]
    assert context(doc)["method"] == doc.method_text


# ---------------------------------------------------------------- links

def _supervisor_mail(settings, engine, day: D):
    notices.run_sweep(engine, settings, day)
    notices.run_deliver(engine, settings, now=dt.datetime.combine(day, dt.time(2, 0), dt.UTC), force=True)
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in sorted((settings.data_dir / "outbox").glob("*.eml"))]
    return mails


def test_a_supervisors_digest_has_view_links_only_and_they_cannot_complete(world):
    """The finding: the escalation digest listed other departments' items with working
    completion links, and anyone holding the mail completed them as "通知链接：任何人"."""
    app, engine, settings, _ = world
    mails = _supervisor_mail(settings, engine, D(2025, 4, 10))
    supervisor = [m for m in mails if m["To"].addresses[0].addr_spec == "ducha@410402.example.org"]
    assert supervisor, [m["To"] for m in mails]
    text = supervisor[0].get_body(("plain",)).get_content()
    html = supervisor[0].get_body(("html",)).get_content()
    assert "/c/" not in text and "/c/" not in html and "登记办理情况" not in html
    views = re.findall(r"http://127\.0\.0\.1:8000(/v/[\w.-]+)", text)
    assert views and "只能查看办理进展" in text
    owner_mail = next(m for m in mails if m["To"].addresses[0].addr_spec.startswith("civil_affairs@410402"))
    assert re.search(r"/c/[\w.-]+", owner_mail.get_body(("plain",)).get_content())
    anyone = TestClient(app)
    page = anyone.get(views[0])
    assert page.status_code == 200 and 'id="link-form"' not in page.text and "只能查看" in page.text
    # the same signed token on the completion door: shown read-only, and a forged POST refused
    as_complete = views[0].replace("/v/", "/c/")
    page = anyone.get(as_complete)
    assert page.status_code == 200 and 'id="link-form"' not in page.text and workflow.VIEW_ONLY in page.text
    r = anyone.post(as_complete, data={"count": "1", "name": "王小明", "csrf": csrf_of(anyone, "/login")})
    assert r.status_code == 403 and workflow.VIEW_ONLY in r.text
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Completion)) == 0


def test_a_link_from_someone_elses_notice_cannot_complete(world):
    """A contact notice whose recipient is not the owing department's contact (a hand-made or
    stale row) gives a view-only link too."""
    app, engine, settings, _ = world
    oid = _jy_items(engine, due_after=D(2025, 4, 10))[0]
    with Session(engine) as s, s.begin():
        owner = owing_contact(s, oid)
        wrong = s.scalar(sa.select(sa.func.min(Contact.id)).where(Contact.id != owner))
        n = Notice(occurrence_id=oid, stage="remind-7", kind="remind", swept_on=D(2025, 4, 1), workdays=7,
                   recipient_kind="contact", recipient_id=wrong)
        s.add(n)
        s.flush()
        nid = n.id
    with Session(engine) as s:
        assert workflow.link_state(s, nid, oid) == "view"


@pytest.mark.parametrize("name, message", [
    ("", "请填写登记人姓名"),
    ("   ", "请填写登记人姓名"),
    ("王", "登记人姓名应为 2 到 40 个字的姓名"),
    ("王老师\nBcc: a@b.example", "不能有逗号、分号、尖括号、引号、@ 或换行"),
    ("wang@example.org", "不能有逗号、分号、尖括号、引号、@ 或换行"),
    ("张三，李四", "不能有逗号、分号、尖括号、引号、@ 或换行"),
    ("http://evil.example/x", "登记人姓名应为 2 到 40 个字的姓名"),
    ("王" * 41, "登记人姓名过长（41 个字，最多 40 个）"),
])
def test_a_link_completion_needs_a_plausible_name(world, name, message):
    app, engine, settings, _ = world
    oid = _jy_items(engine, due_after=D(2025, 4, 10))[0]
    with Session(engine) as s, s.begin():
        n = Notice(occurrence_id=oid, stage="remind-7", kind="remind", swept_on=D(2025, 4, 1), workdays=7,
                   recipient_kind="contact", recipient_id=owing_contact(s, oid))
        s.add(n)
        s.flush()
        nid = n.id
        token = make_token(load_secret(settings.data_dir), notice_id=nid, occurrence_id=oid, expires=D(2025, 5, 1))
    c = TestClient(app)
    page = c.get(f"/c/{token}")
    assert 'id="link-form"' in page.text and 'name="name"' in page.text and "required" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    r = c.post(f"/c/{token}", data={"count": "1", "name": name, "csrf": csrf})
    assert r.status_code == 422 and message in unquote(r.text), r.text
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Completion).where(Completion.occurrence_id == oid)) == 0
        assert s.get(Notice, nid).link_used_at is None
    ok = c.post(f"/c/{token}", data={"count": "1", "name": " 王小明 ", "done_on": "2025-04-09", "csrf": csrf},
                files={"upload": ("记录.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n%%EOF\n", "application/pdf")})
    assert ok.status_code == 200 and "已登记" in ok.text
    with Session(engine) as s:
        c_row = s.scalar(sa.select(Completion).where(Completion.occurrence_id == oid))
        assert c_row.actor == "通知链接：王小明" and c_row.done_on == D(2025, 4, 9) and c_row.evidence_path
