"""The work pages in headless Chromium at a phone's size (390×844) and a desk's (1366×768), each
persona's day: a department on a phone goes from its inbox to an item and completes it with a
photo; a children's director opens the completion link of a mail really delivered over SMTP; the
coordinator decides requests in bulk and sees the confirmation, and accepts and returns from the
item page. Every page: no horizontal scroll on the phone, no internal code in its text.
Screenshots go to the test's folder."""
from __future__ import annotations

import datetime as dt
import re
import struct
import zlib

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from notifications import service as notices
from storage import workflow
from storage.tables import Completion, ItemRequest, Jurisdiction, Occurrence
from tests.conftest import PASSWORD
from tests.test_e2e_browser import CHROMIUM, TODAY, browser, site  # noqa: F401  (fixtures)
from tests.test_workpage import INTERNAL

pytestmark = [pytest.mark.slow, pytest.mark.browser]
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 768}


def png(width: int = 4, height: int = 4) -> bytes:
    """A small real PNG (a photo stands in for evidence)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\xc0\x40\x40" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def sign_in(page, base, user):
    page.goto(f"{base}/")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def check(page, shot=None):
    """No horizontal scroll at the page's width, no internal code in its text; a screenshot."""
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url}: {scroll} px wide at {width}"
    text = page.inner_text("body")
    found = INTERNAL.search(text)
    assert not found, f"{page.url}: {found.group(0)!r} in the page"
    if shot:
        page.screenshot(path=str(shot), full_page=True)


def _open_items(engine, n: int, party: str | None = "education") -> list[int]:
    with Session(engine) as s:
        unit = s.scalar(sa.select(Jurisdiction.id).where(Jurisdiction.name == "新华区"))
        q = sa.select(Occurrence.id).where(
            Occurrence.jurisdiction_id == unit, Occurrence.required == 1,
            Occurrence.done_count == 0, Occurrence.period_start <= TODAY, Occurrence.due > TODAY)
        if party:
            q = q.where(Occurrence.party_key == party)
        found = list(s.scalars(q.order_by(Occurrence.due, Occurrence.id).limit(n)))
    assert len(found) == n
    return found


def test_a_department_on_a_phone_completes_an_item_with_a_photo(site, browser, tmp_path):  # noqa: F811
    base, engine, _ = site
    page = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, base, "jy")
    page.screenshot(path=str(tmp_path / "1-inbox-390.png"), full_page=True)   # the inbox is another page's work
    oid = _open_items(engine, 1)[0]
    page.locator(f"a[href^='/items/{oid}?back=']").first.click()
    page.wait_for_load_state()
    check(page, tmp_path / "2-item-390.png")
    # the action first: the form is above the item's facts and its history on a phone
    form = page.locator("#complete-form").bounding_box()
    assert form["y"] < page.locator("#facts").bounding_box()["y"] < page.locator("#history").bounding_box()["y"]
    submit = page.locator("#complete-form button[type=submit]").bounding_box()
    assert submit["height"] >= 44 and submit["width"] >= 300          # a thumb's target
    # a file that is not what its name says is refused: the note and the date stay
    page.fill("#note", "已入户走访，了解就学情况")
    page.fill("#done_on", "2025-04-09")
    page.set_input_files("#upload", files=[{"name": "走访.png", "mimeType": "image/png", "buffer": b"not a png"}])
    page.click("#complete-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#flash").get_attribute("class") == "flash err"
    assert page.input_value("#note") == "已入户走访，了解就学情况" and page.input_value("#done_on") == "2025-04-09"
    check(page, tmp_path / "3-item-refused-390.png")
    page.set_input_files("#upload", files=[{"name": "走访.png", "mimeType": "image/png", "buffer": png()}])
    page.click("#complete-form button[type=submit]")
    page.wait_for_load_state()
    assert page.inner_text("#flash") == "已登记办理情况"
    assert page.inner_text("#status") == "待审核"
    timeline = page.inner_text("#timeline")
    assert "登记办理 1 次（办理日期 2025-04-09）" in timeline and "已入户走访，了解就学情况" in timeline
    assert page.locator("#timeline a", has_text="下载佐证材料").count() == 1
    check(page, tmp_path / "4-item-submitted-390.png")
    with Session(engine) as s:
        c = s.scalar(sa.select(Completion).where(Completion.occurrence_id == oid))
        assert c.evidence_path and c.done_on == dt.date(2025, 4, 9)


