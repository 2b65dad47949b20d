"""The pages touched by small fixes, in headless Chromium at a phone's size (390×844) and a desk's
(1366×768): the inbox's calendar subscription (复制地址 copies the address), the item page's
progress form, the audit trail, the account form, the dashboard's scores card and the reports
page. Each: no horizontal scroll on the phone, no internal code in its text; the screenshots go to
the test's folder (and to $DUBAN_SHOTS when set, to look at)."""
from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from storage import accounts, tasks, workflow
from storage.tables import Jurisdiction, Occurrence
from tests.conftest import PASSWORD
from tests.test_e2e_browser import TODAY, browser, site  # noqa: F401  (fixtures)
from tests.test_e2e_workpage import DESK, PHONE, check, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SIZES = {"390": PHONE, "1366": DESK}


def shoot(page, folder: Path, name: str) -> None:
    check(page, folder / f"{name}.png")
    if os.environ.get("DUBAN_SHOTS"):
        shutil.copy(folder / f"{name}.png", Path(os.environ["DUBAN_SHOTS"]) / f"{name}.png")


@pytest.mark.parametrize("size", SIZES)
def test_the_calendar_subscription_copies_its_address(site, browser, tmp_path, size):  # noqa: F811
    base, _, _ = site
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "390", has_touch=size == "390")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    sign_in(page, base, "jy")
    page.goto(f"{base}/inbox")
    box = page.locator("#ics-box")
    assert "订阅到手机日历" in box.inner_text()
    button = page.locator("#ics-copy")
    assert button.is_visible() and button.inner_text() == "复制地址"
    address = page.input_value("#ics")
    assert address.startswith(base + "/ics/") and address.endswith(".ics")
    box.scroll_into_view_if_needed()
    button.click()
    page.wait_for_selector("#ics-copied:not(:empty)")
    assert page.inner_text("#ics-copied") == "地址已复制，可以粘贴到手机日历中。"
    assert page.evaluate("navigator.clipboard.readText()") == address
    height = button.bounding_box()["height"]
    assert height >= 44                                         # a thumb's target
    shoot(page, tmp_path, f"inbox-ics-{size}")
    box.screenshot(path=str(tmp_path / f"inbox-ics-box-{size}.png"))
    if os.environ.get("DUBAN_SHOTS"):
        shutil.copy(tmp_path / f"inbox-ics-box-{size}.png", Path(os.environ["DUBAN_SHOTS"]))
    context.close()


