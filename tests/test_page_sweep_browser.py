"""Every page of the web app, for each persona, in headless Chromium at a phone's size (390×844)
and a desk's (1366×768): the department clerk (jy, 新华区教育局), the coordinator (mz, 新华区民政局),
the supervisor (dc, 平顶山市督查室), and someone not signed in (the sign-in page, a notice's
completion link). On every page: no horizontal scroll, nothing sticking out to the right, no
internal code in its text; every list page states how many it holds (共 … 项). The problems of
all pages are gathered and reported at once. Full-page screenshots go to the test's folder
(``<persona>-<width>-<page>.png``), and also to the folder DUBAN_SWEEP_SHOTS names, if set, to
look at them."""
from __future__ import annotations

import datetime as dt
import importlib
import os
import pkgutil
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from notifications.links import load_secret, make_token
from storage import tasks as task_repo
from storage import workflow
from storage.tables import Jurisdiction, Notice, Occurrence
from tests.conftest import owing_contact
from tests.test_e2e_browser import TODAY, browser, site  # noqa: F401  (fixtures)
from tests.test_e2e_workpage import DESK, PHONE, _open_items, sign_in
from tests.test_workpage import INTERNAL
from web import pages as web_pages

pytestmark = [pytest.mark.slow, pytest.mark.browser]
D = dt.date

# what each list page prints about its size, and where
INBOX = [("#pager-top .list-total", r"共 [\d,]+ 项")]
TOTALS = {
    "dashboard": [("#overdue-pager .list-total", r"共 [\d,]+ 项"), ("#flagged-pager .list-total", r"共 [\d,]+ 条")],
    "inbox-open": INBOX, "inbox-done": INBOX,
    "review": [("#total", r"待审核共 \d+ 项")],
    "requests": [("#total", r"待审核共 \d+ 项")], "requests-all": [("#total", r"全部申请共 \d+ 项")],
    "audit": [("#audit-pager .list-total", r"共 [\d,]+ 条")],
    "accounts": [("#total", r"共 [\d,]+ 个账号")],
    "contacts": [("#total", r"共 [\d,]+ 位联系人")],
    "tasks": [("#total", r"共 \d+ 项")],
}

# the GET routes of web/pages that are not pages: files to download, and the home's redirect
NOT_PAGES = {"/contacts.xlsx", "/reports/download", "/items/{occurrence_id}/evidence/{completion_id}", "/"}

# the elements that stick out past the right edge of the window (inside a scrolling box they
# scroll, as a wide table does in its card: those are not counted)
OUTSIDE = """() => {
  const width = document.documentElement.clientWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || (r.right <= width + 1 && r.left >= -1)) continue;
    let up = el.parentElement, inside = false;
    for (; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') { inside = true; break; }
    }
    if (inside || getComputedStyle(el).visibility === 'hidden') continue;
    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
             (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
             ` (${Math.round(r.left)}–${Math.round(r.right)} px)`);
  }
  return out.slice(0, 6);
}"""


def _items(engine, settings) -> dict[str, int]:
    """Items in each state the pages show: the department's open one, one awaiting review
    (待审核), one accepted, one with a pending extension request and one whose request was
    decided (four of them from ad-hoc assignments, 交办, to 新华区教育局); an overdue item of the
    county's area and one completed there with a claimed day long before it was entered (补登待核)."""
    jy, mz = workflow.Actor("jy", "cli"), workflow.Actor("mz", "cli")
    tasks = (("开展暑期儿童防溺水专项排查", "批示"), ("落实留守儿童关爱保护会议部署", "会议"),
             ("报送困境儿童助学情况", "来文"), ("核查事实无人抚养儿童入学情况", "督查"))
    with Session(engine) as s, s.begin():
        for title, source in tasks:
            task_repo.assign(s, mz, title=title, departments=["education"], jurisdiction="新华区", due=D(2025, 6, 30),
                             source=source, text="于6月底前完成并报送情况", today=TODAY, calendar=settings.calendar())
    open_, asked, decided, submitted, done = _open_items(engine, 5)
    with Session(engine) as s:
        area = s.scalar(sa.select(Jurisdiction.path).where(Jurisdiction.name == "新华区"))
        overdue, flagged = s.scalars(
            sa.select(Occurrence.id).join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
            .where(Jurisdiction.path.like(area + "%"), Occurrence.done_count == 0, Occurrence.waived_at.is_(None),
                   Occurrence.due < TODAY)
            .order_by(Jurisdiction.path, Occurrence.id).limit(2)).all()
    setting = workflow.Setting(settings.calendar(), settings.data_dir, TODAY, settings.completion_grace_days)
    with Session(engine) as s, s.begin():
        for oid in (submitted, done):
            workflow.complete(s, oid, by=jy, count=1, done_on=TODAY, setting=setting, note="已召开专题会议部署")
        workflow.accept(s, [done], by=mz, note="材料齐全")
        late = s.get(Occurrence, flagged)
        workflow.complete(s, flagged, by=workflow.Actor("张主任", "cli"), count=late.required,
                          done_on=late.due - dt.timedelta(days=1),
                          setting=setting, note="补登：已于截止前办理")
        workflow.request(s, asked, by=jy, kind="extension", reason="汛期入户困难", today=TODAY,
                         new_due=D(2025, 7, 31))
        r = workflow.request(s, decided, by=jy, kind="extension", reason="等待上级文件", today=TODAY,
                             new_due=D(2025, 8, 29))
        workflow.decide_many(s, [r.id], by=mz, approve=True, note="同意延期")
    return {"open": open_, "asked": asked, "submitted": submitted, "done": done, "overdue": overdue,
            "flagged": flagged}


