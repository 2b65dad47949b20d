"""The web app and the API through real HTTP requests (FastAPI's TestClient) on the real
database: sign-in, CSRF, roles, the generated access matrix, completion forms and links, requests
and their review, ICS feeds, audit, every /api/v1 route.

Personas (the ``personas`` fixture, and one more account made here): 民政局 coordinator of 新华区
(mz), 教育局 of 新华区 (jy), 平顶山市 督查室 supervisor (dc), a children's director in 福州 (zr) with
one key child; and 卫东区 civil affairs (wd)."""
import datetime as dt
import re
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlmodel import Session

from notifications.links import load_secret, make_token
from storage import accounts
from storage.schedule import materialize
from storage.tables import AuditEntry, Case, Jurisdiction, Notice, Occurrence, Plan
from tests.conftest import PASSWORD, csrf_of, owing_contact, sign_in
from web.app import create_app

D = dt.date
TODAY = D(2025, 4, 10)
USERS = {
    "mz": dict(role="coordinator", jurisdiction="新华区"),
    "jy": dict(role="department", jurisdiction="新华区", department="education"),
    "wd": dict(role="department", jurisdiction="卫东区", department="civil_affairs"),
    "dc": dict(role="supervisor", jurisdiction="平顶山市"),
    "zr": dict(role="director", jurisdiction="鼓东街道第一社区", director="张主任"),
}


@pytest.fixture
def world(engine, plans_loaded, personas):
    settings = plans_loaded
    with Session(engine) as s, s.begin():
        village = s.scalar(sa.select(Jurisdiction).where(Jurisdiction.code == "350102001001"))
        s.add(Case(code="FZ-1", jurisdiction_id=village.id, categories=["监护缺失"], director="张主任",
                   opened=D(2024, 12, 1)))
        s.add(Case(code="FZ-2", jurisdiction_id=village.id, categories=["监护缺失"], director="李主任",
                   opened=D(2024, 12, 1)))
    materialize(engine, settings.calendar(), D(2025, 6, 30), today=D(2025, 1, 1), default_start=settings.schedule_start)
    tokens = {}
    for p in personas:        # the rule below is written from USERS: the personas must be those accounts
        assert USERS[p.username] == {k: v for k, v in dict(role=p.role, jurisdiction=p.jurisdiction,
                                                           department=p.department, director=p.director).items() if v}
        tokens[p.username] = p.token
    with Session(engine) as s:
        for name, kw in USERS.items():
            if name not in tokens:
                user = accounts.add_user(s, username=name, password=PASSWORD, display_name=name, **kw)
                s.flush()
                tokens[name] = accounts.add_token(s, user)
        s.commit()
    app = create_app(settings, engine, today=lambda: TODAY)
    return app, engine, settings, tokens


def client(app, user: str | None = None) -> TestClient:
    return sign_in(app, user) if user else TestClient(app, follow_redirects=False)



def api(app, token):
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def visible_by_rule(user: str, occ_row) -> bool:
    """The access rule written out independently of web/access.py."""
    o_path, party, director = occ_row
    kw = USERS[user]
    if kw["role"] in ("coordinator", "supervisor"):
        return o_path.startswith(UNIT_PATHS[kw["jurisdiction"]])
    if kw["role"] == "department":
        return party == kw["department"] and o_path == UNIT_PATHS[kw["jurisdiction"]]
    return director == kw["director"]


UNIT_PATHS: dict[str, str] = {}


