"""Access and abuse, through real HTTP requests on the real database (SQLite; PostgreSQL with
DUBAN_DATABASE_URL):

- the role matrix: each role (coordinator, supervisor, department, children's director) against
  another unit's and another department's (or director's) items, through the pages, the API, the
  ICS feeds, the report downloads and the dashboard — refused (403/404) with nothing written,
  while their own objects are served;
- bodies: a body over the limit is refused with 413 before it is read (Content-Length, chunked,
  a real server on loopback), the limits are configurable;
- bad input: periods outside 2000–2100 and counts out of bounds are a 4xx in Chinese on every door;
- headers: CSP without inline script or style, no framing, nosniff, no referrer, no-store; the
  API docs from the package's own files (and in headless Chromium, offline);
- mail headers: a display name cannot add a recipient or a header, a bad message fails on its
  own outbox row and the batch goes on;
- privacy: case codes that are names are refused; a case item's notice names the township only.

Sessions, throttling and tokens, completion dates and link ownership have their own tests."""
from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import re
import socket
import threading
import time

import openpyxl
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi.testclient import TestClient
from sqlmodel import Session

from notifications.channels import Channels, Message, build_email
from notifications.deliver import DeliverySettings, deliver
from notifications.links import load_secret, make_token
from obligations.directory import DirectoryError, parse_directory
from storage import accounts, workflow
from storage.schedule import materialize
from storage.tables import (
    AuditEntry,
    Case,
    Completion,
    ItemRequest,
    Jurisdiction,
    Notice,
    Occurrence,
    Outbox,
    UserAccount,
)
from tests.conftest import PASSWORD, csrf_of, free_port, owing_contact
from web.app import create_app
from web.deps import principal_of

D = dt.date
TODAY = D(2025, 4, 10)
SECURITY = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


# ---------------------------------------------------------------- the world

@pytest.fixture
def world(engine, plans_loaded, personas):
    """2025's items to June, two key children in 鼓东街道第一社区 (FZ-1 张主任's, FZ-2 李主任's),
    and one more account: 卫东区 civil affairs (wd), who files a waiver request there."""
    settings = plans_loaded
    with Session(engine) as s, s.begin():
        village = s.scalar(sa.select(Jurisdiction).where(Jurisdiction.code == "350102001001"))
        for code, director in (("FZ-1", "张主任"), ("FZ-2", "李主任")):
            s.add(Case(code=code, jurisdiction_id=village.id, categories=["监护缺失"], director=director,
                       opened=D(2024, 12, 1)))
    materialize(engine, settings.calendar(), D(2025, 6, 30), today=D(2025, 1, 1), default_start=settings.schedule_start)
    with Session(engine) as s, s.begin():
        wd = accounts.add_user(s, username="wd", password=PASSWORD, display_name="卫东区民政局", role="department",
                               jurisdiction="卫东区", department="civil_affairs")
        s.flush()
        item = _pick(s, "j.name = '卫东区' AND o.party_key = 'civil_affairs'")
        workflow.request(s, item, by=workflow.Actor("wd", "web", principal_of(s, wd)), kind="waiver",
                         reason="本年度无此项工作", new_due=None, today=TODAY)
    app = create_app(settings, engine, today=lambda: TODAY)
    return app, engine, settings


def _pick(session, where: str) -> int | None:
    """An open item matching ``where`` (SQL over o: occurrence, j: its unit, k: its case)."""
    return session.scalar(sa.text(
        "SELECT o.id FROM occurrence o JOIN jurisdiction j ON j.id = o.jurisdiction_id "
        "LEFT JOIN care_case k ON k.id = o.case_id "
        f"WHERE o.done_count < o.required AND o.waived_at IS NULL AND {where} ORDER BY o.due DESC, o.id LIMIT 1"))


