"""Co-departments (协办确认): ``co_departments: confirm`` on Pingdingshan's obligation 1.1 (民政
leads; 教育, 公安, 卫健 … confirm their part), in test_web's world (新华区: 教育局 jy, coordinator
mz), with the clock frozen in December 2025, near the second half-year's due date:

- materialize: one lead item per county for the periods not begun, one pending confirmation per
  co-department with a contact there; the half-year already begun keeps its one item per
  department (recorded work is kept); switching back to ``separate`` keeps given confirmations,
  drops pending ones and gives each department its own item again;
- the round trip: the co-department sees the lead's item, is reminded over SMTP (协办确认提醒)
  while its confirmation is pending, confirms on the page (once: a second time is refused);
  the lead submits; the coordinator's acceptance is refused while confirmations are missing,
  and accepted anyway only with a note; the report counts the item whose confirmations were
  missing at its due date;
- abuse: a department that is not a co-department (404), another unit's department (404), the
  lead and the coordinator (403), the CLI without or with a wrong department.
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from flows.cli import main as cli
from notifications import service as notices
from obligations.catalog import CatalogError, co_departments, content_hash, parse_catalog
from reports.data import build as build_report
from storage import accounts, views, workflow
from storage.schedule import materialize
from storage.tables import AuditEntry, CoConfirmation, Contact, Jurisdiction, Notice, Obligation, Occurrence
from tests.conftest import PASSWORD, csrf_of, sign_in
from tests.test_web import api
from tests.test_web import world as web_world
from web.app import create_app

D = dt.date
world = web_world
DAY = D(2025, 12, 23)          # the frozen day: within 7 working days of 2025H2's due date
CO = ["education", "public_security", "health", "medical_insurance", "disease_control", "womens_federation",
      "disabled_persons_federation"]


def _switch(project, mode: str) -> None:
    catalog = project / "plans" / "pingdingshan-2025" / "catalog.yaml"
    text = catalog.read_text(encoding="utf-8")
    anchor = "    cadence: {kind: semiannual, count: 1, origin: stated, text: 至少每半年更新一次流动儿童信息}\n"
    assert text.count(anchor) == 1
    text = text.replace(anchor + "    co_departments: confirm\n", anchor)
    if mode == "confirm":
        text = text.replace(anchor, anchor + "    co_departments: confirm\n")
    catalog.write_text(text, encoding="utf-8")
    assert cli(["plans", "load", "--all"]) == 0


def _materialize(engine, settings, today: D) -> None:
    materialize(engine, settings.calendar(), D(2025, 12, 31), today=today, default_start=settings.schedule_start)


@pytest.fixture
def confirm_world(world, project):
    """Obligation 1.1 switched to confirm in April (H1 begun, H2 not), materialized to the year's
    end; accounts for 新华区's 民政局 (the lead, mzj), 司法局 (not a party, sfj) and 卫东区's
    教育局 (wdjy); an app whose clock is DAY."""
    app, engine, settings, tokens = world
    _switch(project, "confirm")
    _materialize(engine, settings, D(2025, 4, 10))
    with Session(engine) as s:
        for name, kw in {"mzj": dict(jurisdiction="新华区", department="civil_affairs"),
                         "sfj": dict(jurisdiction="新华区", department="justice"),
                         "wdjy": dict(jurisdiction="卫东区", department="education")}.items():
            user = accounts.add_user(s, username=name, password=PASSWORD, display_name=name, role="department", **kw)
            s.flush()
            tokens[name] = accounts.add_token(s, user)
        s.commit()
    late = create_app(settings, engine, today=lambda: DAY)
    return late, engine, settings, tokens


def _ob(s: Session) -> int:
    return s.scalar(sa.select(Obligation.id).where(Obligation.plan_id == "pingdingshan-2025", Obligation.code == "1.1"))


def _items(engine, unit: str, period: str) -> dict[str, int]:
    with Session(engine) as s:
        uid = s.scalar(sa.select(Jurisdiction.id).where(Jurisdiction.name == unit))
        return dict(s.execute(sa.select(Occurrence.party_key, Occurrence.id).where(
            Occurrence.obligation_id == _ob(s), Occurrence.jurisdiction_id == uid,
            Occurrence.period_key == period)).all())


def _parts(engine, oid: int) -> dict[str, object]:
    with Session(engine) as s:
        return dict(s.execute(sa.select(CoConfirmation.party_key, CoConfirmation.confirmed_at)
                              .where(CoConfirmation.occurrence_id == oid)).all())


def _lead(engine) -> int:
    items = _items(engine, "新华区", "2025-H2")
    assert list(items) == ["civil_affairs"], items
    return items["civil_affairs"]


def _query(response, key: str) -> str:
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)[key][0]


# ---------------------------------------------------------------- the catalog key (pure)

def test_the_catalog_key_its_default_and_a_bad_value(directory):
    assert co_departments(None, None) == "separate"
    assert co_departments({"co_departments": "confirm"}, {}) == "confirm"
    assert co_departments({"co_departments": "confirm"}, {"co_departments": "separate"}) == "separate"
    assert co_departments({}, {"co_departments": "confirm"}) == "confirm"
    text = ("plan: {id: p, title: 方案, issuer: 某市人民政府, locality: 某市, level: city, co_departments: both}\n"
            "clauses:\n"
            "- id: '1'\n  kind: task\n  text: 民政部门要定期走访。\n  lines: [1, 1]\n"
            "  departments: [{name: 民政局, role: lead}]\n"
            "  obligations:\n"
            "  - id: '1.1'\n    what: 走访\n    who: [civil_affairs, education]\n    scope: city\n"
            "    cadence: {kind: monthly, origin: stated, text: 每月}\n    co_departments: lead\n")
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text, "catalog.yaml", directory)
    problems = [str(p) for p in caught.value.problems]
    assert any("plan.co_departments" in p and "'both'" in p and "catalog.yaml:1" in p for p in problems), problems
    assert any("co_departments" in p and "'lead'" in p and "catalog.yaml:14" in p for p in problems), problems
    parse_catalog(text.replace("co_departments: both", "co_departments: confirm")
                  .replace("co_departments: lead", "co_departments: separate"), "catalog.yaml", directory)


def test_separate_schedules_keep_their_hash():
    """The mode enters the schedule hash only when it is confirm: no existing schedule is
    recomputed by this change."""
    from storage.schedule import _schedule_hash
    from storage.tables import Obligation as Ob

    ob = Ob(plan_id="p", clause_id=1, code="1.1", position=0, what="x", scope="county", cadence_kind="monthly",
            origin="stated", cadence={"kind": "monthly"}, content_hash="h")
    start = D(2025, 1, 1)
    old = content_hash({"cadence": ob.cadence, "scope": ob.scope, "who": ["a", "b"], "start": start.isoformat()})
    assert _schedule_hash(ob, ["a", "b"], start) == old
    assert _schedule_hash(ob, ["a", "b"], start, "confirm") != old


# ---------------------------------------------------------------- materialize

def test_materialize_makes_a_lead_item_with_confirmations_and_keeps_begun_periods(confirm_world):
    _, engine, settings, _ = confirm_world
    # H1 had begun when the catalog switched: its items per department stay as they were
    assert sorted(_items(engine, "新华区", "2025-H1")) == sorted(["civil_affairs", *CO])
    lead = _lead(engine)
    assert sorted(_parts(engine, lead)) == sorted(CO) and not any(_parts(engine, lead).values())
    with Session(engine) as s:       # every county: one H2 item, seven pending confirmations
        counties = s.scalar(sa.select(sa.func.count(sa.distinct(Occurrence.jurisdiction_id))).where(
            Occurrence.obligation_id == _ob(s), Occurrence.period_key == "2025-H2"))
        items = s.scalar(sa.select(sa.func.count()).select_from(Occurrence).where(
            Occurrence.obligation_id == _ob(s), Occurrence.period_key == "2025-H2"))
        rows = _confirmation_rows(s)
    assert counties > 1 and items == counties and rows == 7 * counties
    # a second run changes nothing
    _materialize(engine, settings, D(2025, 4, 10))
    with Session(engine) as s:
        assert _confirmation_rows(s) == rows


def _confirmation_rows(s: Session) -> int:
    """Confirmation rows of Pingdingshan's 1.1 (Fujian's 11.1 has its own: the demo's)."""
    return s.scalar(sa.select(sa.func.count()).select_from(CoConfirmation).join(
        Occurrence, Occurrence.id == CoConfirmation.occurrence_id).where(Occurrence.obligation_id == _ob(s)))


