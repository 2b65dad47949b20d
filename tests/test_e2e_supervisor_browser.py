"""The supervisor's day in headless Chromium: dc (平顶山市督查室) signs in on a phone, looks at the
dashboard, and takes the last quarter's report from the reports form as an Excel draft; at a desk
issues it as a PDF with its number, date and 抄送 printed. Each page:
no horizontal scroll on the phone, no internal code in its text."""
from __future__ import annotations

import io
import subprocess

import openpyxl
import pytest

from tests.test_e2e_browser import browser, site  # noqa: F401  (fixtures)
from tests.test_e2e_workpage import DESK, PHONE, check, sign_in
from tests.test_workpage import INTERNAL

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_supervisor_takes_the_quarters_report_on_a_phone_and_issues_it_at_a_desk(site, browser, tmp_path):  # noqa: F811
    base, _, _ = site
    phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True, accept_downloads=True)
    sign_in(phone, base, "dc")
    phone.goto(f"{base}/dashboard")
    check(phone, tmp_path / "1-dashboard-390.png")
    phone.goto(f"{base}/reports")
    check(phone, tmp_path / "2-reports-390.png")
    # the latest ended quarter is chosen already, named as people name it
    chosen = phone.locator("#period option:checked").inner_text()
    assert chosen == "2025年第1季度"
    phone.select_option("#format", "xlsx")
    phone.check("input[name=draft]")
    with phone.expect_download() as got:
        phone.click("#report-form button[type=submit]")
    draft = got.value
    assert draft.suggested_filename.endswith(".xlsx") and "2025" in draft.suggested_filename
    book = openpyxl.load_workbook(io.BytesIO(open(draft.path(), "rb").read()))
    assert any("考核" in name for name in book.sheetnames), book.sheetnames
    cells = [str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert cells and not any(INTERNAL.search(c) or c.startswith(("{", "[", "<", "(")) for c in cells), \
        [c for c in cells if INTERNAL.search(c) or c.startswith(("{", "[", "<", "("))][:5]
    # at a desk: issued with a number, a date and 抄送, as a PDF
    desk = browser.new_page(viewport=DESK, accept_downloads=True)
    sign_in(desk, base, "dc")
    desk.goto(f"{base}/reports")
    desk.select_option("#format", "pdf")
    desk.fill("#issue_no", "7")
    desk.fill("#issued_on", "2025-04-10")
    desk.fill("#cc", "市委办、市政府办")
    check(desk, tmp_path / "3-reports-1366.png")
    with desk.expect_download() as got:
        desk.click("#report-form button[type=submit]")
    pdf = got.value.path()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    squeezed = "".join(text.split())
    assert "第7期" in squeezed and "市委办" in squeezed and "2025年第1季度" in squeezed, squeezed[:400]
    desk.goto(f"{base}/dashboard")
    check(desk, tmp_path / "4-dashboard-1366.png")