# role → (its own item, {what the other object is: its item}); written from the personas'
# accounts (conftest.PERSONAS), independently of storage.access
MATRIX = {
    "coordinator": ("j.path LIKE (SELECT path FROM jurisdiction WHERE name = '新华区') || '%'", {
        "another county's item (卫东区)": "j.name = '卫东区'",
        "another province's item (福建)": "j.path LIKE (SELECT path FROM jurisdiction WHERE name = '福州市') || '%'"}),
    "supervisor": ("j.path LIKE (SELECT path FROM jurisdiction WHERE name = '平顶山市') || '%'", {
        "another province's item (福建)": "j.path LIKE (SELECT path FROM jurisdiction WHERE name = '福州市') || '%'"}),
    "department": ("j.name = '新华区' AND o.party_key = 'education'", {
        "another unit's item of the same department": "j.name = '卫东区' AND o.party_key = 'education'",
        "another department's item at the same unit": "j.name = '新华区' AND o.party_key <> 'education'"}),
    "director": ("k.code = 'FZ-1'", {
        "another director's child in the same village": "k.code = 'FZ-2'",
        "another unit's item": "j.name = '新华区'"}),
}
CASES = [(role, what) for role, (_, others) in MATRIX.items() for what in others]


def _footprint(engine, oid: int) -> tuple:
    """What a refused action must not change: the item, its completions, requests and audit rows."""
    with Session(engine) as s:
        o = s.get(Occurrence, oid)
        return (o.done_count, o.completed_on, o.waived_at, o.due,
                s.scalar(sa.select(sa.func.count()).select_from(Completion).where(Completion.occurrence_id == oid)),
                s.scalar(sa.select(sa.func.count()).select_from(ItemRequest).where(ItemRequest.occurrence_id == oid)),
                s.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
                    AuditEntry.object_type == "occurrence", AuditEntry.object_id == str(oid))))


@pytest.fixture
def clients(world, personas):
    app = world[0]
    made = {}

    def of(role):
        if role not in made:
            p = getattr(personas, role)
            made[role] = (p.client(app), p.api(app), p)
        return made[role]
    return of


@pytest.mark.parametrize("role,what", CASES)
def test_another_units_or_departments_item_is_refused_on_every_door(world, clients, role, what):
    app, engine, _ = world
    page, api, _ = clients(role)
    own_where, others = MATRIX[role]
    with Session(engine) as s:
        own, other = _pick(s, own_where), _pick(s, others[what])
    assert own and other, (role, what)
    # their own item is served on the page and the API
    assert page.get(f"/items/{own}").status_code == 200
    assert api.get(f"/api/v1/occurrences/{own}").status_code == 200
    before = _footprint(engine, other)
    csrf = csrf_of(page, f"/items/{own}")
    doors = {
        "page": page.get(f"/items/{other}"),
        "evidence": page.get(f"/items/{other}/evidence/1"),
        "complete form": page.post(f"/items/{other}/complete", data={"count": "1", "note": "越权", "csrf": csrf}),
        "request form": page.post(f"/items/{other}/request", data={"kind": "waiver", "reason": "越权", "csrf": csrf}),
        "api item": api.get(f"/api/v1/occurrences/{other}"),
        "api completion": api.post(f"/api/v1/occurrences/{other}/completions", json={"count": 1, "note": "越权"}),
    }
    for door, r in doors.items():
        assert r.status_code in (403, 404), (role, what, door, r.status_code, r.text[:300])
        assert "Traceback" not in r.text
    with Session(engine) as s:
        o = s.get(Occurrence, other)
        listed = api.get("/api/v1/occurrences", params={"due_from": o.due.isoformat(), "due_to": o.due.isoformat(),
                                                       "limit": 1000}).json()
    assert other not in {row["id"] for row in listed}
    assert _footprint(engine, other) == before


def test_a_supervisor_reads_but_cannot_act_on_their_own_items(world, clients):
    app, engine, _ = world
    page, api, _ = clients("supervisor")
    with Session(engine) as s:
        own = _pick(s, MATRIX["supervisor"][0])
    before = _footprint(engine, own)
    assert page.get(f"/items/{own}").status_code == 200
    r = api.post(f"/api/v1/occurrences/{own}/completions", json={"count": 1})
    assert r.status_code == 403 and "只能查看" in r.json()["detail"]
    assert page.post(f"/items/{own}/complete",
                     data={"count": "1", "csrf": csrf_of(page, f"/items/{own}")}).status_code == 403
    assert _footprint(engine, own) == before