def test_switching_back_keeps_given_confirmations_and_drops_pending_ones(confirm_world, project):
    _, engine, settings, _ = confirm_world
    lead = _lead(engine)
    with Session(engine) as s, s.begin():
        workflow.confirm_part(s, lead, by=workflow.Actor("教育局", "cli"), party="education")
    _switch(project, "separate")
    _materialize(engine, settings, D(2025, 4, 10))
    items = _items(engine, "新华区", "2025-H2")
    # the lead's item holds recorded work (a confirmation): kept, with it; the rest are dropped,
    # and every department owes its own item again
    assert items["civil_affairs"] == lead and sorted(items) == sorted(["civil_affairs", *CO])
    assert list(_parts(engine, lead)) == ["education"]
    with Session(engine) as s:
        assert _confirmation_rows(s) == 1


# ---------------------------------------------------------------- the round trip

def test_lead_submits_codepartment_confirms_coordinator_accepts(confirm_world, smtp_sink, monkeypatch):
    app, engine, settings, tokens = confirm_world
    monkeypatch.setenv("DUBAN_SMTP_URL", smtp_sink.url)
    lead = _lead(engine)
    # the co-department sees the lead's item, and it is in its list of items awaiting confirmation
    jy = sign_in(app, "jy")
    page = jy.get(f"/items/{lead}").text
    assert 'id="co-departments"' in page and 'id="co-count">0/7<' in page and 'id="confirm-form"' in page
    with Session(engine) as s:
        principal = _principal(s, "jy")
        assert [r.occurrence_id for r in views.awaiting_confirmation(s, principal)] == [lead]
    # the sweep near the due date reminds each co-department, once, over SMTP
    report = notices.run_sweep(engine, settings, DAY)
    with Session(engine) as s:
        mine = s.scalar(sa.select(sa.func.count()).select_from(Notice).join(
            Occurrence, Occurrence.id == Notice.occurrence_id).where(Notice.kind == "confirm",
                                                                     Occurrence.obligation_id == _ob(s)))
    assert mine == 7 * _county_count(engine) and report.notices["confirm"] == mine + 1   # + Fujian's 11.1 (Q4)
    notices.run_deliver(engine, settings, now=dt.datetime.combine(DAY, dt.time(2, 0), dt.UTC), force=True)
    with Session(engine) as s:
        uid = s.scalar(sa.select(Jurisdiction.id).where(Jurisdiction.name == "新华区"))
        address = s.scalar(sa.select(Contact.email).where(Contact.jurisdiction_id == uid,
                                                          Contact.department_key == "education"))
    mails = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == address]
    assert len(mails) == 1
    text = mails[0].get_body(("plain",)).get_content()
    assert "【协办确认提醒·协办确认】" in text and "贵单位为协办部门" in text
    assert f"/items/{lead}" in text and "协办确认（登录后在事项页确认）" in text
    assert notices.run_sweep(engine, settings, DAY).notices.get("confirm") is None    # once only
    # the lead submits (its own page); the co-department may not complete the lead's item
    mzj = sign_in(app, "mzj")
    r = mzj.post(f"/items/{lead}/complete", data={"count": "1", "note": "已更新信息", "done_on": DAY.isoformat(),
                                                  "csrf": csrf_of(mzj, f"/items/{lead}")})
    assert _query(r, "ok") == "已登记办理情况"
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{lead}/completions", json={"count": 1})
    assert r.status_code == 403 and "协办部门" in r.json()["detail"]
    # the coordinator's acceptance waits for the confirmations
    r = api(app, tokens["mz"]).post("/api/v1/review/accept", json={"ids": [lead], "note": "同意"})
    assert r.status_code == 409 and "协办部门尚未全部确认" in r.json()["detail"] and "教育" in r.json()["detail"]
    # the co-department confirms on the page; a second time is refused and changes nothing
    r = jy.post(f"/items/{lead}/confirm", data={"note": "已提供学籍数据", "csrf": csrf_of(jy, f"/items/{lead}")})
    assert _query(r, "ok") == "已确认协办部分"
    page = jy.get(f"/items/{lead}").text
    assert 'id="co-count">1/7<' in page and "已提供学籍数据" in page and 'id="confirm-form"' not in page
    with Session(engine) as s:
        first = s.scalar(sa.select(CoConfirmation).where(CoConfirmation.occurrence_id == lead,
                                                         CoConfirmation.party_key == "education"))
        assert (first.confirmed_by, first.note) == ("jy", "已提供学籍数据")
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{lead}/confirm", json={"note": "再次"})
    assert r.status_code == 409 and "已于" in r.json()["detail"] and "未重复登记" in r.json()["detail"]
    assert _parts(engine, lead)["education"] == first.confirmed_at
    # five more confirm at the CLI and the API; one (残联) does not
    for party in CO[1:-2]:
        assert cli(["confirm", str(lead), "--department", party, "--note", "已完成"]) == 0
    with Session(engine) as s, s.begin():
        workflow.confirm_part(s, lead, by=workflow.Actor("市妇联", "cli"), party="womens_federation")
    assert sum(1 for v in _parts(engine, lead).values() if v) == 6
    # accepted anyway: refused without a note, accepted with one, the missing one in the audit
    r = api(app, tokens["mz"]).post("/api/v1/review/accept", json={"ids": [lead], "anyway": True})
    assert r.status_code == 422 and "审核意见" in r.json()["detail"]
    mz = sign_in(app, "mz")
    assert 'id="accept-anyway-form"' in mz.get(f"/items/{lead}").text
    r = mz.post(f"/items/{lead}/accept-anyway", data={"note": "残联部分已由民政一并报送",
                                                      "csrf": csrf_of(mz, f"/items/{lead}")})
    assert _query(r, "ok").startswith("已审核通过")
    assert api(app, tokens["mz"]).get(f"/api/v1/occurrences/{lead}").json()["status"] == "done"
    with Session(engine) as s:
        after = s.scalar(sa.select(AuditEntry.after).where(AuditEntry.object_id == str(lead),
                                                           AuditEntry.action == "accept"))
        actions = list(s.scalars(sa.select(AuditEntry.action).where(AuditEntry.object_id == str(lead))
                                 .order_by(AuditEntry.id)))
    assert after["missing_confirmations"] == ["残疾人联合会"], after
    assert actions.count("confirm") == 6 and actions[-1] == "accept"
    # the report: of 新华区's H2 items, this one had a confirmation missing at its due date
    with Session(engine) as s:
        data = build_report(s, start=D(2025, 7, 1), end=D(2025, 12, 31), today=D(2026, 1, 5),
                            jurisdiction="新华区", children=False, with_previous=False)
        assert data.confirmations_missing == 1
        before_due = build_report(s, start=D(2025, 7, 1), end=D(2025, 12, 31), today=DAY,
                                  jurisdiction="新华区", children=False, with_previous=False)
        assert before_due.confirmations_missing == 0
        whole = build_report(s, start=D(2025, 7, 1), end=D(2025, 12, 31), today=D(2026, 1, 5),
                             plan="pingdingshan-2025", with_previous=False)
        assert whole.confirmations_missing == _county_count(engine)   # no other county's co-departments confirmed
        fujian = build_report(s, start=D(2025, 7, 1), end=D(2025, 12, 31), today=D(2026, 1, 5),
                              plan="fujian-2025", with_previous=False)
        assert fujian.confirmations_missing == 2      # the demo's 11.1: Q3 and Q4, 公安 never confirmed