@pytest.mark.parametrize("every", [pytest.param(1, marks=pytest.mark.slow, id="all"), pytest.param(10, id="sample")])
def test_access_matrix_every_role_against_every_kind_of_item(world, every):
    """For each user and one item of every (unit, department, case director) combination:
    API read, API completion and the item page are allowed exactly when the rule allows.
    The everyday run (``sample``) keeps every 10th item and each one a department or director
    account may see; the whole matrix (``all``, ≈ 40 s, thousands of requests) is marked slow."""
    app, engine, _, tokens = world
    with Session(engine) as s:
        UNIT_PATHS.update({n: p for n, p in s.execute(sa.select(Jurisdiction.name, Jurisdiction.path))})
        rows = s.execute(sa.select(sa.func.min(Occurrence.id), Jurisdiction.path, Occurrence.party_key, Case.director)
                         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
                         .outerjoin(Case, Case.id == Occurrence.case_id)
                         .group_by(Jurisdiction.path, Occurrence.party_key, Case.director)
                         .order_by(sa.func.min(Occurrence.id))).all()
    assert len(rows) > 300
    # the sample: every 10th, and each item one of the narrow roles (a department, a director) may see
    rows = [r for i, r in enumerate(rows) if i % every == 0 or any(visible_by_rule(u, r[1:]) for u in ("jy", "wd", "zr"))]
    checked = {True: 0, False: 0}
    for user in USERS:
        c = api(app, tokens[user])
        for oid, path, party, director in rows:
            expected = visible_by_rule(user, (path, party, director))
            r = c.get(f"/api/v1/occurrences/{oid}")
            assert r.status_code == (200 if expected else 404), (user, oid, path, party)
            checked[expected] += 1
            if not expected:     # a write to someone else's item is refused the same way, and changes nothing
                w = c.post(f"/api/v1/occurrences/{oid}/completions", json={"count": 1})
                assert w.status_code == 404, (user, oid)
    assert checked[True] > 50 // every and checked[False] > 1000 // every
    print(f"access matrix: {len(rows)} items × {len(USERS)} accounts, {checked}")
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "complete")) == 0
    # the pages follow the same rule
    pages = {u: client(app, u) for u in ("jy", "wd")}
    for oid, path, party, director in rows[:80]:
        for u, c in pages.items():
            assert c.get(f"/items/{oid}").status_code == (200 if visible_by_rule(u, (path, party, director)) else 404)


def test_api_routes(world, personas):
    app, engine, _, tokens = world
    assert TestClient(app).get("/api/v1/occurrences").status_code == 401
    assert api(app, "dbn_forged").get("/api/v1/me").status_code == 401
    jy = personas.department.api(app)
    assert jy.get("/api/v1/me").json() == {"username": "jy", "role": "department", "jurisdiction": "新华区",
                                            "department": "education"}
    items = jy.get("/api/v1/occurrences", params={"limit": 1000}).json()
    assert items and {i["assignee"] for i in items} == {"education"} and {i["jurisdiction"] for i in items} == {"新华区"}
    overdue = jy.get("/api/v1/occurrences", params={"status": "overdue"}).json()
    assert all(i["status"] == "overdue" for i in overdue)
    target = next(i for i in items if i["required"] == 1 and i["done"] == 0)
    assert jy.get(f"/api/v1/occurrences/{target['id']}").json()["id"] == target["id"]
    r = jy.post(f"/api/v1/occurrences/{target['id']}/completions", json={"count": 1, "note": "已完成",
                                                                        "done_on": "2025-04-08"})
    assert r.status_code == 201 and r.json()["occurrence"]["done"] == 1
    assert r.json()["occurrence"]["status"] == "submitted"         # awaiting the coordinator's review
    twice = jy.post(f"/api/v1/occurrences/{target['id']}/completions", json={"count": 1, "done_on": "2025-04-08"})
    assert twice.status_code == 409 and "已于 2025-04-08 登记办结，正待审核，未重复登记" in twice.json()["detail"]
    accepted = personas.coordinator.api(app).post("/api/v1/review/accept", json={"ids": [target["id"]]})
    assert accepted.status_code == 200 and accepted.json()[0]["status"] in ("done", "done_late")
    twice = jy.post(f"/api/v1/occurrences/{target['id']}/completions", json={"count": 1, "done_on": "2025-04-08"})
    assert twice.status_code == 409 and "已于 2025-04-08 办结（1/1），未重复登记" in twice.json()["detail"]
    future = jy.post(f"/api/v1/occurrences/{target['id']}/completions", json={"done_on": "2025-05-01"})
    assert future.status_code == 422 and "晚于今天" in future.json()["detail"]
    assert jy.post(f"/api/v1/occurrences/{target['id']}/completions", json={"count": 0}).status_code == 422
    dc = personas.supervisor.api(app)
    assert dc.get(f"/api/v1/occurrences/{target['id']}").status_code == 200
    assert dc.post(f"/api/v1/occurrences/{target['id']}/completions", json={}).status_code == 403
    assert {p["id"] for p in jy.get("/api/v1/plans").json()} == {"fujian-2025", "guangdong-2024", "pingdingshan-2025"}
    assert "education" in {d["key"] for d in jy.get("/api/v1/departments").json()}
    data = dc.get("/api/v1/reports/data", params={"period": "2025Q1", "jurisdiction": "新华区"}).json()
    assert data["jurisdiction"] == "新华区" and data["totals"]["total"] > 0
    assert dc.get("/api/v1/reports/data", params={"period": "2025Q1", "jurisdiction": "福州市"}).status_code == 403
    assert dc.get("/api/v1/reports/data", params={"period": "bad"}).status_code == 400
    assert jy.get("/api/v1/reports/data", params={"period": "2025Q1"}).status_code == 403
    spec = TestClient(app).get("/api/v1/openapi.json").json()
    assert {"/api/v1/occurrences", "/api/v1/occurrences/{occurrence_id}/completions", "/api/v1/plans",
            "/api/v1/departments", "/api/v1/reports/data"} <= set(spec["paths"])