@pytest.mark.parametrize("role", ["coordinator", "supervisor"])
def test_dashboards_reports_and_report_data_of_another_area_are_refused(world, clients, role):
    page, api, p = clients(role)
    own = "新华区" if role == "coordinator" else "平顶山市"
    for other in ("卫东区", "福州市") if role == "coordinator" else ("福州市", "鼓楼区"):
        for r in (page.get("/dashboard", params={"period": "2025", "jurisdiction": other}),
                  page.get("/reports/download", params={"period": "2025Q1", "format": "html", "jurisdiction": other}),
                  api.get("/api/v1/reports/data", params={"period": "2025Q1", "jurisdiction": other})):
            assert r.status_code == 403 and "不在您的管辖范围" in r.text, (role, other, r.status_code)
    assert page.get("/dashboard", params={"period": "2025", "jurisdiction": own}).status_code == 200
    r = page.get("/reports/download", params={"period": "2025Q1", "format": "html", "jurisdiction": own})
    assert r.status_code == 200 and "督查通报" in r.text
    assert api.get("/api/v1/reports/data", params={"period": "2025Q1", "jurisdiction": own}).status_code == 200


@pytest.mark.parametrize("role", ["department", "director"])
def test_area_pages_reports_review_and_audit_are_refused_to_departments_and_directors(world, clients, role):
    page, api, _ = clients(role)
    for path in ("/dashboard", "/reports", "/reports/download?period=2025&format=html", "/requests", "/audit"):
        r = page.get(path)
        assert r.status_code == 403, (role, path, r.status_code)
    assert api.get("/api/v1/reports/data", params={"period": "2025"}).status_code == 403
    assert page.get("/inbox").status_code == 200


def test_a_coordinator_cannot_decide_another_countys_request(world, clients):
    app, engine, _ = world
    page, _, _ = clients("coordinator")
    with Session(engine) as s:
        req = s.scalar(sa.select(ItemRequest).where(ItemRequest.requested_by == "wd"))
    assert req is not None and req.status == "pending"
    assert str(req.id) not in page.get("/requests").text.split("/requests/")[0] or \
        f"/requests/{req.id}/decide" not in page.get("/requests").text
    r = page.post(f"/requests/{req.id}/decide", data={"decision": "approve", "csrf": csrf_of(page, "/requests")})
    assert r.status_code in (403, 404), r.text[:300]
    with Session(engine) as s:
        assert s.get(ItemRequest, req.id).status == "pending"
        assert s.get(Occurrence, req.occurrence_id).waived_at is None


def test_ics_feeds_answer_only_their_own_signature(world, clients, personas):
    app, engine, _ = world
    page, _, p = clients("department")
    inbox = page.get("/inbox").text
    url = re.search(r"http://testserver(/ics/\d+/[0-9a-f]+\.ics)", inbox)[1]
    assert page.get(url).status_code == 200
    anyone = TestClient(app)
    assert anyone.get(url).status_code == 200           # the secret URL is the credential
    uid, sig = re.match(r"/ics/(\d+)/([0-9a-f]+)\.ics", url).groups()
    with Session(engine) as s:
        wd = s.scalar(sa.select(UserAccount).where(UserAccount.username == "wd"))
        other = wd.id
    for forged in (f"/ics/{other}/{sig}.ics", f"/ics/{uid}/{'0' * 32}.ics", f"/ics/{uid}/{sig[:-1]}.ics",
                   f"/ics/{int(uid) + 1000}/{sig}.ics"):
        r = anyone.get(forged)
        assert r.status_code == 404 and "BEGIN:VCALENDAR" not in r.text, forged
    # another account's own feed holds that account's items, never this one's
    secret = load_secret(world[2].data_dir)
    with Session(engine) as s:
        theirs = anyone.get(f"/ics/{other}/{accounts.ics_signature(secret, s.get(UserAccount, other))}.ics")
        assert theirs.status_code == 200
        me = s.get(UserAccount, int(uid))
        mine = {f"occurrence-{i}@duban" for i in s.scalars(sa.select(Occurrence.id).where(
            Occurrence.jurisdiction_id == me.jurisdiction_id, Occurrence.party_key == me.department_key))}
    assert mine and not any(m in theirs.text for m in mine)


