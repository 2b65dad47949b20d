"""Accounts and contacts in headless Chromium at a phone's size (390×844) and a desk's (1366×768):
the coordinator creates a department account (a refused form keeps what was typed), the new
person signs in; the coordinator changes a contact's phone; a department user's error page keeps
the navigation. No page scrolls sideways on the phone. Screenshots go to the test's folder."""
import re

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from storage import accounts
from storage.tables import Contact, Jurisdiction
from tests.conftest import PASSWORD
from tests.test_e2e_browser import browser, sign_in, site  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.browser]
NEW_PASSWORD = "Zhong-guo-2025"
SIZES = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1366, "height": 768}}


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


@pytest.mark.parametrize("size", SIZES)
def test_a_coordinator_makes_an_account_and_edits_a_contact(site, browser, tmp_path, size):  # noqa: F811
    base, engine, _ = site
    viewport = SIZES[size]
    shot = lambda page, name: page.screenshot(path=str(tmp_path / f"{size}-{name}.png"), full_page=True)  # noqa: E731

    # the sign-in page on its own: large fields, the user name kept after a wrong password
    page = browser.new_page(viewport=viewport)
    page.goto(f"{base}/login")
    shot(page, "0-login")
    no_sideways_scroll(page)
    assert "duban" not in page.inner_text("body")
    page.fill("#username", "mz")
    page.fill("#password", "not-the-password-1")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.input_value("#username") == "mz" and "用户名或密码不正确" in page.inner_text("#flash")
    shot(page, "1-login-refused")
    no_sideways_scroll(page)
    assert page.eval_on_selector("#username", "e => e.getBoundingClientRect().height") >= 40

    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{base}/accounts")
    assert "共 2 个账号" in page.inner_text("#total")
    page.click("#new-account summary")
    page.fill("#username", "wsj")
    page.fill("#display_name", "中兴路街道卫健办")
    page.select_option("#role", "department")
    page.fill("#jurisdiction", "中兴路街道")
    page.fill("#department", "卫健委")
    page.fill("#password", "short")
    page.fill("#password2", "short")
    page.click("#account-form button[type=submit]")
    page.wait_for_load_state()
    assert "密码至少 10 位" in page.inner_text("#form-error")
    assert (page.input_value("#username"), page.input_value("#department"), page.input_value("#jurisdiction")) == (
        "wsj", "卫健委", "中兴路街道")
    shot(page, "2-account-refused")
    no_sideways_scroll(page)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password2", NEW_PASSWORD)
    page.click("#account-form button[type=submit]")
    page.wait_for_load_state()
    assert "已创建账号 wsj" in page.inner_text("#flash") and "卫生健康" in page.inner_text("#facts")
    shot(page, "3-account")
    no_sideways_scroll(page)
    page.goto(f"{base}/accounts")
    shot(page, "4-accounts")
    no_sideways_scroll(page)

    # the new person signs in on a page of their own
    newcomer = browser.new_page(viewport=viewport)
    newcomer.goto(f"{base}/")
    newcomer.fill("#username", "wsj")
    newcomer.fill("#password", NEW_PASSWORD)
    newcomer.click("button[type=submit]")
    newcomer.wait_for_load_state()
    assert newcomer.url.endswith("/inbox") and "中兴路街道卫健办" in newcomer.text_content("header")
    # … and as a department, the accounts page is refused on an error page that keeps the navigation
    newcomer.goto(f"{base}/accounts")
    assert "无权访问" in newcomer.inner_text("h1") and newcomer.locator("header nav a[href='/inbox']").count() == 1
    assert newcomer.locator("#home").count() == 1
    shot(newcomer, "5-error-with-nav")
    no_sideways_scroll(newcomer)

    # the coordinator changes a contact's phone: a bad number is refused and kept, then fixed
    with Session(engine) as s:
        unit_id = s.scalar(sa.select(Jurisdiction.id).where(Jurisdiction.code == "410402"))
        office = s.scalar(sa.select(Contact.name).where(Contact.jurisdiction_id == unit_id,
                                                        Contact.department_key == "education"))
    page.goto(f"{base}/contacts")
    page.fill("#search input[type=search]", office)
    page.click("#search button")
    page.wait_for_load_state()
    shot(page, "6-contacts")
    no_sideways_scroll(page)
    page.locator("#contacts tr[data-kind=department] a.act").first.click()
    page.wait_for_load_state()
    page.fill("#mobile", "1380013")
    page.fill("#person", "王芳")
    page.click("#contact-form button[type=submit]")
    page.wait_for_load_state()
    assert "不是 11 位手机号码" in page.inner_text("#flash")
    assert (page.input_value("#mobile"), page.input_value("#person")) == ("1380013", "王芳")
    shot(page, "7-contact-refused")
    no_sideways_scroll(page)
    page.fill("#mobile", "13800138000")
    page.click("#contact-form button[type=submit]")
    page.wait_for_load_state()
    assert "已保存" in page.inner_text("#flash")
    page.click("text=← 返回通讯录")
    page.wait_for_load_state()
    assert re.search(r"q=", page.url) and "13800138000" in page.inner_text("#contacts")
    with Session(engine) as s:
        c = s.scalar(sa.select(Contact).where(Contact.jurisdiction_id == unit_id, Contact.department_key == "education"))
        assert (c.person, c.mobile) == ("王芳", "13800138000")
        assert accounts.find_user(s, "wsj").department_key == "health"