def test_sign_in_csrf_and_session_cookie(world):
    app, *_ = world
    c = TestClient(app, follow_redirects=False)
    assert c.get("/inbox").headers["location"] == "/login?next=/inbox"
    token = csrf_of(c, "/login")
    assert c.post("/login", data={"username": "jy", "password": "wrong", "csrf": token}).status_code == 401
    assert c.post("/login", data={"username": "jy", "password": PASSWORD}).status_code == 403      # no CSRF token
    r = c.post("/login", data={"username": "jy", "password": PASSWORD, "csrf": token, "next": "/inbox"})
    assert r.status_code == 303 and r.headers["location"] == "/inbox"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    # signing in starts a new session: the old form token is void, a fresh page gives a new one
    assert c.post("/login", data={"username": "jy", "password": PASSWORD, "csrf": token}).status_code == 403
    assert c.post("/login", data={"username": "jy", "password": PASSWORD, "csrf": csrf_of(c, "/login"),
                                  "next": "//evil.example/"}).headers["location"] == "/"


def test_department_completes_an_item_in_the_browser_flow(world, tmp_path):
    app, engine, settings, _ = world
    c = client(app, "jy")
    inbox = c.get("/inbox").text
    ids = re.findall(r'data-id="(\d+)"', inbox)
    assert ids and "教育" in inbox and "订阅" in inbox
    oid = int(ids[0])
    token = csrf_of(c, f"/items/{oid}")
    pdf = b"%PDF-1.4\n%test evidence\n"
    r = c.post(f"/items/{oid}/complete", data={"count": "1", "note": "已召开专题会议", "csrf": token},
               files={"upload": ("会议纪要.pdf", pdf, "application/pdf")})
    assert r.status_code == 303 and "ok=" in r.headers["location"]
    page = c.get(f"/items/{oid}").text
    assert "已召开专题会议" in page and "下载佐证材料" in page
    stored = list(settings.evidence_dir.glob(f"{oid}/*.pdf"))
    assert len(stored) == 1 and stored[0].read_bytes() == pdf
    link = re.search(r'href="(/items/\d+/evidence/\d+)"', page)[1]
    download = c.get(link)
    assert download.status_code == 200 and download.content == pdf and "filename*=utf-8''" in download.headers[
        "content-disposition"].lower()
    assert client(app, "wd").get(link).status_code == 404         # another county's department
    # a disguised file is refused, and nothing is recorded
    r = c.post(f"/items/{oid}/complete", data={"count": "1", "csrf": token},
               files={"upload": ("photo.jpg", b"MZ\x90\x00 not an image", "image/jpeg")})
    assert "error=" in r.headers["location"]
    with Session(engine) as s:
        assert s.get(Occurrence, oid).done_count == 1
        entry = s.scalar(sa.select(AuditEntry).where(AuditEntry.object_id == str(oid)))
        assert entry.actor == "jy" and entry.before["done"] == 0 and entry.after["done"] == 1
    # a second completion of the finished item is refused, and its upload is not kept
    r = c.post(f"/items/{oid}/complete", data={"count": "1", "csrf": token},
               files={"upload": ("会议纪要.pdf", b"%PDF-1.4\n%second\n", "application/pdf")})
    assert "error=" in r.headers["location"] and "未重复登记" in unquote(r.headers["location"])
    assert list(settings.evidence_dir.glob(f"{oid}/*")) == stored