def test_a_tampered_completion_link_is_refused(world):
    app, engine, settings = world
    with Session(engine) as s:
        oid = _pick(s, "j.name = '新华区' AND o.party_key = 'education'")
        other = _pick(s, "j.name = '卫东区'")
        n = Notice(occurrence_id=oid, stage="remind-7", kind="remind", recipient_kind="contact",
                   recipient_id=owing_contact(s, oid), swept_on=TODAY, workdays=3)
        s.add(n)
        s.commit()
        nid = n.id
    secret = load_secret(settings.data_dir)
    token = make_token(secret, notice_id=nid, occurrence_id=oid, expires=TODAY + dt.timedelta(days=30))
    c = TestClient(app, follow_redirects=False)
    assert c.get(f"/c/{token}").status_code == 200
    payload, _, mac = token.rpartition(".")
    forged = [token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
              make_token(b"another secret" * 3, notice_id=nid, occurrence_id=other, expires=TODAY + dt.timedelta(30))]
    before = _footprint(engine, other)
    for bad in forged:
        r = c.get(f"/c/{bad}")
        assert r.status_code == 410 and "Traceback" not in r.text
        r = c.post(f"/c/{bad}", data={"count": "1", "csrf": csrf_of(c, f"/c/{token}")})
        assert r.status_code == 410
    assert _footprint(engine, other) == before


# ---------------------------------------------------------------- bodies

def _limited(world, **web):
    app, engine, settings = world
    settings = dataclasses.replace(settings, web=settings.web.model_copy(update=web))
    return create_app(settings, engine, today=lambda: TODAY)


