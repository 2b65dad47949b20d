"""Progress feedback (进度反馈): the pure rules (obligations.feedback), the one door
(storage.workflow.report_progress) through the page, the CLI and the API, the feedback-day
reminder through the real sweep, delivery and an SMTP server, the listings and the report.

Frozen time: test_web's world (2025-04-10: 新华区 with its 教育局 account jy, coordinator mz, 卫东区
民政局 wd, supervisor dc of 平顶山市). Two assignments (交办) with a far deadline are made for 新华区
教育局 on 2025-02-20: long items that ask for progress on feedback days (the 25th of the month)."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
import yaml
from sqlmodel import Session

from flows.cli import main as cli
from notifications import service as notices
from notifications.sweep import sweep
from obligations import feedback
from obligations.catalog import CatalogError, parse_catalog
from obligations.feedback import FeedbackPolicy, ProgressRefused, check_feedback_value, check_report
from obligations.notify import NotifyPolicy
from obligations.workcal import WorkCalendar
from reports.data import build as build_report
from reports.document import build_document
from storage import tasks, workflow
from storage.tables import AuditEntry, Contact, Jurisdiction, Notice, Obligation, Occurrence, ProgressReport
from tests.conftest import csrf_of
from tests.test_web import TODAY, api, client
from tests.test_web import world as web_world

D = dt.date
world = web_world
ASSIGNED = D(2025, 2, 20)
FEEDBACK_DAY = D(2025, 4, 25)      # a Friday, a working day


# ---------------------------------------------------------------- the pure rules

def test_feedback_days_month_and_quarter():
    p = FeedbackPolicy()
    assert p.last_day(D(2025, 4, 25)) == D(2025, 4, 25)
    assert p.last_day(D(2025, 4, 24)) == D(2025, 3, 25)
    assert p.last_day(D(2025, 1, 3)) == D(2024, 12, 25)
    assert p.previous(D(2025, 1, 25)) == D(2024, 12, 25)
    assert p.window(D(2025, 4, 28)) == (D(2025, 4, 25), D(2025, 3, 25))
    assert p.window(D(2025, 5, 6)) is None        # 11 days after: too late to remind of it
    q = FeedbackPolicy(every="quarter", day=20)
    assert q.last_day(D(2025, 8, 1)) == D(2025, 6, 20)
    assert q.previous(D(2025, 3, 20)) == D(2024, 12, 20)
    assert FeedbackPolicy(enabled=False).window(D(2025, 4, 25)) is None


def test_which_items_ask_for_feedback():
    p = FeedbackPolicy()
    year = dict(period_start=D(2025, 1, 1), due=D(2025, 12, 31))
    assert not p.asks(**year, day=D(2025, 1, 25))        # no whole interval yet
    assert p.asks(**year, day=D(2025, 2, 25))
    assert not p.asks(**year, day=D(2025, 12, 25))       # the due-date reminders' days
    assert not p.asks(period_start=D(2025, 1, 1), due=D(2025, 3, 31), day=D(2025, 2, 25))   # a quarter: short
    assert p.asks(period_start=D(2025, 2, 20), due=D(2025, 12, 31), day=FEEDBACK_DAY)
    assert feedback.stage(FEEDBACK_DAY) == "feedback-250425" and len(feedback.stage(FEEDBACK_DAY)) <= 16


def test_catalog_overrides_and_their_checks():
    d = FeedbackPolicy()
    assert feedback.feedback_policy(d, {"feedback": "none"}, None).enabled is False
    assert feedback.feedback_policy(d, {"feedback": "none"}, {"feedback": {"day": 10}}) == FeedbackPolicy(day=10)
    assert feedback.feedback_policy(d, None, {"feedback": {"every": "quarter"}}).every == "quarter"
    assert check_feedback_value("none") is None and check_feedback_value({"day": 5}) is None
    assert "1 到 28" in check_feedback_value({"day": 31})
    assert "month" in check_feedback_value({"every": "week"})
    assert "不认识的键" in check_feedback_value({"days": 3})
    assert "none" in check_feedback_value("monthly")


def _check(**kw):
    args = dict(percent=40, done="已完成摸排", difficulties=None, next_steps=None, on=D(2025, 4, 10), today=D(2025, 4, 10),
                period_start=D(2025, 1, 1), last=None, returned_since_last=False, reports=0)
    return check_report(**{**args, **kw})


def test_progress_report_rules():
    ok = _check(done="  已完成摸排  ", difficulties="")
    assert (ok.percent, ok.done, ok.difficulties) == (40, "已完成摸排", None)
    for bad, words in [(dict(percent=500), "0 到 100"), (dict(percent=-1), "0 到 100"), (dict(percent=True), "0 到 100"),
                       (dict(percent="50"), "0 到 100"), (dict(done=" "), "请填写已完成的工作"),
                       (dict(done="字" * 2001), "不能超过 2000"), (dict(next_steps="a\x00"), "无法保存"),
                       (dict(on=D(2025, 4, 11)), "不能晚于今天"), (dict(on=D(2024, 12, 31)), "早于本期开始"),
                       (dict(last=(D(2025, 4, 1), 60)), "进度不能倒退"),
                       (dict(last=(D(2025, 4, 11), 10)), "早于上次进度反馈"), (dict(reports=500), "上限")]:
        with pytest.raises(ProgressRefused, match=words):
            _check(**bad)
    assert _check(last=(D(2025, 4, 1), 60), returned_since_last=True).percent == 40   # after a return
    assert _check(percent=60, last=(D(2025, 4, 10), 60)).percent == 60              # same day, same percent


# ---------------------------------------------------------------- the world

def _assign(engine, settings, title: str) -> int:
    with Session(engine) as s, s.begin():
        done = tasks.assign(s, workflow.Actor("operator", "cli"), title=title, departments="education",
                            jurisdiction="新华区", due=D(2025, 12, 31), today=ASSIGNED, calendar=settings.calendar())
    with Session(engine) as s:
        return s.scalar(sa.select(Occurrence.id).where(Occurrence.plan_id == done.plan_id))


@pytest.fixture
def long_items(world):
    app, engine, settings, tokens = world
    return world, _assign(engine, settings, "校园安全专项整治"), _assign(engine, settings, "控辍保学专项行动")


def _query(response, key: str) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)[key][0]


def _feedback_notices(engine, oid: int) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(sa.select(Notice.stage).where(Notice.occurrence_id == oid, Notice.kind == "feedback")))


def test_department_reports_coordinator_sees_missing_one_is_reminded(long_items, smtp_sink, monkeypatch):
    (app, engine, settings, tokens), reported, silent = long_items
    monkeypatch.setenv("DUBAN_SMTP_URL", smtp_sink.url)
    # the department reports progress on the item's page
    jy = client(app, "jy")
    page = jy.get(f"/items/{reported}").text
    assert 'id="progress-form"' in page and "尚无进度反馈" in page
    r = jy.post(f"/items/{reported}/progress", data={
        "percent": "60", "done": "已完成全区 12 所学校排查", "difficulties": "部分民办学校配合不足",
        "next_steps": "5月底前完成整改", "on": TODAY.isoformat(), "csrf": csrf_of(jy, f"/items/{reported}")})
    assert _query(r, "ok") == "已报送进度反馈"
    # the coordinator sees it: on the item, in the API listing, in the report
    mz = client(app, "mz")
    page = mz.get(f"/items/{reported}").text
    assert "最新进度：<strong>60%</strong>（2025-04-10 反馈）" in page and "部分民办学校配合不足" in page
    listed = {i["id"]: i for i in api(app, tokens["mz"]).get("/api/v1/occurrences", params={"status": "open"}).json()}
    assert listed[reported]["progress"] == {"percent": 60, "on": "2025-04-10"} and listed[silent]["progress"] is None
    with Session(engine) as s:
        data = build_report(s, start=D(2025, 1, 1), end=D(2025, 12, 31), today=TODAY, jurisdiction="新华区")
    long_open = data.progress["long_open"]      # the two assignments and the plan's long items there
    assert (data.progress["reports"], data.progress["with_progress"]) == (1, 1) and 2 <= long_open <= 20
    assert data.progress["average_percent"] == 60.0
    listed = [(i["id"], i["percent"]) for i in data.progress["items"]]
    assert len(listed) == long_open and listed[-1] == (reported, 60) and (silent, None) in listed
    doc = build_document(data, issuer="新华区民政局", issued_on=TODAY)
    [section] = [s for s in doc.sections if s.title == "长期事项进度反馈"]
    assert "报送进度反馈 1 条" in section.paragraphs[0] and "平均最新进度 60.0%" in section.paragraphs[0]
    assert [section.tables[0].text(row, col) for row in section.tables[0].rows for col in section.tables[0].columns
            if col.key == "percent"] == ["未反馈"] * (long_open - 1) + ["60%"]
    # on the feedback day the sweep reminds only the item with no report since the last feedback day
    notices.run_sweep(engine, settings, FEEDBACK_DAY)
    assert _feedback_notices(engine, silent) == ["feedback-250425"] and _feedback_notices(engine, reported) == []
    notices.run_sweep(engine, settings, D(2025, 4, 28))         # a later sweep adds nothing
    assert _feedback_notices(engine, silent) == ["feedback-250425"]
    notices.run_deliver(engine, settings, now=dt.datetime.combine(FEEDBACK_DAY, dt.time(2, 0), dt.UTC), force=True)
    with Session(engine) as s:
        contact = s.scalar(sa.select(Notice.recipient_id).where(Notice.occurrence_id == silent, Notice.kind == "feedback"))
        address = s.get(Contact, contact).email
    mails = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == address]
    assert len(mails) == 1, [m["To"] for m in smtp_sink.messages]
    text, html = mails[0].get_body(("plain",)).get_content(), mails[0].get_body(("html",)).get_content()
    for body in (text, html):
        assert "进度反馈提醒" in body and "控辍保学专项行动" in body and "4月25日为进度反馈日" in body
        assert f"/items/{silent}" in body and f"/items/{reported}" not in body
    # the page lists the notice by its Chinese name
    assert "进度反馈提醒" in client(app, "jy").get(f"/items/{silent}").text
    with Session(engine) as s:
        [entry] = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "progress")).all()
    assert (entry.actor, entry.object_id, entry.after["percent"], entry.after["channel"]) == ("jy", str(reported), 60, "web")


def test_the_page_offers_the_form_only_where_progress_is_asked_for(long_items):
    (app, engine, settings, tokens), long_one, second = long_items
    jy = client(app, "jy")
    # a long item asks: the form, and when it is asked for
    page = jy.get(f"/items/{long_one}").text
    assert 'id="progress-form"' in page and "尚无进度反馈。本事项期限较长，请于每月25日报送工作进展。" in page
    # a short item (a quarter's, a month's: the coordinator's area has them) does not: no form, no card
    mz = client(app, "mz")
    with Session(engine) as s:
        rows = s.execute(sa.select(Occurrence.id, Occurrence.period_start, Occurrence.due)
                         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
                         .where(Jurisdiction.name == "新华区", Occurrence.required == 1, Occurrence.done_count == 0,
                                Occurrence.period_start <= TODAY, Occurrence.due > TODAY)
                         .order_by(Occurrence.due, Occurrence.id)).all()
    short = next(i for i, start, due in rows if (due - start).days < 100)
    page = mz.get(f"/items/{short}").text
    assert 'id="complete-form"' in page          # an open item the coordinator may act on
    assert 'id="progress-feedback"' not in page and 'id="progress-form"' not in page and "进度反馈" not in page
    # the door still takes a report on it (the API, as the CLI does); then the page shows it with the form
    r = api(app, tokens["mz"]).post(f"/api/v1/occurrences/{short}/progress", json={"percent": 30, "done": "已部署"})
    assert r.status_code == 201, r.text
    page = mz.get(f"/items/{short}").text
    assert "最新进度：<strong>30%</strong>" in page and 'id="progress-form"' in page
    # a long item whose catalog entry turns feedback off is not asked either
    with Session(engine) as s, s.begin():
        ob = s.get(Obligation, s.get(Occurrence, second).obligation_id)
        ob.doc = {**ob.doc, "feedback": "none"}
    assert 'id="progress-feedback"' not in jy.get(f"/items/{second}").text
    assert 'id="progress-form"' in jy.get(f"/items/{long_one}").text


def test_the_cli_and_the_api_call_the_one_door(long_items, project, capsys):
    (app, engine, settings, tokens), first, second = long_items
    config = project / "config.yaml"
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc.setdefault("schedule", {})["as_of"] = TODAY.isoformat()
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert cli(["progress", "add", str(first), "--percent", "30", "--done", "完成方案制定", "--on", "2025-04-01",
                "--next", "组织排查"]) == 0
    assert "完成 30%，反馈日期 2025-04-01" in capsys.readouterr().out
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{first}/progress",
                                    json={"percent": 50, "done": "完成一半学校排查", "difficulties": "人手不足"})
    assert r.status_code == 201, r.text
    assert (r.json()["percent"], r.json()["reported_on"], r.json()["by"]) == (50, TODAY.isoformat(), "jy")
    got = api(app, tokens["mz"]).get(f"/api/v1/occurrences/{first}/progress").json()
    assert [(x["percent"], x["channel"]) for x in got] == [(50, "api"), (30, "cli")]
    assert cli(["progress", "list", str(first), "--format", "json"]) == 0
    assert [x["percent"] for x in json.loads(capsys.readouterr().out)] == [50, 30]
    assert cli(["progress", "list", str(first)]) == 0
    out = capsys.readouterr().out
    assert f"事项 {first} 的进度反馈（共 2 条）" in out and "人手不足" in out
    # a lower percent is refused, with the same words at the CLI and the API
    assert cli(["progress", "add", str(first), "--percent", "20", "--done", "x"]) == 1
    said = capsys.readouterr().err
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{first}/progress", json={"percent": 20, "done": "x"})
    assert r.status_code == 422 and r.json()["detail"] in said and "进度不能倒退" in said
    # the listing's 最新进度 column, as a table and as JSON
    assert cli(["occurrences", "list", "--plan", _plan_of(engine, first), "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["progress"] == {"percent": 50, "on": TODAY.isoformat()}
    assert cli(["occurrences", "list", "--plan", _plan_of(engine, first)]) == 0
    out = capsys.readouterr().out
    assert "最新进度" in out and "50%" in out
    # a supervisor reads but cannot report
    r = api(app, tokens["dc"]).post(f"/api/v1/occurrences/{second}/progress", json={"percent": 10, "done": "x"})
    assert r.status_code == 403
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 2


def _plan_of(engine, oid: int) -> str:
    with Session(engine) as s:
        return s.get(Occurrence, oid).plan_id


def test_abuse_is_refused_and_nothing_written(long_items):
    (app, engine, settings, tokens), first, _ = long_items
    # another unit's department: the item does not exist for it
    r = api(app, tokens["wd"]).post(f"/api/v1/occurrences/{first}/progress", json={"percent": 10, "done": "x"})
    assert r.status_code == 404
    assert api(app, tokens["wd"]).get(f"/api/v1/occurrences/{first}/progress").status_code == 404
    wd = client(app, "wd")
    token = csrf_of(wd, "/inbox")
    r = wd.post(f"/items/{first}/progress", data={"percent": "10", "done": "x", "csrf": token})
    assert r.status_code == 404
    # percent 500, a date in the future, a huge text, a non-number
    jy = api(app, tokens["jy"])
    for body, words in [({"percent": 500, "done": "x"}, "0 到 100"),
                        ({"percent": 10, "done": "x", "on": "2025-04-11"}, "不能晚于今天"),
                        ({"percent": 10, "done": "字" * 3000}, "2000")]:
        r = jy.post(f"/api/v1/occurrences/{first}/progress", json=body)
        assert r.status_code == 422 and words in json.dumps(r.json(), ensure_ascii=False), r.text
    r = jy.post(f"/api/v1/occurrences/{first}/progress", json={"percent": 10, "done": "字" * 5000})
    assert r.status_code == 422
    page = client(app, "jy")
    r = page.post(f"/items/{first}/progress", data={"percent": "500", "done": "x", "csrf": csrf_of(page, f"/items/{first}")})
    assert "0 到 100" in _query(r, "error")
    r = page.post(f"/items/{first}/progress", data={"percent": "六十", "done": "x", "csrf": csrf_of(page, f"/items/{first}")})
    assert "0 到 100" in _query(r, "error")
    r = page.post(f"/items/{first}/progress", data={"percent": "10", "done": "x"})     # no CSRF token
    assert r.status_code in (400, 403)
    # a finished item takes no progress report
    with Session(engine) as s, s.begin():
        workflow.complete(s, first, by=workflow.Actor("教育局", "cli"), count=1, done_on=TODAY,
                          setting=workflow.Setting(settings.calendar(), settings.data_dir, TODAY))
    r = jy.post(f"/api/v1/occurrences/{first}/progress", json={"percent": 100, "done": "已全部完成"})
    assert r.status_code == 409 and "不再报送进度" in r.json()["detail"]
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ProgressReport)) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "progress")) == 0


def test_the_sweep_matches_the_rule_and_catalog_none_turns_it_off(long_items):
    (app, engine, settings, tokens), first, second = long_items
    # the reference: every open item with a contact that the pure rule says owes feedback
    policy = FeedbackPolicy()
    with Session(engine) as s:
        rows = s.execute(sa.select(Occurrence.id, Occurrence.period_start, Occurrence.due)
                         .join(Contact, sa.and_(Contact.jurisdiction_id == Occurrence.jurisdiction_id,
                                                Contact.department_key == Occurrence.party_key))
                         .where(Occurrence.waived_at.is_(None), Occurrence.done_count < Occurrence.required)).all()
    expected = {i for i, start, due in rows if policy.asks(period_start=start, due=due, day=FEEDBACK_DAY)}
    assert {first, second} <= expected
    # one obligation turned off in its catalog entry (as a loaded catalog's doc holds it)
    with Session(engine) as s, s.begin():
        from storage.tables import Obligation
        ob = s.get(Obligation, s.get(Occurrence, second).obligation_id)
        ob.doc = {**ob.doc, "feedback": "none"}
    report = sweep(engine, WorkCalendar(), NotifyPolicy(), FEEDBACK_DAY, send_time=dt.time(9), timezone="Asia/Shanghai")
    with Session(engine) as s:
        got = set(s.scalars(sa.select(Notice.occurrence_id).where(Notice.kind == "feedback")))
    assert got == expected - {second} and report.notices["feedback"] == len(got)
    # quarter days instead: 2025-04-25 is no feedback day, nothing more
    again = sweep(engine, WorkCalendar(), NotifyPolicy(), FEEDBACK_DAY, send_time=dt.time(9), timezone="Asia/Shanghai",
                  feedback=FeedbackPolicy(every="quarter"))
    assert "feedback" not in again.notices


def test_a_bad_feedback_value_in_a_catalog_is_refused_with_its_line(directory):
    text = (
        "plan: {id: t, title: 测试, issuer: 测试, locality: 测试, level: county, feedback: {day: 40}}\n"
        "clauses:\n"
        "  - id: '1'\n    kind: task\n    section: 一\n    title: 测试\n    text: 测试\n    lines: [1, 1]\n"
        "    departments: [{name: 民政局, key: civil_affairs, role: lead}]\n"
        "    obligations:\n"
        "      - id: '1.1'\n        what: 测试\n        who: [civil_affairs]\n        scope: issuer\n"
        "        feedback: weekly\n"
        "        cadence: {kind: annual, origin: stated, text: 每年}\n")
    with pytest.raises(CatalogError) as err:
        parse_catalog(text, "catalog.yaml", directory)
    said = str(err.value)
    assert "catalog.yaml:1" in said and "feedback.day 应为 1 到 28" in said
    assert "catalog.yaml:15" in said and "feedback 应为 none" in said


@pytest.mark.slow
def test_the_demo_reports_progress_on_feedback_days_and_reminds_the_rest(project, tmp_path):
    """The simulated year on its March feedback day (the 25th, a Tuesday): most long items get a
    progress report through the door (channel demo, audited), the others the sweep's reminder."""
    from flows.simulation import demo_settings, prepare, simulate_day, summary
    from storage.db import make_engine
    from storage.files import load_settings

    settings = demo_settings(load_settings(), tmp_path / "demo")
    settings.data_dir.mkdir(parents=True)
    world = prepare(settings, 7, cases=5)
    for day in (D(2025, 3, 24), D(2025, 3, 25), D(2025, 3, 26)):
        simulate_day(world, day)
    out = summary(settings)
    assert out["progress_reports"] > 0 and out["notices"]["feedback"] > 0
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as s:
            reported = set(s.scalars(sa.select(ProgressReport.occurrence_id)))
            reminded = set(s.scalars(sa.select(Notice.occurrence_id).where(Notice.kind == "feedback")))
            audited = s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "progress", AuditEntry.actor == "演示部门"))
            days = set(s.scalars(sa.select(ProgressReport.reported_on)))
    finally:
        engine.dispose()
    assert not reported & reminded and audited == len(reported) == out["progress_reports"] and days == {D(2025, 3, 25)}