@pytest.mark.parametrize("size", SIZES)
def test_the_item_page_offers_progress_only_on_a_long_item(site, browser, tmp_path, size):  # noqa: F811
    base, engine, settings = site
    with Session(engine) as s, s.begin():
        done = tasks.assign(s, workflow.Actor("operator", "cli"), title="校园周边安全隐患专项整治", departments="education",
                            jurisdiction="新华区", due=dt.date(2025, 12, 31), today=dt.date(2025, 2, 20),
                            calendar=settings.calendar())
    with Session(engine) as s:
        long_one = s.scalar(sa.select(Occurrence.id).where(Occurrence.plan_id == done.plan_id))
        rows = s.execute(sa.select(Occurrence.id, Occurrence.period_start, Occurrence.due)
                         .join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
                         .where(Jurisdiction.name == "新华区", Occurrence.required == 1, Occurrence.done_count == 0,
                                Occurrence.period_start <= TODAY, Occurrence.due > TODAY)
                         .order_by(Occurrence.due, Occurrence.id)).all()
    short = next(i for i, start, due in rows if (due - start).days < 100)
    page = browser.new_page(viewport=SIZES[size], is_mobile=size == "390", has_touch=size == "390")
    sign_in(page, base, "mz")
    page.goto(f"{base}/items/{short}")
    assert page.locator("#complete-form").count() == 1 and page.locator("#progress-feedback").count() == 0
    shoot(page, tmp_path, f"item-short-{size}")
    page.goto(f"{base}/items/{long_one}")
    assert "每月25日" in page.inner_text("#progress-feedback") and page.locator("#progress-form").is_visible()
    shoot(page, tmp_path, f"item-long-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_the_audit_reads_as_sentences(site, browser, tmp_path, size):  # noqa: F811
    base, engine, settings = site
    with Session(engine) as s, s.begin():
        accounts.add_user(s, username="mzk", password=PASSWORD, role="department", jurisdiction="新华区",
                          department="civil_affairs", actor="demo")
        oid = s.scalar(sa.select(Occurrence.id).join(Jurisdiction, Jurisdiction.id == Occurrence.jurisdiction_id)
                       .where(Jurisdiction.name == "新华区", Occurrence.party_key == "civil_affairs",
                              Occurrence.required == 1, Occurrence.done_count == 0, Occurrence.period_start <= TODAY)
                       .order_by(Occurrence.due, Occurrence.id).limit(1))
        workflow.complete(s, oid, by=workflow.Actor("演示部门", "demo"), count=1, done_on=TODAY,
                          note="已入户走访（含 3 户（留守））",
                          setting=workflow.Setting(settings.calendar(), settings.data_dir, TODAY))
        workflow.accept(s, [oid], by=workflow.Actor("演示协调员", "demo"), note="材料齐全（照片 2 张）")
    page = browser.new_page(viewport=SIZES[size], is_mobile=size == "390", has_touch=size == "390")
    sign_in(page, base, "mz")
    page.goto(f"{base}/audit")
    text = page.inner_text("#audit")
    assert "演示数据新增账号 mzk（责任部门，新华区、民政部门）" in text
    assert "（待审核 → 已办结，办结日期 2025-04-10）（意见：材料齐全，照片 2 张）" in text
    assert "demo" not in text
    shoot(page, tmp_path, f"audit-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_the_account_form_says_the_unit_list_is_cut(site, browser, tmp_path, size, monkeypatch):  # noqa: F811
    from web.pages import admin

    base, _, _ = site
    monkeypatch.setattr(admin, "UNIT_CHOICES", 3)
    page = browser.new_page(viewport=SIZES[size], is_mobile=size == "390", has_touch=size == "390")
    sign_in(page, base, "mz")
    page.goto(f"{base}/accounts")
    page.click("#new-account summary")
    assert "下拉列表只列出前 3 个地区" in page.inner_text("#units-note")
    assert page.locator("#departments option[value='教育部门']").count() == 1
    shoot(page, tmp_path, f"accounts-form-{size}")


@pytest.mark.parametrize("size", SIZES)
def test_the_dashboard_scores_card(site, browser, tmp_path, size):  # noqa: F811
    base, _, _ = site
    page = browser.new_page(viewport=SIZES[size], is_mobile=size == "390", has_touch=size == "390")
    sign_in(page, base, "mz")
    page.goto(f"{base}/dashboard?period=2025Q1")
    card = page.locator("#scores")
    assert "考核评分（部门）" in card.inner_text() and card.locator("td.score").count() >= 1
    shoot(page, tmp_path, f"dashboard-{size}")
    card.screenshot(path=str(tmp_path / f"dashboard-scores-{size}.png"))
    if os.environ.get("DUBAN_SHOTS"):
        shutil.copy(tmp_path / f"dashboard-scores-{size}.png", Path(os.environ["DUBAN_SHOTS"]))


@pytest.mark.parametrize("size", SIZES)
def test_the_reports_form_offers_the_areas_plans(site, browser, tmp_path, size):  # noqa: F811
    base, _, _ = site
    page = browser.new_page(viewport=SIZES[size], is_mobile=size == "390", has_touch=size == "390")
    sign_in(page, base, "mz")
    page.goto(f"{base}/reports")
    options = page.locator("#plan option").all_inner_texts()
    assert options[0] == "全部计划" and any("平顶山市" in o for o in options[1:])
    assert not any("福建省" in o or "广东省" in o for o in options)
    shoot(page, tmp_path, f"reports-{size}")