def test_a_director_completes_from_a_delivered_mail_on_a_phone(site, browser, smtp_sink, monkeypatch, tmp_path):  # noqa: F811
    base, engine, settings = site
    monkeypatch.setenv("DUBAN_SMTP_URL", smtp_sink.url)
    day = dt.date(2025, 4, 28)
    notices.run_sweep(engine, settings, day)
    notices.run_deliver(engine, settings, now=dt.datetime.combine(day, dt.time(2, 0), dt.UTC), force=True)
    mails = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec.startswith("children_director@")]
    assert mails, [m["To"] for m in smtp_sink.messages]
    mail = mails[0]
    html = mail.get_body(("html",)).get_content()
    # the mail itself on a phone: one column, no wider than 600 px, no sideways scrolling
    page = browser.new_page(viewport=PHONE, is_mobile=True)
    page.set_content(html)
    assert page.locator("meta[name=viewport]").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "5-mail-390.png"), full_page=True)
    desk = browser.new_page(viewport=DESK)
    desk.set_content(html)
    assert desk.evaluate("document.querySelector('table.sheet').getBoundingClientRect().width") <= 600
    desk.screenshot(path=str(tmp_path / "5-mail-1366.png"), full_page=True)
    # the link as the mail gives it, on this test's server
    link = re.search(r'href="http://127\.0\.0\.1:8000(/c/[\w.-]+)"', html).group(1)
    page.goto(base + link)
    check(page, tmp_path / "6-link-390.png")
    for field in ("#name", "#done_on", "#upload", "#note"):
        assert page.locator(field).count() == 1, field
    page.fill("#name", "张主任")
    page.fill("#note", "已入户探访")
    page.set_input_files("#upload", files=[{"name": "探访.png", "mimeType": "image/png", "buffer": png()}])
    page.click("#link-form button[type=submit]")
    page.wait_for_load_state()
    assert "已登记" in page.inner_text("h1")
    check(page, tmp_path / "7-link-done-390.png")
    page.goto(base + link)
    assert "已使用过" in page.inner_text("body") and page.locator("#link-form").count() == 0


def test_the_coordinator_decides_requests_in_bulk_and_reviews_on_the_item_page(site, browser, tmp_path):  # noqa: F811
    base, engine, settings = site
    *asked, done_a, done_b = _open_items(engine, 6, party=None)
    with Session(engine) as s, s.begin():
        for oid in asked[:3]:
            workflow.request(s, oid, by=workflow.Actor("jy", "cli"), kind="extension", reason="汛期入户困难",
                             today=TODAY, new_due=dt.date(2025, 7, 31))
        for oid in (done_a, done_b):
            workflow.complete(s, oid, by=workflow.Actor("民政局", "cli"), count=1, done_on=TODAY,
                              setting=workflow.Setting(settings.calendar(), settings.data_dir, TODAY))
    for viewport, size in ((DESK, "1366"), (PHONE, "390")):
        page = browser.new_page(viewport=viewport)
        sign_in(page, base, "mz")
        page.goto(f"{base}/requests")
        check(page, tmp_path / f"8-requests-{size}.png")
        page.goto(f"{base}/review")
        check(page, tmp_path / f"9-review-{size}.png")
    page = browser.new_page(viewport=DESK)
    sign_in(page, base, "mz")
    page.goto(f"{base}/requests")
    assert "待审核共 3 项" in page.inner_text("#total")
    with Session(engine) as s:
        ids = list(s.scalars(sa.select(ItemRequest.id).where(ItemRequest.occurrence_id.in_(asked[:2]))))
    for i in ids:
        page.check(f"#pick-{i}")
    page.fill("#note", "同意延期")
    page.click("#approve")
    page.wait_for_load_state()
    flash = page.inner_text("#flash")
    assert flash.startswith("已批准 2 项申请：延期至 2025-07-31·") and "（新华区" in flash
    assert "待审核共 1 项" in page.inner_text("#total")
    check(page, tmp_path / "10-requests-decided-1366.png")
    page.goto(f"{base}/items/{asked[0]}")
    assert "批准延期申请" in page.inner_text("#timeline") and "审核意见：同意延期" in page.inner_text("#timeline")
    check(page, tmp_path / "11-item-after-decision-1366.png")
    # the work page at a desk: two columns, the actions beside the facts
    assert page.locator(".work-side").bounding_box()["x"] > page.locator(".work-main").bounding_box()["x"] + 300
    # accept one and return the other from their item pages, on a phone
    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(phone, base, "mz")
    phone.goto(f"{base}/review")
    first, second = [int(x) for x in phone.locator("#queue tr[data-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)")[:2]]
    phone.goto(f"{base}/items/{first}")
    check(phone, tmp_path / "12-item-review-390.png")
    phone.fill("#accept-note", "材料齐全")
    phone.click("#accept-form button[type=submit]")
    phone.wait_for_load_state()
    assert phone.inner_text("#flash") == "已审核通过" and phone.inner_text("#status") == "按期办结"
    assert "审核通过" in phone.inner_text("#timeline") and "材料齐全" in phone.inner_text("#timeline")
    phone.goto(f"{base}/items/{second}")
    phone.fill("#return-reason", "佐证材料不全")
    phone.click("#return-form button[type=submit]")
    phone.wait_for_load_state()
    assert phone.inner_text("#flash").startswith("已退回") and "退回理由：佐证材料不全" in phone.inner_text("#timeline")
    check(phone, tmp_path / "13-item-returned-390.png")
    # 延期 from the item page, on the phone
    phone.goto(f"{base}/items/{asked[3]}")
    phone.click("#extend summary")
    phone.fill("#extend-due", "2025-08-29")
    phone.fill("#extend-reason", "等待上级文件")
    phone.click("#extend-form button[type=submit]")
    phone.wait_for_load_state()
    assert phone.inner_text("#flash") == "已延期：截止日期改为 2025-08-29" and phone.inner_text("#due") == "2025-08-29"
    check(phone, tmp_path / "14-item-extended-390.png")