def _county_count(engine) -> int:
    with Session(engine) as s:
        return s.scalar(sa.select(sa.func.count(sa.distinct(Occurrence.jurisdiction_id))).where(
            Occurrence.obligation_id == _ob(s), Occurrence.period_key == "2025-H2"))


def _principal(s: Session, username: str):
    from web.deps import principal_of

    return principal_of(s, views.user_by_name(s, username))


# ---------------------------------------------------------------- abuse

def test_who_may_not_confirm(confirm_world):
    app, engine, _, tokens = confirm_world
    lead = _lead(engine)
    h1_education = _items(engine, "新华区", "2025-H1")["education"]
    # not a co-department at this unit, another unit's co-department: the item does not exist for them
    for user in ("sfj", "wdjy", "wd"):
        r = api(app, tokens[user]).post(f"/api/v1/occurrences/{lead}/confirm", json={})
        assert r.status_code == 404, (user, r.text)
        c = sign_in(app, user)
        token = csrf_of(c, "/inbox")
        assert c.post(f"/items/{lead}/confirm", data={"csrf": token}).status_code == 404
    # the lead and the coordinator see it but may not confirm
    for user in ("mzj", "mz"):
        r = api(app, tokens[user]).post(f"/api/v1/occurrences/{lead}/confirm", json={})
        assert r.status_code == 403 and "协办部门" in r.json()["detail"], (user, r.text)
    # an item without co-departments; a huge note; a forged CSRF token
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{h1_education}/confirm", json={})
    assert r.status_code == 403
    r = api(app, tokens["jy"]).post(f"/api/v1/occurrences/{lead}/confirm", json={"note": "说" * 2001})
    assert r.status_code == 422
    jy = sign_in(app, "jy")
    assert jy.post(f"/items/{lead}/confirm", data={"csrf": "forged"}).status_code in (400, 403)
    # the CLI: several co-departments need --department; a department that is not one is refused
    assert cli(["confirm", str(lead)]) != 0
    assert cli(["confirm", str(lead), "--department", "justice"]) != 0
    assert not any(_parts(engine, lead).values())
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "confirm")) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(Notice).where(Notice.kind == "confirm")) == 0