def test_completion_link_works_once(world):
    app, engine, settings, _ = world
    with Session(engine) as s, s.begin():
        oid = s.scalar(sa.select(Occurrence.id).where(Occurrence.party_key == "education").order_by(Occurrence.id))
        n = Notice(occurrence_id=oid, stage="remind-7", kind="remind", swept_on=D(2025, 3, 20), workdays=7,
                   recipient_kind="contact", recipient_id=owing_contact(s, oid))
        s.add(n)
        s.flush()
        nid = n.id
    token = make_token(load_secret(settings.data_dir), notice_id=nid, occurrence_id=oid, expires=D(2025, 5, 1))
    c = TestClient(app)
    form = c.get(f"/c/{token}")
    assert form.status_code == 200 and "登记办理情况" in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    done = c.post(f"/c/{token}", data={"count": "1", "note": "邮件链接登记", "name": "王老师", "csrf": csrf})
    assert done.status_code == 200 and "已登记" in done.text
    again = c.post(f"/c/{token}", data={"count": "1", "csrf": csrf})
    assert again.status_code == 410 and "已使用过" in again.text
    assert c.get(f"/c/{token}").status_code == 410
    expired = make_token(load_secret(settings.data_dir), notice_id=nid, occurrence_id=oid, expires=D(2025, 4, 1))
    assert "过期" in c.get(f"/c/{expired}").text
    assert "无效" in c.get(f"/c/{token[:-2]}xx").text
    with Session(engine) as s:
        assert s.get(Occurrence, oid).done_count == 1


def test_extension_request_and_review(world, personas):
    app, engine, *_ = world
    jy, mz = personas.department.client(app), personas.coordinator.client(app)
    oid = int(re.findall(r'data-id="(\d+)"', jy.get("/inbox").text)[0])
    with Session(engine) as s:
        old_due = s.get(Occurrence, oid).due
    new_due = (old_due + dt.timedelta(days=30)).isoformat()
    r = jy.post(f"/items/{oid}/request", data={"kind": "extension", "reason": "等待上级文件", "new_due": new_due,
                                               "csrf": csrf_of(jy, f"/items/{oid}")})
    assert "ok=" in r.headers["location"]
    assert jy.get("/requests").status_code == 403
    page = mz.get("/requests").text
    rid = re.search(r'/requests/(\d+)/decide', page)[1]
    r = mz.post(f"/requests/{rid}/decide", data={"decision": "approve", "note": "同意", "csrf": csrf_of(mz, "/requests")})
    assert r.status_code == 303
    with Session(engine) as s:
        assert s.get(Occurrence, oid).due.isoformat() == new_due
    audit_page = mz.get("/audit").text
    assert "批准申请" in audit_page and "申请豁免或延期" in audit_page