def test_a_coordinator_works_the_review_queue_page_by_page_on_a_phone(site, browser, tmp_path):  # noqa: F811
    """A queue longer than a page: stated and paged; on a phone the bulk bar (全选本页, 已选 N 项,
    the button) stays on screen; an item opened from page 2 goes 返回 to page 2; the export holds
    every row of the queue, not the page."""
    base, engine, settings = site
    from storage import tasks

    setting = workflow.Setting(settings.calendar(), settings.data_dir, TODAY)
    with Session(engine) as s, s.begin():      # 25 assignments to 新华区教育局, each reported done
        for n in range(25):
            made = tasks.assign(s, workflow.Actor("民政局", "cli"), title=f"专项排查第{n + 1}批",
                                departments="education", jurisdiction="新华区", due=dt.date(2025, 5, 30),
                                today=TODAY, calendar=settings.calendar())
            s.flush()
            for oid in s.scalars(sa.select(Occurrence.id).where(Occurrence.plan_id == made.plan_id)):
                workflow.complete(s, oid, by=workflow.Actor("jy", "cli"), count=1, done_on=TODAY, setting=setting)
    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(phone, base, "mz")
    phone.goto(f"{base}/review?size=20")
    summary = phone.inner_text("#pager-top")
    total = int(re.search(r"共 (\d+) 项", summary)[1])
    assert total >= 25 and "第 1–20 项" in summary and "共 2 页" in summary
    check(phone, tmp_path / "15-review-page1-390.png")
    phone.screenshot(path=str(tmp_path / "15a-review-top-390.png"))
    phone.evaluate("window.scrollTo(0, 1500)")           # among the cards: the bar stays on the screen
    bar = phone.locator(".bulk").bounding_box()
    phone.screenshot(path=str(tmp_path / "15b-review-scrolled-390.png"))
    assert abs(bar["y"] + bar["height"] - PHONE["height"]) <= 1 and bar["height"] < PHONE["height"] / 4
    phone.check(".bulk .pick-all")
    assert phone.inner_text(".bulk .picked") == "已选 20 项"
    assert phone.locator("#queue input[name=id]:checked").count() == 20
    phone.uncheck("#queue input[name=id] >> nth=3")
    assert phone.inner_text(".bulk .picked") == "已选 19 项" and not phone.is_checked(".bulk .pick-all")
    # page 2, an item, and back to page 2
    phone.click("#pager-top a[rel=next]")
    phone.wait_for_load_state()
    assert "page=2" in phone.url and f"第 21–{total} 项" in phone.inner_text("#pager-top")
    on_page_two = phone.locator("#queue tr[data-id]").first.get_attribute("data-id")
    phone.locator("#queue tr[data-id] td.title a").first.click()
    phone.wait_for_load_state()
    assert phone.inner_text("#back") == "← 返回办结审核"
    phone.fill("#accept-note", "材料齐全")               # the page's own form: 返回 survives it
    phone.click("#accept-form button[type=submit]")
    phone.wait_for_load_state()
    assert phone.inner_text("#flash") == "已审核通过" and phone.inner_text("#back") == "← 返回办结审核"
    check(phone, tmp_path / "16-item-from-page2-390.png")
    phone.click("#back")
    phone.wait_for_load_state()
    assert phone.url.endswith("/review?size=20&page=2")
    assert on_page_two not in phone.locator("#queue tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    # the export: every row of the queue (both pages), whatever page is shown
    r = phone.request.get(f"{base}/review?size=20&page=2&export=xlsx")
    import io

    import openpyxl
    sheet = openpyxl.load_workbook(io.BytesIO(r.body())).active
    assert sheet.max_row - 1 == total - 1
    # a whole page accepted from the bar
    phone.check(".bulk .pick-all")
    picked = int(phone.inner_text(".bulk .picked strong"))
    phone.click("#accept-selected")
    phone.wait_for_load_state()
    assert phone.inner_text("#flash") == f"已审核通过 {picked} 项"
    check(phone, tmp_path / "17-review-accepted-390.png")