def test_the_report_shows_items_whose_confirmations_were_missing(confirm_world, tmp_path):
    """Fujian's 11.1 (the demo's: 检察院 leads, 公安 confirms), 2025H2: Q3's item got its
    confirmation the day after the due date, Q4's never: both count, in every format."""
    import json

    import openpyxl

    from reports.html import render_html
    from reports.render import document, write, write_json

    _, engine, _, _ = confirm_world
    with Session(engine) as s, s.begin():
        ob = s.scalar(sa.select(Obligation.id).where(Obligation.plan_id == "fujian-2025", Obligation.code == "11.1"))
        rows = s.execute(sa.select(Occurrence.id, Occurrence.due).where(Occurrence.obligation_id == ob)
                         .order_by(Occurrence.due)).all()
        assert [r.due.month for r in rows] == [3, 6, 9, 12]
        for oid, due in rows[:3]:      # Q1, Q2 on time; Q3 a day late
            late = due + dt.timedelta(days=1) if due.month == 9 else due
            workflow.confirm_part(s, oid, by=workflow.Actor("公安厅", "cli"),
                                  now=dt.datetime.combine(late, dt.time(9, 0), dt.UTC))
    with Session(engine) as s:
        data = build_report(s, start=D(2025, 1, 1), end=D(2025, 12, 31), today=D(2026, 1, 5), plan="fujian-2025",
                            with_previous=False)
    assert data.confirmations_missing == 2
    doc = document(data)
    [summary] = [t for sec in doc.sections for t in sec.tables if t.key == "summary"]
    assert {"item": "协办部门到期未确认", "value": 2, "rate": None} in summary.rows
    html = render_html(doc)
    assert "；2项事项的协办部门到期未确认" in html.replace(" ", "")     # the summary's words, in the printed formats
    json_path = write_json(data, tmp_path / "r.json")
    assert json.loads(json_path.read_text(encoding="utf-8"))["confirmations_missing"] == 2
    book = openpyxl.load_workbook(write(data, "xlsx", tmp_path / "r.xlsx"))
    cells = [(r[0], r[1]) for ws in book.worksheets for r in ws.iter_rows(values_only=True) if r and r[0]]
    assert ("协办部门到期未确认", 2) in cells


