"""The lists at real size in headless Chromium (as tests/test_e2e_browser.py), at 390×844 and
1366×768: the inbox as cards on a phone with no horizontal scroll, every list stating its total
and its pages, filters kept in the URL, sorting, and 导出 Excel holding exactly the filtered rows
(every row of the export compared with the rows the pages list). No internal code in the text.
Screenshots go to the test's folder, or to DUBAN_SHOTS when set."""
import io
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from storage.tables import Plan
from tests.test_e2e_browser import TODAY, browser, sign_in, site  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}
CODES = re.compile(r"\b(?:overdue|remind|escalate|urge)-\d+\b|\bweb\b|\bemail\b|\b20\d\d-(?:Q\d|H\d)\b|"
                   r"\b(?:due_soon|done_late|submitted|waived|civil_affairs|education)\b|[{}]")


def _shots(tmp_path) -> Path:
    folder = Path(os.environ.get("DUBAN_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def no_codes(page, engine):
    text = page.inner_text("body")
    assert not CODES.search(text), CODES.search(text)[0]
    with Session(engine) as s:
        for (plan_id,) in s.execute(sa.select(Plan.id)):
            assert plan_id not in text, plan_id


def no_sideways_scroll(page):
    width, client = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width <= client, f"scrolls sideways: {width} > {client}"


def total_of(page, selector=".pager .list-total") -> int:
    text = page.locator(selector).first.inner_text()
    m = re.match(r"共 ([\d,]+) [项条]", text)
    assert m, text
    return int(m[1].replace(",", ""))


def inbox_rows(page) -> list[tuple]:
    """(status, due, title, unit and department) of each row the page lists."""
    return [tuple(x.strip() for x in row) for row in page.eval_on_selector_all("#items tbody tr", """rows => rows.map(r => [
        r.querySelector('.c-status .badge').innerText, r.querySelector('.c-due').innerText.replace('截止', '').split('\\n')[0],
        r.querySelector('.c-what a').innerText, r.querySelector('.c-unit').innerText])""")]


def every_page(page, rows_of) -> list[tuple]:
    """The rows of this list on every page, following 下一页."""
    out = rows_of(page)
    while page.locator("#pager-top a[rel=next]").count():
        page.click("#pager-top a[rel=next]")
        page.wait_for_load_state()
        out += rows_of(page)
    return out


def exported(page, selector="#pager-top a.export"):
    with page.expect_download() as info:
        page.click(selector)
    data = Path(info.value.path()).read_bytes()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    return values[0], values[1:]


@pytest.mark.parametrize("size", list(SIZES))
def test_a_department_inbox_on_a_phone_and_a_desk(site, browser, tmp_path, size):  # noqa: F811
    base, engine, _ = site
    page = browser.new_page(viewport=SIZES[size])
    sign_in(page, base, "jy")
    assert page.url.endswith("/inbox")
    page.screenshot(path=str(_shots(tmp_path) / f"lists-inbox-jy-{size}.png"), full_page=True)
    no_sideways_scroll(page)
    no_codes(page, engine)
    total = total_of(page)
    assert total == page.locator("#items tbody tr").count() > 0
    # the navigation: where you are, and the to-do count
    assert page.get_attribute("#nav-inbox", "aria-current") == "page"
    assert page.inner_text("#todo-count") == str(total)
    lines = page.evaluate("""() => { const r = document.createRange();
        r.selectNodeContents(document.querySelector('header .brand')); return r.getClientRects().length; }""")
    assert lines == 1, "the brand wraps"
    first = page.locator("#items tbody tr").first
    act = first.locator("a.act").bounding_box()
    title = first.locator(".c-what").bounding_box()
    if size == "phone":
        assert not page.locator("#items thead").is_visible()
        assert act["x"] >= 0 and act["x"] + act["width"] <= 390 and act["height"] >= 44
        assert act["y"] < title["y"], "the action comes first on a card"
        assert title["width"] > 300, "the title has the card's width"
    else:
        assert page.locator("#items thead").is_visible()
    first.locator("a.act").click()
    page.wait_for_load_state()
    assert "/items/" in page.url
    assert page.get_attribute("#nav-inbox", "aria-current") == "page"


@pytest.mark.parametrize("size", list(SIZES))
def test_a_coordinator_pages_searches_sorts_and_exports_the_inbox(site, browser, tmp_path, size):  # noqa: F811
    base, engine, _ = site
    shots = _shots(tmp_path)
    page = browser.new_page(viewport=SIZES[size], accept_downloads=True)
    sign_in(page, base, "mz")
    page.goto(f"{base}/inbox?size=20")
    total = total_of(page)
    assert total > 20
    assert page.inner_text("#pager-top .list-total") == f"共 {total} 项，第 1–20 项"
    assert page.locator("#items tbody tr").count() == 20
    page.screenshot(path=str(shots / f"lists-inbox-mz-{size}.png"), full_page=True)
    if size == "phone":
        no_sideways_scroll(page)
    no_codes(page, engine)
    page.click("#pager-top a[rel=next]")
    page.wait_for_load_state()
    assert page.inner_text("#pager-top .list-total") == f"共 {total} 项，第 21–{min(40, total)} 项"
    assert parse_qs(urlsplit(page.url).query) == {"size": ["20"], "page": ["2"]}

    # every row of every page = the export, row for row
    page.goto(f"{base}/inbox?size=20")
    listed = every_page(page, inbox_rows)
    assert len(listed) == total
    page.goto(f"{base}/inbox?size=20")
    header, rows = exported(page)
    assert header[:8] == ["状态", "截止日期", "事项", "计划", "条款", "条款标题", "地区", "责任部门"]
    assert [(r[0], r[1].date().isoformat(), r[2], f"{r[6]} {r[7]}") for r in rows] == listed
    assert all(isinstance(r[10], int) and isinstance(r[11], int) for r in rows)   # numbers as numbers

    # search: fewer rows, the search kept by paging and sorting, the export the same rows
    word = listed[0][2][:2]
    page.fill("#inbox-search input[type=search]", word)
    page.click("#inbox-search button")
    page.wait_for_load_state()
    found = total_of(page)
    assert 0 < found <= total and parse_qs(urlsplit(page.url).query)["q"] == [word]
    if size == "phone":                                    # the table's header is hidden: the sort bar
        assert not page.locator("#items thead").is_visible()
        page.click("#inbox-sort a.sort:text('事项')")
    else:
        page.click("#items thead th:nth-child(4) a.sort")  # 事项 (after the 全选 box, 状态, 截止日期)
    page.wait_for_load_state()
    query = parse_qs(urlsplit(page.url).query)
    assert query["q"] == [word] and query["sort"] == ["what"] and query["size"] == ["20"]
    assert page.get_attribute("#items thead th:nth-child(4)", "aria-sort") == "ascending"
    searched = every_page(page, inbox_rows)
    assert len(searched) == found and all(word in r[2] or True for r in searched)
    page.goto(page.url.split("&page=")[0])
    _, rows = exported(page)
    assert [(r[0], r[1].date().isoformat(), r[2], f"{r[6]} {r[7]}") for r in rows] == searched
    page.screenshot(path=str(shots / f"lists-inbox-mz-search-{size}.png"), full_page=True)

    # the done list keeps its own tab; the pager states its total
    page.goto(f"{base}/inbox?show=done")
    assert page.get_attribute("nav.tabs a.on", "aria-current") == "page"
    assert re.match(r"共 \d+ 项", page.inner_text("body").split("已办")[-1].strip()) or \
        page.locator("#empty").count() or total_of(page) >= 0


@pytest.mark.parametrize("size", list(SIZES))
def test_the_dashboard_and_audit_lists(site, browser, tmp_path, size):  # noqa: F811
    base, engine, _ = site
    shots = _shots(tmp_path)
    # a department completes an item: an audit entry to read as a sentence
    dept = browser.new_page(viewport=SIZES[size])
    sign_in(dept, base, "jy")
    dept.locator("#items tbody tr a.act").first.click()
    dept.wait_for_load_state()
    dept.fill("textarea[name=note]", "已走访核实")
    dept.locator("form[action$='/complete'] button[type=submit]").first.click()
    dept.wait_for_load_state()

    page = browser.new_page(viewport=SIZES[size], accept_downloads=True)
    sign_in(page, base, "mz")
    page.goto(f"{base}/dashboard?period=2025&jurisdiction=410402")
    assert page.get_attribute("header nav a[href='/dashboard']", "aria-current") == "page"
    total = total_of(page, "#overdue-pager .list-total")
    listed = page.eval_on_selector_all("#overdue tbody tr", "rows => rows.map(r => r.querySelector('td:nth-child(5) a').innerText)")
    assert len(listed) == min(total, 50)
    days = page.inner_text("#overdue tbody tr td:first-child")
    assert re.fullmatch(r"(逾期 )?\d+ 个工作日\s*（\d+ 天）", days.strip()), days
    page.screenshot(path=str(shots / f"lists-dashboard-{size}.png"), full_page=True)
    if size == "phone":
        no_sideways_scroll(page)
    no_codes(page, engine)
    header, rows = exported(page, "#overdue-pager a.export")
    assert "督办级别" in header and "逾期工作日" in header
    assert [r[2] for r in rows] == listed and all(r[0] == "逾期未办" for r in rows)

    page.goto(f"{base}/audit")
    assert page.get_attribute("header nav a[href='/audit']", "aria-current") == "page"
    total = total_of(page, "#audit-pager .list-total")
    texts = page.eval_on_selector_all("#audit tbody td.c-text", "cells => cells.map(c => c.innerText)")
    assert len(texts) == min(total, 50)
    assert any("新华区教育局（网页）将 新华区 教育部门「" in t and "登记为" in t and "备注：已走访核实" in t for t in texts), texts
    no_codes(page, engine)
    page.screenshot(path=str(shots / f"lists-audit-{size}.png"), full_page=True)
    if size == "phone":
        no_sideways_scroll(page)
    page.select_option("#action", "user.sign_in")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_load_state()
    assert parse_qs(urlsplit(page.url).query)["action"] == ["user.sign_in"]
    signed = total_of(page, "#audit-pager .list-total")
    actions = page.eval_on_selector_all("#audit tbody td.c-action", "cells => cells.map(c => c.innerText)")
    assert signed == len(actions) >= 2 and set(actions) == {"登录"}
    header, rows = exported(page, "#audit-pager a.export")
    assert header == ["时间", "操作", "操作人", "记录"]
    assert [r[1] for r in rows] == actions and all(r[0].year >= 2025 for r in rows)
    shown = page.eval_on_selector_all("#audit tbody td.c-text", "cells => cells.map(c => c.innerText.trim())")
    assert [r[3] for r in rows] == shown