def _link(engine, settings, oid: int, kind: str = "c") -> str:
    """A notice's completion link (/c/…) or view link (/v/…) for the item, as a mail gives it."""
    with Session(engine) as s, s.begin():
        notice = Notice(occurrence_id=oid, stage="remind-7", kind="remind", swept_on=TODAY, workdays=7,
                        recipient_kind="contact", recipient_id=owing_contact(s, oid))
        s.add(notice)
        s.flush()
        nid = notice.id
    return f"/{kind}/" + make_token(load_secret(settings.data_dir), notice_id=nid, occurrence_id=oid,
                                    expires=D(2025, 5, 10))


def _page_routes():
    """Every GET route of the modules in web/pages."""
    for info in pkgutil.iter_modules(web_pages.__path__):
        router = getattr(importlib.import_module(f"web.pages.{info.name}"), "router", None)
        for route in getattr(router, "routes", ()):
            if "GET" in (getattr(route, "methods", None) or ()):
                yield route


def _inspect(page, label: str, shot, totals=(), status: int = 200, response=None) -> list[str]:
    """What is wrong with the page now open, in words (empty: nothing); a full-page screenshot."""
    problems = []
    page.screenshot(path=str(shot), full_page=True)
    if response is not None and response.status != status:
        problems.append(f"{label}: HTTP {response.status}, expected {status}")
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{label}: {scroll} px wide at {width} (horizontal scroll)")
    outside = page.evaluate(OUTSIDE)
    if outside:
        problems.append(f"{label}: past the right edge: {', '.join(outside)}")
    found = INTERNAL.search(page.inner_text("body"))
    if found:
        problems.append(f"{label}: internal code {found.group(0)!r} in the page")
    for selector, pattern in totals:
        where = page.locator(selector)
        if not where.count() or not where.first.is_visible():
            problems.append(f"{label}: no visible total ({selector})")
        elif not re.search(pattern, where.first.inner_text()):
            problems.append(f"{label}: total {where.first.inner_text()!r} does not match {pattern!r}")
    return problems


def test_every_page_for_every_persona_on_a_phone_and_at_a_desk(site, browser, personas, tmp_path):  # noqa: F811
    base, engine, settings = site
    items = _items(engine, settings)
    link, view = _link(engine, settings, items["open"]), _link(engine, settings, items["overdue"], "v")
    missing = 2**40
    item_pages = {f"item-{state}": f"/items/{oid}" for state, oid in items.items()}
    pages = {
        "jy": {"inbox-open": "/inbox", "inbox-done": "/inbox?show=done",
               **{k: v for k, v in item_pages.items() if k not in ("item-overdue", "item-flagged")},
               "item-missing": f"/items/{missing}", "dashboard-refused": "/dashboard"},
        "mz": {"dashboard": "/dashboard", "inbox-open": "/inbox", "inbox-done": "/inbox?show=done", **item_pages,
               "review": "/review", "requests": "/requests", "requests-all": "/requests?show=all",
               "reports": "/reports", "tasks": "/tasks", "audit": "/audit", "accounts": "/accounts",
               "account": f"/accounts/{personas.department.user_id}", "contacts": "/contacts",
               "contact": None, "contact-new": "/contacts/new", "item-missing": f"/items/{missing}"},
        "dc": {"dashboard": "/dashboard", "reports": "/reports", "item-open": item_pages["item-open"],
               "item-done": item_pages["item-done"], "item-missing": f"/items/{missing}", "tasks-refused": "/tasks"},
        "anonymous": {"signin": "/login", "link": link, "link-view": view, "link-broken": "/c/not-a-token"},
    }
    expected = {"item-missing": 404, "dashboard-refused": 403, "tasks-refused": 403, "link-broken": 410}
    problems: list[str] = []
    visited: set[str] = set()
    for viewport in (PHONE, DESK):
        size = viewport["width"]
        phone = size < 600
        for who, wanted in pages.items():
            context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, locale="zh-CN")
            page = context.new_page()
            if who != "anonymous":
                sign_in(page, base, who)
            for name, path in wanted.items():
                if name == "contact":       # the first contact the list links to
                    page.goto(f"{base}/contacts")
                    path = page.locator("#contacts a.act").first.get_attribute("href")
                response = page.goto(base + path)
                page.wait_for_load_state()
                label = f"{who} {size} {name} ({path[:40]})"
                problems += _inspect(page, label, tmp_path / f"{who}-{size}-{name}.png", TOTALS.get(name, ()),
                                     expected.get(name, 200), response)
                visited.add(urlsplit(path).path)
            context.close()
    # a page added to web/pages is swept too: this test names it until it is
    routes = [r for r in _page_routes() if r.path not in NOT_PAGES]
    assert len(routes) >= 15
    assert not [r.path for r in routes if not any(r.path_regex.match(v) for v in visited)]
    if os.environ.get("DUBAN_SWEEP_SHOTS"):
        folder = Path(os.environ["DUBAN_SWEEP_SHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        for shot in tmp_path.glob("*.png"):
            shutil.copy(shot, folder / shot.name)
    assert not problems, "\n".join(problems)