# ---------------------------------------------------------------- in the browser

@pytest.mark.slow
@pytest.mark.browser
def test_the_codepartment_confirms_in_chromium_on_a_phone_and_a_laptop(confirm_world, tmp_path):
    import os
    import shutil
    import threading
    import time

    import uvicorn

    from tests.conftest import free_port
    from tests.test_e2e_browser import CHROMIUM
    from tests.test_e2e_browser import sign_in as browser_sign_in

    app, engine, _, _ = confirm_world
    lead = _lead(engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    from playwright.sync_api import sync_playwright
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
            for width, height in ((390, 844), (1366, 768)):
                page = browser.new_page(viewport={"width": width, "height": height})
                browser_sign_in(page, base, "jy")
                page.goto(f"{base}/items/{lead}")
                section = page.locator("#co-departments")
                assert section.is_visible() and page.inner_text("#co-count") in ("0/7", "1/7")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                # the co-department neither completes nor asks on the lead's item: those forms are hidden
                assert not page.locator("#complete-form").is_visible()
                assert not page.locator("#request-form").is_visible()
                page.screenshot(path=str(tmp_path / f"codept-{width}.png"), full_page=True)
                if width == 390:
                    page.fill("#confirm-note", "已提供学籍数据")
                    page.click("#confirm")
                    page.wait_for_load_state()
                    assert page.inner_text("#co-count") == "1/7" and "已确认协办部分" in page.inner_text("#flash")
                    assert page.locator("#confirm-form").count() == 0
                    page.screenshot(path=str(tmp_path / "codept-390-confirmed.png"), full_page=True)
                page.close()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    keep = os.environ.get("DUBAN_SCREENSHOTS")
    if keep:
        for png in tmp_path.glob("codept-*.png"):
            shutil.copy(png, keep)