def test_a_body_over_the_limit_is_refused_before_it_is_read(world):
    app, engine, settings = world
    assert (settings.web.max_body_bytes, settings.web.max_upload_bytes) == (1024 * 1024, 16 * 1024 * 1024)
    c = TestClient(app, follow_redirects=False)
    big = b"--a\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n" + b"x" * (2 * 1024 * 1024)
    r = c.post("/login", content=big, headers={"content-type": "multipart/form-data; boundary=a"})
    assert r.status_code == 413 and "超过 1 MB 的上限" in r.text and "<h1>内容过大</h1>" in r.text
    assert r.headers["x-frame-options"] == "DENY"

    def chunks(n):               # no Content-Length: a chunked body, counted as it arrives
        for _ in range(n):
            yield b"y" * 65536
    r = c.post("/login", content=chunks(40), headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    r = c.post("/api/v1/occurrences/1/completions", content=chunks(300), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "16 MB" in r.json()["detail"]
    r = c.post("/login", content=b"a=1", headers={"content-length": "abc"})
    assert r.status_code == 400


def test_the_limits_are_configurable_and_uploads_get_the_larger_one(world, personas):
    app = _limited(world, max_body_bytes=8192, max_upload_bytes=64 * 1024)
    engine = world[1]
    c = TestClient(app, follow_redirects=False)
    r = c.post("/login", data={"username": "x" * 9000, "password": "p"})
    assert r.status_code == 413 and "8 KB" in r.text
    api = personas.department.api(app)
    with Session(engine) as s:
        oid = _pick(s, "j.name = '新华区' AND o.party_key = 'education' AND o.due > '2025-04-10'")
    import base64
    pdf = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"
    body = {"count": 1, "evidence": {"filename": "记录.pdf", "content_base64": base64.b64encode(pdf).decode()}}
    r = api.post(f"/api/v1/occurrences/{oid}/completions", json=body)     # ≈ 27 KB: over 8 KB, under 64 KB
    assert r.status_code == 201, r.text[:300]
    body["evidence"]["content_base64"] = base64.b64encode(pdf * 4).decode()
    assert api.post(f"/api/v1/occurrences/{oid}/completions", json=body).status_code == 413


@pytest.fixture
def served(world):
    app = world[0]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(10)


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def test_a_gigabyte_post_to_login_is_refused_without_being_read(served):
    """1 GiB declared: the 413 comes back at once with not one byte of the body sent. Chunked,
    without a length: the server answers 413 after about the limit and closes."""
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=a\r\n"
                     b"Content-Length: 1073741824\r\n\r\n")
        reply = sock.recv(65536)
        assert _status(reply) == 413 and time.monotonic() - started < 2
    sent = 0
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=a\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        head = b'--a\r\nContent-Disposition: form-data; name="password"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))    # a well-formed part that never ends
        chunk = b"%x\r\n%s\r\n" % (65536, b"z" * 65536)
        reply = b""
        sock.settimeout(0.05)
        while sent < 1024 ** 3:
            try:
                sock.sendall(chunk)
                sent += 65536
            except OSError:            # the server closed after answering
                break
            try:
                reply = sock.recv(65536)
                if reply:
                    break
            except TimeoutError:
                pass
        if not reply:
            sock.settimeout(5)
            reply = sock.recv(65536)
    assert _status(reply) == 413
    assert sent < 64 * 1024 * 1024, sent      # refused after ~1 MB read (plus what the socket buffers held)
    print(f"chunked: refused after {sent / 1024 / 1024:.1f} MB sent")


# ---------------------------------------------------------------- bad input: periods and counts

BAD_PERIODS = ["9999", "0001-01-01..9999-12-31", "1999", "2101H1", "2025-01-01..2999-01-01", "9" * 200]


@pytest.mark.parametrize("period", BAD_PERIODS)
def test_periods_out_of_range_are_a_4xx_in_chinese_on_every_door(world, clients, period):
    page, api, _ = clients("coordinator")
    for r in (page.get("/dashboard", params={"period": period}),
              page.get("/reports/download", params={"period": period, "format": "pdf"}),
              api.get("/api/v1/reports/data", params={"period": period})):
        assert 400 <= r.status_code < 500, (period, r.status_code, r.text[:200])
        assert "Traceback" not in r.text
        if r.status_code == 400:
            assert "2000 年至 2100 年" in r.text or "期间过长" in r.text or "无法识别" in r.text, r.text[:300]


def test_the_cli_refuses_a_period_out_of_range(project, capsys):
    from flows.cli import main

    code = main(["report", "--period", "9999", "--format", "html"])
    err = capsys.readouterr().err
    assert code in (1, 2) and "2000 年至 2100 年" in err and "Traceback" not in err


@pytest.mark.parametrize("count", [str(2 ** 63), "0", "-1", "1001", "1e9", "9" * 5000])
def test_counts_out_of_bounds_are_refused_and_nothing_is_written(world, clients, count):
    app, engine, _ = world
    page, api, _ = clients("department")
    with Session(engine) as s:
        oid = _pick(s, "j.name = '新华区' AND o.party_key = 'education' AND o.due > '2025-04-10'")
    before = _footprint(engine, oid)
    r = page.post(f"/items/{oid}/complete", data={"count": count, "csrf": csrf_of(page, f"/items/{oid}")})
    assert r.status_code in (303, 422), r.status_code
    if r.status_code == 303:
        assert "error=" in r.headers["location"]
        assert "1 到 1000" in page.get(r.headers["location"]).text
    number = int(count) if count.lstrip("-").isdigit() and len(count) < 100 else count
    r = api.post(f"/api/v1/occurrences/{oid}/completions", json={"count": number})
    assert r.status_code == 422 and "Traceback" not in r.text
    assert _footprint(engine, oid) == before


# ---------------------------------------------------------------- headers and assets

def test_every_response_carries_the_security_headers(world, clients, personas):
    app, engine, _ = world
    page, api, p = clients("coordinator")
    with Session(engine) as s:
        oid = _pick(s, MATRIX["coordinator"][0])
    anyone = TestClient(app, follow_redirects=False)
    responses = {
        "login": anyone.get("/login"), "dashboard": page.get("/dashboard"), "item": page.get(f"/items/{oid}"),
        "missing": page.get("/items/999999999"), "api": api.get("/api/v1/me"), "api 401": anyone.get("/api/v1/me"),
        "download": page.get("/reports/download", params={"period": "2025Q1", "format": "xlsx"}),
        "413": anyone.post("/login", content=b"x" * (1024 * 1024 + 1)),
        "docs": anyone.get("/api/docs"), "openapi": anyone.get("/api/v1/openapi.json"),
        "css": anyone.get("/static/duban.css"),
    }
    for name, r in responses.items():
        for header, value in SECURITY.items():
            assert r.headers.get(header) == value, (name, header)
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        if name != "css":
            assert r.headers["cache-control"] == "no-store", name
    assert "no-store" not in responses["css"].headers.get("cache-control", "")


def test_pages_have_no_inline_script_or_style(world, clients, personas):
    app, engine, settings = world
    seen = []
    for role in ("coordinator", "department", "director"):
        page, _, _ = clients(role)
        with Session(engine) as s:
            oid = _pick(s, MATRIX[role][0])
        for path in ("/dashboard", "/inbox", f"/items/{oid}", "/requests", "/reports", "/audit", "/login"):
            r = page.get(path)
            if r.status_code == 200:
                seen.append(path)
                html = r.text
                assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
                assert "<style" not in html and " style=" not in html, path
                assert not re.search(r"\son[a-z]+=", html), path
    assert {"/dashboard", "/inbox", "/requests", "/reports", "/audit"} <= set(seen)


def test_the_api_docs_are_served_from_the_packages_own_files(world):
    c = TestClient(world[0])
    html = c.get("/api/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert "cdn" not in html.lower() and "http" not in html
    for a in assets:
        r = c.get(a)
        assert r.status_code == 200 and len(r.content) > 100, a
    assert "SwaggerUIBundle" in c.get("/static/swagger-ui/swagger-ui-bundle.js").text


@pytest.mark.slow
@pytest.mark.browser
def test_the_api_docs_and_the_dashboard_render_offline_under_the_csp_in_chromium(served, tmp_path):
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{served}"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            ctx = b.new_context()
            outside = []

            def offline(route):            # anything but the app itself: as if there were no internet
                if route.request.url.startswith(base):
                    return route.continue_()
                outside.append(route.request.url)
                return route.abort()
            ctx.route("**/*", offline)
            page = ctx.new_page()
            problems = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{base}/api/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
            assert "督办" in page.inner_text(".swagger-ui .info .title")
            page.wait_for_selector(".opblock", timeout=10_000)
            assert page.locator(".opblock").count() >= 5
            page.screenshot(path=str(tmp_path / "api-docs.png"), full_page=True)
            assert outside == [] and not [p for p in problems if "Content Security Policy" in p], problems

            page.goto(f"{base}/login")
            page.fill("#username", "mz")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            page.goto(f"{base}/dashboard?period=2025")
            assert page.inner_text("#kpi-overdue")
            colour = page.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor")
            assert colour == "rgb(139, 26, 26)"      # the stylesheet applied: /static/duban.css
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            assert not [p for p in problems if "Content Security Policy" in p], problems
        finally:
            b.close()


# ---------------------------------------------------------------- mail headers

HOSTILE_NAMES = ["x@evil.example", "王芳 <x@evil.example>", "王芳\r\nBcc: x@evil.example", "Wang, Fang",
                 "\"王芳\" <x@evil.example>, y@evil.example", "王芳\nSubject: 假通知"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_display_name_never_adds_a_recipient_or_a_header(name):
    msg = Message("digest:contact:1:2025-04-10", "wang.fang@fuzhou.example.org", name, "督办提醒", "正文", "<p>正文</p>")
    raw = build_email(msg, "督办系统 <duban@example.org>").as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["wang.fang@fuzhou.example.org"]
    assert parsed["Bcc"] is None and parsed["Cc"] is None and str(parsed["Subject"]) == "督办提醒"
    assert b"evil.example" not in raw.split(b"\r\n\r\n", 1)[0] and b"\nBcc" not in raw


def test_a_plain_name_is_kept_and_encoded():
    msg = Message("k", "wang.fang@fuzhou.example.org", "鼓楼区教育局", "督办提醒", "正文", "<p>正文</p>")
    parsed = email.message_from_bytes(build_email(msg, "督办系统 <duban@example.org>").as_bytes(),
                                      policy=email.policy.default)
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("鼓楼区教育局", "wang.fang@fuzhou.example.org")
    assert parsed["From"].addresses[0].display_name == "督办系统"


def test_one_bad_message_fails_on_its_row_and_the_batch_goes_on(engine, smtp_sink, tmp_path):
    now = dt.datetime(2025, 4, 10, 2, 0, tzinfo=dt.UTC)
    rows = [("ok-1", "a@fuzhou.example.org", "鼓楼区教育局"), ("comma", "b@fuzhou.example.org", "Wang, Fang"),
            ("crlf", "c@fuzhou.example.org", "王芳\r\nBcc: x@evil.example"), ("bad-address", "d@x.org, e@evil.example", "甲"),
            ("no-at", "not an address", None), ("ok-2", "f@fuzhou.example.org", None)]
    with Session(engine) as s, s.begin():
        for i, (key, address, name) in enumerate(rows):
            s.add(Outbox(key=key, recipient_kind="contact", recipient_id=i + 1, day=D(2025, 4, 10), channel="email",
                         address=address, recipient_name=name, subject="督办提醒", text_body="正文", html_body="<p>正文</p>",
                         items=1, next_attempt_at=now - dt.timedelta(minutes=1), created_at=now))
    report = deliver(engine, Channels(tmp_path / "outbox", "督办系统 <duban@example.org>", smtp_url=smtp_sink.url),
                     DeliverySettings(secret=b"s" * 32, base_url="http://127.0.0.1:8000"), now=now, force=True)
    with Session(engine) as s:
        status = {r.key: (r.status, r.last_error) for r in s.scalars(sa.select(Outbox))}
    assert {k for k, (st, _) in status.items() if st == "sent"} == {"ok-1", "comma", "crlf", "ok-2"}
    assert status["bad-address"][0] == status["no-at"][0] == "dead" and "收件地址无效" in status["bad-address"][1]
    assert not [k for k, (st, _) in status.items() if st == "sending"]
    assert report.sent == 4 and report.dead == 2
    received = sorted(a.addr_spec for m in smtp_sink.messages for a in m["To"].addresses)
    assert received == ["a@fuzhou.example.org", "b@fuzhou.example.org", "c@fuzhou.example.org", "f@fuzhou.example.org"]
    assert all(m["Bcc"] is None for m in smtp_sink.messages)


def test_directory_names_and_addresses_are_checked_where_they_are_entered():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "plans" / "directory.yaml").read_text(encoding="utf-8")
    good = "{name: 福州市人民政府督查室, email: ducha@fuzhou.example.org,"
    assert good in text
    for bad_name, bad_email, says in (
            ('"x@evil.example"', "ducha@fuzhou.example.org", "@"),
            ('"督查室\\r\\nBcc: x@evil.example"', "ducha@fuzhou.example.org", "换行"),
            ("福州市督查室", '"ducha@fuzhou.example.org, x@evil.example"', "不是一个邮箱地址"),
            ("福州市督查室", '"督查室 <ducha@fuzhou.example.org>"', "不是一个邮箱地址")):
        with pytest.raises(DirectoryError) as info:
            parse_directory(text.replace(good, f"{{name: {bad_name}, email: {bad_email},"), "directory.yaml")
        assert says in str(info.value) and "directory.yaml:" in str(info.value)


# ---------------------------------------------------------------- privacy

def _ledger(path, codes):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append(["编号", "乡镇（街道）", "村（社区）", "风险类别", "儿童主任", "建档日期", "结案日期", "备注"])
    for code in codes:
        sheet.append([code, "鼓东街道", "鼓东街道第一社区", "监护缺失", "张主任", "2025-03-01", None, None])
    book.save(path)
    return path


@pytest.mark.parametrize("code,refused", [("FJ-0001", False), ("DEMO-0001", False), ("FZ1", False),
                                          ("ZhangXiaoMing", True), ("WANGFANG01", True), ("LIMIN-0001", True),
                                          ("张三", True), ("zhang-san-1", True), ("FJ-0001 王", True)])
def test_case_codes_that_are_names_are_refused(project, capsys, tmp_path, code, refused):
    from flows.cli import main

    assert main(["plans", "load", "--all"]) == 0
    capsys.readouterr()
    result = main(["cases", "import", str(_ledger(tmp_path / "l.xlsx", [code]))])
    err = capsys.readouterr().err
    assert (result != 0) == refused, err
    if refused:
        assert "台账!2: 编号:" in err and "姓名" in err


def test_the_configured_case_code_pattern_is_used(project, capsys, tmp_path):
    from flows.cli import main

    config = project / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'code_pattern: "^[A-Z]{1,4}-?[0-9]{1,10}$"', 'code_pattern: "^GL[0-9]{6}$"'), encoding="utf-8")
    assert main(["plans", "load", "--all"]) == 0
    capsys.readouterr()
    assert main(["cases", "import", str(_ledger(tmp_path / "a.xlsx", ["FJ-0001"]))]) != 0
    assert "cases.code_pattern" in capsys.readouterr().err
    assert main(["cases", "import", str(_ledger(tmp_path / "b.xlsx", ["GL000123"]))]) == 0
    # a name is refused whatever the pattern allows
    config.write_text(config.read_text(encoding="utf-8").replace('"^GL[0-9]{6}$"', '"^[A-Za-z0-9]+$"'),
                      encoding="utf-8")
    assert main(["cases", "import", str(_ledger(tmp_path / "c.xlsx", ["ZhangXiaoMing"]))]) != 0
    assert "像是拼音姓名" in capsys.readouterr().err