def test_ics_feed_lists_open_items_and_drops_completed_ones(world):
    app, engine, *_ = world
    jy = client(app, "jy")
    url = re.search(r'id="ics" readonly value="([^"]+)"', jy.get("/inbox").text)[1]
    path = url.split("testserver", 1)[1]
    feed = Calendar.from_ical(TestClient(app).get(path).content)
    events = feed.walk("VEVENT")
    assert events and all("（" in str(e["summary"]) for e in events)
    first = int(str(events[0]["uid"]).split("-")[1].split("@")[0])
    jy.post(f"/items/{first}/complete", data={"count": "5", "csrf": csrf_of(jy, f"/items/{first}")})
    after = Calendar.from_ical(TestClient(app).get(path).content).walk("VEVENT")
    assert len(after) == len(events) - 1
    assert TestClient(app).get(path.replace(".ics", "0.ics")).status_code == 404


def test_the_inbox_offers_the_feed_as_a_phone_calendar_subscription(world):
    app, *_ = world
    page = client(app, "jy").get("/inbox").text
    box = page[page.index('id="ics-box"'):page.index("</section>", page.index('id="ics-box"'))]
    assert "订阅到手机日历" in box and "ICS" not in box
    assert "iPhone：设置→日历→账户" in box and "添加已订阅的日历" in box and "安卓" in box and "添加订阅日历" in box
    url = re.search(r'<input type="text" id="ics" readonly value="(http://testserver/ics/\d+/[0-9a-f]+\.ics)"', box)[1]
    assert TestClient(app).get(url.split("testserver", 1)[1]).status_code == 200
    # the copy button is the site's script's (no inline script under the CSP), shown once it runs
    assert re.search(r'<button type="button"[^>]* id="ics-copy" data-copy="ics" hidden>复制地址</button>', box)
    assert "<script>" not in page and 'data-copy' in client(app).get("/static/duban.js").text
    assert 'id="ics-rotate"' in box and 'action="/ics/rotate"' in box


def test_dashboard_and_reports_for_the_coordinator(world, personas):
    app, *_ = world
    mz, jy = personas.coordinator.client(app), personas.department.client(app)
    page = mz.get("/dashboard", params={"period": "2025Q1"})
    assert page.status_code == 200 and "各部门按期办结率" in page.text and "<svg" in page.text
    assert mz.get("/dashboard", params={"period": "2025Q1", "jurisdiction": "福州市"}).status_code == 403
    assert jy.get("/dashboard").status_code == 403
    r = mz.get("/reports/download", params={"period": "2025Q1", "format": "xlsx"})     # a draft: no number
    assert r.status_code == 200 and r.content[:2] == b"PK"
    # the form names periods as people do; the latest ended quarter is chosen (today is in 2025's Q2)
    page = mz.get("/reports").text
    assert '<option value="2025Q1" selected>2025年第1季度</option>' in page and ">2025年上半年<" in page
    assert ">2024年3月<" in page and "2025H1" not in re.sub(r'value="[^"]*"', "", page)
    token = csrf_of(mz, "/reports")
    # a range typed beside the list wins over the chosen period
    r = mz.post("/reports/download", data={"period": "2025Q1", "custom": "2025-01-01..2025-02-15", "format": "html",
                                           "csrf": token, "draft": "1"})
    assert r.status_code == 200 and "2025年1月1日至2025年2月15日" in r.text
    form = {"period": "2025Q1", "format": "html", "csrf": token, "cc": "市委督查室、市政府督查室",
            "issued_on": "2025-04-12", "issue_no": ""}
    r = mz.post("/reports/download", data=form)
    assert r.status_code == 200 and "督查通报〔2025〕第1期" in r.text and "抄送：市委督查室，市政府督查室。" in r.text
    assert "2025年4月12日印发" in r.text
    assert "第1期" in mz.post("/reports/download", data=form).text          # the same report keeps its number
    r = mz.post("/reports/download", data={**form, "period": "2025Q2", "issue_no": "1"})
    assert r.status_code == 400 and "第1期已用于" in r.text
    assert mz.post("/reports/download", data={**form, "issue_no": "x"}).status_code == 400
    assert mz.post("/reports/download", data={**form, "issued_on": "昨天"}).status_code == 400
    assert mz.post("/reports/download", data={**form, "csrf": "forged"}).status_code in (400, 403)
    assert personas.supervisor.client(app).get("/reports").status_code == 200
    assert jy.get("/reports").status_code == 403


