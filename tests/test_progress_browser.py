"""The item page's 进度反馈 section in headless Chromium: the 教育局 (jy) reports progress on a long
assigned task on a phone (390×844) and the coordinator (mz) reads it on a desktop (1366×768); no
horizontal scroll. Screenshots go to the test's folder (DUBAN_SHOTS, when set, as well)."""
from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from storage import tasks, workflow
from storage.tables import Occurrence
from tests.test_e2e_browser import browser, sign_in, site  # noqa: F401  (fixtures)

D = dt.date
pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def test_progress_on_a_phone_and_on_a_desktop(site, browser, tmp_path):  # noqa: F811
    base, engine, settings = site
    with Session(engine) as s, s.begin():
        done = tasks.assign(s, workflow.Actor("operator", "cli"), title="校园周边安全隐患专项整治", departments="education",
                            jurisdiction="新华区", due=D(2025, 12, 31), today=D(2025, 2, 20),
                            calendar=settings.calendar())
    with Session(engine) as s:
        oid = s.scalar(sa.select(Occurrence.id).where(Occurrence.plan_id == done.plan_id))
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, base, "jy")
    phone.goto(f"{base}/items/{oid}")
    assert "尚无进度反馈" in phone.inner_text("#progress-feedback")
    phone.fill("#progress-percent", "45")
    phone.fill("#progress-done", "已完成全区 8 所学校周边排查，整改隐患 5 处")
    phone.fill("#progress-difficulties", "部分民办学校周边道路归属不清")
    phone.fill("#progress-next", "5月底前完成剩余学校排查")
    phone.click("#progress-submit")
    phone.wait_for_load_state()
    assert phone.inner_text("#flash") == "已报送进度反馈"
    assert "45%" in phone.inner_text("#progress-latest")
    _no_sideways_scroll(phone)
    phone.locator("#progress-feedback").screenshot(path=str(tmp_path / "progress-390.png"))
    phone.screenshot(path=str(tmp_path / "progress-390-page.png"), full_page=True)
    # a lower percent is refused on the page with the rule's words
    phone.fill("#progress-percent", "30")     # the field's min is the last percent: submit past it
    phone.evaluate("document.getElementById('progress-form').noValidate = true")
    phone.fill("#progress-done", "x")
    phone.click("#progress-submit")
    phone.wait_for_load_state()
    assert "进度不能倒退" in phone.inner_text("#flash")
    desk = browser.new_page(viewport={"width": 1366, "height": 768})
    sign_in(desk, base, "mz")
    desk.goto(f"{base}/items/{oid}")
    text = desk.inner_text("#progress-reports")
    assert "45%" in text and "部分民办学校周边道路归属不清" in text and "jy·网页" in text
    _no_sideways_scroll(desk)
    desk.locator("#progress-feedback").screenshot(path=str(tmp_path / "progress-1366.png"))
    if os.environ.get("DUBAN_SHOTS"):
        for p in tmp_path.glob("progress-*.png"):
            shutil.copy(p, os.environ["DUBAN_SHOTS"])