def test_a_case_items_notice_names_the_township_never_the_village(world):
    from notifications.render import compose, item_rows

    app, engine, settings = world
    with Session(engine) as s:
        oid = _pick(s, "k.code = 'FZ-1'")
        n = Notice(occurrence_id=oid, stage="remind-7", kind="remind", recipient_kind="contact", recipient_id=1,
                   swept_on=TODAY, workdays=3, digest_id=424242)
        s.add(n)
        s.commit()
        rows = item_rows(s, [424242])[424242]
    out = compose(rows, recipient="鼓东街道第一社区儿童主任", supervisor=False, day=TODAY, secret=b"s" * 32,
                  base_url="http://127.0.0.1:8000", link_days=30)
    for body in (out.text, out.html, out.subject):
        assert "鼓东街道第一社区" not in body
    assert "FZ-1（鼓东街道）" in out.text and "鼓东街道" in out.html
    assert out.text.startswith("鼓东街道儿童主任：") and "鼓东街道儿童主任" in out.subject
    assert out.recipient == "鼓东街道儿童主任"      # and so the To header's name, which delivery takes from it


def test_report_downloads_leave_no_temporary_folder(world, clients, tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    page, _, _ = clients("coordinator")
    for fmt in ("html", "pdf", "xlsx", "docx"):
        r = page.get("/reports/download", params={"period": "2025Q1", "format": fmt})
        assert r.status_code == 200 and len(r.content) > 500, fmt
        assert "filename*=utf-8''" in r.headers["content-disposition"] and r.headers["cache-control"] == "no-store"
    assert page.get("/reports/download", params={"period": "2025Q1", "format": "exe"}).status_code == 400
    assert [p.name for p in scratch.iterdir() if p.name.startswith("duban-report-")] == []


def test_a_report_that_fails_to_render_leaves_no_temporary_folder(world, personas, tmp_path, monkeypatch):
    import tempfile

    app, engine, settings = world
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    broken = tmp_path / "模板.docx"
    broken.write_text("not a word document", encoding="utf-8")
    settings = dataclasses.replace(settings, report=settings.report.model_copy(update={"docx_template": str(broken)}))
    page = TestClient(create_app(settings, engine, today=lambda: TODAY), raise_server_exceptions=False)
    page.post("/login", data={"username": "mz", "password": PASSWORD, "csrf": csrf_of(page, "/login")})
    r = page.get("/reports/download", params={"period": "2025Q1", "format": "docx"})
    assert r.status_code == 500          # the installation's template is broken: the server's fault
    assert "服务器内部错误" in r.text and "Traceback" not in r.text     # words for a person, the headers too
    assert r.headers["content-security-policy"] and r.headers["cache-control"] == "no-store"
    assert [p.name for p in scratch.iterdir() if p.name.startswith("duban-report-")] == []


def test_a_digest_that_cannot_be_rendered_fails_on_its_row_and_the_batch_goes_on(year_2025, engine, smtp_sink,
                                                                                  tmp_path):
    now = dt.datetime(2025, 4, 10, 2, 0, tzinfo=dt.UTC)
    with Session(engine) as s, s.begin():
        oid = s.scalar(sa.select(Occurrence.id).where(Occurrence.done_count < Occurrence.required).limit(1))
        common = dict(recipient_kind="contact", day=D(2025, 4, 10), channel="email", items=1,
                      next_attempt_at=now - dt.timedelta(minutes=1), created_at=now)
        broken = Outbox(key="broken", recipient_id=1, address="a@fuzhou.example.org", recipient_name="甲", **common)
        good = Outbox(key="good", recipient_id=2, address="b@fuzhou.example.org", recipient_name="乙", subject="督办提醒",
                      text_body="正文", html_body="<p>正文</p>", **common)
        s.add_all([broken, good])
        s.flush()
        # a notice whose stage this version does not know (written by another one, or by hand)
        s.add(Notice(occurrence_id=oid, stage="future-1", kind="future", swept_on=D(2025, 4, 10), workdays=1,
                     recipient_kind="contact", recipient_id=1, digest_id=broken.id))
    report = deliver(engine, Channels(tmp_path / "outbox", "督办系统 <duban@example.org>", smtp_url=smtp_sink.url),
                     DeliverySettings(secret=b"s" * 32, base_url="http://127.0.0.1:8000"), now=now, force=True)
    with Session(engine) as s:
        status = {r.key: (r.status, r.last_error) for r in s.scalars(sa.select(Outbox))}
    assert status["good"][0] == "sent" and status["broken"][0] == "dead"
    assert "无法生成通知内容" in status["broken"][1]
    assert report.sent == 1 and report.dead == 1 and len(smtp_sink.messages) == 1