def test_the_reports_form_offers_only_the_plans_of_the_persons_area(world, personas):
    app, engine, _, _ = world
    with Session(engine) as s, s.begin():
        accounts.add_user(s, username="fj", password=PASSWORD, role="coordinator", jurisdiction="福建省",
                          display_name="福建省民政厅")
        # which plans have items where (the reference, independently of the page)
        rows = s.execute(sa.select(sa.distinct(Occurrence.plan_id), Jurisdiction.path)
                         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)).all()
        paths = {name: s.scalar(sa.select(Jurisdiction.path).where(Jurisdiction.name == name))
                 for name in ("新华区", "平顶山市", "福建省")}
        titles = dict(s.execute(sa.select(Plan.id, Plan.title)).all())

    def offered(c) -> set[str]:
        form = c.get("/reports").text
        select = form[form.index('<select id="plan"'):form.index("</select>", form.index('<select id="plan"'))]
        return set(re.findall(r'<option value="([^"]+)">', select))

    def expected(area: str) -> set[str]:
        return {plan for plan, path in rows if path.startswith(paths[area])}

    mine, theirs = expected("新华区"), expected("福建省")
    assert mine and theirs and not mine & theirs and len(titles) > len(mine)       # the world has both
    assert offered(personas.coordinator.client(app)) == mine                          # 新华区: not Fujian's plan
    assert offered(personas.supervisor.client(app)) == expected("平顶山市")
    assert offered(client(app, "fj")) == theirs


def test_users_command(project, capsys):
    from flows.cli import main

    assert main(["plans", "load", "--all"]) == 0
    assert main(["users", "add", "mz", "--role", "coordinator", "--jurisdiction", "新华区", "--password", PASSWORD]) == 0
    assert main(["users", "add", "x", "--role", "department", "--jurisdiction", "新华区", "--password", PASSWORD]) == 2
    assert "--department" in capsys.readouterr().err
    assert main(["users", "token", "mz"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("dbn_")



def test_the_link_in_a_delivered_notice_opens_in_the_web_app(world):
    """From the sweep to the browser: the day's digest goes to the .eml sink, its first
    completion link opens the one-item form and records the completion."""
    import email
    import email.policy

    from notifications import service as notices

    app, engine, settings, _ = world
    day = D(2025, 3, 24)
    assert notices.run_sweep(engine, settings, day).digests > 0
    sent = notices.run_deliver(engine, settings, now=dt.datetime(2025, 3, 24, 2, 0, tzinfo=dt.UTC),
                               force=True)
    assert sent.sent > 0
    message = email.message_from_bytes(sorted((settings.data_dir / "outbox").glob("*.eml"))[0].read_bytes(),
                                       policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:8000(/c/[\w.-]+)", body)[1]
    c = TestClient(app)
    form = c.get(link)
    assert form.status_code == 200 and "登记办理情况" in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    nameless = c.post(link, data={"count": "1", "note": "邮件中的链接", "csrf": csrf})
    assert nameless.status_code == 422 and "请填写登记人姓名" in nameless.text
    assert "已登记" in c.post(link, data={"count": "1", "note": "邮件中的链接", "name": "王小明", "csrf": csrf}).text
    with Session(engine) as s:
        entry = s.scalar(sa.select(AuditEntry).where(AuditEntry.action == "link.use"))
        assert entry is not None and entry.after["note"] == "邮件中的链接"


def test_a_nul_byte_is_a_client_error_not_a_server_error(world, personas):
    """PostgreSQL refuses NUL in text (schemathesis found this as a 500 on PostgreSQL only)."""
    app, *_ = world
    assert personas.coordinator.api(app).get("/api/v1/occurrences", params={"plan": "\x00"}).status_code == 400
    c = TestClient(app)
    r = c.post("/login", data={"username": "a\x00b", "password": "x", "csrf": csrf_of(c, "/login")})
    assert r.status_code in (400, 401)
