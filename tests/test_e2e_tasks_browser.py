"""The 交办 form and the 催办 buttons in headless Chromium (as tests/test_e2e_browser.py): a
coordinator assigns a task on a phone and on a desktop, sees a refusal on the same page with
what they typed kept, and reminds a department from the item page and from the list.
Screenshots (390×844 and 1366×768) go to the test's folder, or to DUBAN_SHOTS when set."""
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from storage.tables import HandReminder, Occurrence, Plan
from tests.test_e2e_browser import TODAY, browser, sign_in, site  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}


def _shots(tmp_path) -> Path:
    folder = Path(os.environ.get("DUBAN_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("size", list(SIZES))
def test_a_coordinator_assigns_a_task_and_reminds_a_department(site, browser, tmp_path, size):  # noqa: F811
    base, engine, _ = site
    shots = _shots(tmp_path)
    page = browser.new_page(viewport=SIZES[size])
    sign_in(page, base, "mz")
    page.goto(f"{base}/tasks")
    page.fill("#title", "暑期防溺水安全专项排查")
    page.select_option("#source", "批示")
    page.fill("#text", "对辖区学校和流动儿童聚居点开展防溺水排查，逐一登记")
    page.select_option("#lead", "education")
    page.check("#co input[value=public_security]")
    page.fill("#jurisdiction", "新华区")
    page.select_option("#level", "township")   # no education bureau in townships: refused, the form keeps it all
    page.fill("#due", "2025-05-15")
    page.screenshot(path=str(shots / f"tasks-form-{size}.png"), full_page=True)
    page.click("#assign")
    page.wait_for_load_state()
    assert "在乡镇（街道）一级未设置" in page.inner_text("#flash")
    assert page.input_value("#title") == "暑期防溺水安全专项排查"
    page.screenshot(path=str(shots / f"tasks-refused-{size}.png"), full_page=True)
    assert page.input_value("#due") == "2025-05-15" and page.is_checked("#co input[value=public_security]")
    page.select_option("#level", "")
    page.click("#assign")
    page.wait_for_load_state()
    assert "生成督办事项 2 项" in page.inner_text("#flash")
    assert "暑期防溺水安全专项排查" in page.inner_text("#tasks")
    assert page.inner_text("#tasks tbody tr td:nth-child(6)") == "2"
    page.screenshot(path=str(shots / f"tasks-done-{size}.png"), full_page=True)
    with Session(engine) as s:
        plan = s.scalar(sa.select(Plan.id).where(Plan.title == "暑期防溺水安全专项排查"))
        item = s.scalar(sa.select(Occurrence.id).where(Occurrence.plan_id == plan, Occurrence.party_key == "education"))

    # 催办 from the item page
    page.goto(f"{base}/items/{item}")
    assert "交办任务" in page.inner_text("#facts")
    page.fill("#urge-note", "请于本周五前报送排查台账")
    page.click("#urge")
    page.wait_for_load_state()
    assert "已催办" in page.inner_text("#flash")
    assert "请于本周五前报送排查台账" in page.inner_text("#timeline") and "已催办 1 次" in page.inner_text("#urged")
    page.screenshot(path=str(shots / f"item-urged-{size}.png"), full_page=True)

    # 催办 from the list: tick two items
    page.goto(f"{base}/inbox")
    boxes = page.locator("input[name=item]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.screenshot(path=str(shots / f"inbox-urge-{size}.png"), full_page=False)
    page.click("#urge-selected")
    page.wait_for_load_state()
    assert "已催办 2 项" in page.inner_text("#flash")
    with Session(engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(HandReminder)) == 3
