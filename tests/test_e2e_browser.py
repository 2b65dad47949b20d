"""User journeys in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against
the web app served by uvicorn on loopback: a department user signs in, finds an item and
completes it with a note; a completion link from a notice works once and not twice; the
coordinator sees the on-time rate change. Screenshots go to the test's folder."""
import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa
import uvicorn
from sqlmodel import Session

from notifications.links import load_secret, make_token
from storage.tables import Notice, Occurrence
from tests.conftest import PASSWORD, free_port, owing_contact
from web.app import create_app

D = dt.date
TODAY = D(2025, 4, 10)
CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def site(year_2025, engine, personas):
    """The web app on 2025's items, served on loopback; signs in as the personas (jy: 新华区教育局,
    mz: 新华区民政局)."""
    settings = year_2025
    app = create_app(settings, engine, today=lambda: TODAY)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    server.install_signal_handlers = lambda: None
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", engine, settings
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def sign_in(page, base, user):
    page.goto(f"{base}/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_department_completes_an_item_and_the_coordinator_sees_the_rate_change(site, browser, tmp_path):
    base, engine, _ = site
    coordinator = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(coordinator, base, "mz")
    coordinator.goto(f"{base}/dashboard?period=2025&jurisdiction=410402")
    rate_before = coordinator.inner_text("#kpi-rate")
    coordinator.screenshot(path=str(tmp_path / "1-dashboard-before.png"), full_page=True)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, base, "jy")
    assert page.url.endswith("/inbox")
    page.screenshot(path=str(tmp_path / "2-inbox.png"), full_page=True)
    row = page.locator("tr.row-due_soon, tr.row-open").first       # an item not yet due: done on time
    oid = row.get_attribute("data-id")
    row.locator("a").first.click()
    page.wait_for_load_state()
    assert "登记办理情况" in page.content()
    page.fill("#note", "已召开流动儿童入学保障专题会议")
    page.screenshot(path=str(tmp_path / "3-item-form.png"), full_page=True)
    page.click("#complete-form button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#flash") == "已登记办理情况"
    assert "已召开流动儿童入学保障专题会议" in page.inner_text("body")
    assert page.inner_text("#status") == "待审核"                   # awaiting the coordinator's review
    page.screenshot(path=str(tmp_path / "4-item-submitted.png"), full_page=True)

    # the coordinator ticks it in the review queue and accepts: 按期办结, judged by the submission
    coordinator.goto(f"{base}/review")
    coordinator.check(f"#pick-{oid}")
    coordinator.click("#accept-form button[type=submit]")
    coordinator.wait_for_load_state()
    assert coordinator.inner_text("#flash") == "已审核通过 1 项"
    coordinator.screenshot(path=str(tmp_path / "4b-review-accepted.png"), full_page=True)
    page.reload()
    assert page.inner_text("#status") == "按期办结"

    coordinator.goto(f"{base}/dashboard?period=2025&jurisdiction=410402")
    rate_after = coordinator.inner_text("#kpi-rate")
    coordinator.screenshot(path=str(tmp_path / "5-dashboard-after.png"), full_page=True)
    assert float(rate_after.rstrip("%")) > float(rate_before.rstrip("%"))
    with Session(engine) as s:
        assert s.get(Occurrence, int(oid)).completed_on == TODAY


def test_a_completion_link_works_once_and_not_twice(site, browser, tmp_path):
    base, engine, settings = site
    with Session(engine) as s, s.begin():
        oid = s.scalar(sa.select(Occurrence.id).where(Occurrence.party_key == "education",
                                                      Occurrence.due > TODAY).order_by(Occurrence.due))
        notice = Notice(occurrence_id=oid, stage="remind-7", kind="remind", swept_on=TODAY, workdays=7,
                        recipient_kind="contact", recipient_id=owing_contact(s, oid))
        s.add(notice)
        s.flush()
        nid = notice.id
    link = f"{base}/c/" + make_token(load_secret(settings.data_dir), notice_id=nid, occurrence_id=oid,
                                     expires=D(2025, 5, 10))
    page = browser.new_page(viewport={"width": 900, "height": 800})
    page.goto(link)
    page.fill("#note", "按通知链接登记")
    page.fill("#name", "王老师")
    page.screenshot(path=str(tmp_path / "6-link-form.png"), full_page=True)
    page.click("#link-form button[type=submit]")
    page.wait_for_load_state()
    assert "已登记" in page.inner_text("h1")
    page.goto(link)
    assert "无法使用此链接" in page.inner_text("h1") and "已使用过" in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "7-link-used.png"), full_page=True)
    with Session(engine) as s:
        assert s.get(Occurrence, oid).done_count == 1

