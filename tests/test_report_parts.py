"""The pure parts of the reports: period words and arithmetic, rate and delta wording, the SVG
charts, the document's sections (no database)."""
import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from obligations.periods import (
    PeriodSyntaxError,
    describe_period,
    last_complete,
    parse_period,
    period_key,
    previous_period,
)
from reports import charts
from reports.data import ReportData, empty_row, rates
from reports.document import build_document, delta_text, rate_text

D = dt.date


@pytest.mark.parametrize("text, words, key, previous", [
    ("2025", "2025年", "2025", (D(2024, 1, 1), D(2024, 12, 31))),
    ("2025H1", "2025年上半年", "2025H1", (D(2024, 7, 1), D(2024, 12, 31))),
    ("2025H2", "2025年下半年", "2025H2", (D(2025, 1, 1), D(2025, 6, 30))),
    ("2025Q1", "2025年第一季度", "2025Q1", (D(2024, 10, 1), D(2024, 12, 31))),
    ("2025-03", "2025年3月", "2025-03", (D(2025, 2, 1), D(2025, 2, 28))),
    ("2024-03", "2024年3月", "2024-03", (D(2024, 2, 1), D(2024, 2, 29))),
    ("2025-01-05..2025-02-15", "2025年1月5日至2025年2月15日", "20250105-20250215", (D(2024, 11, 24), D(2025, 1, 4))),
])
def test_period_words_keys_and_the_period_before(text, words, key, previous):
    start, end = parse_period(text)
    assert describe_period(start, end) == words and period_key(start, end) == key
    assert previous_period(start, end) == previous


@pytest.mark.parametrize("kind, day, expected", [
    ("month", D(2025, 7, 1), (D(2025, 6, 1), D(2025, 6, 30))),
    ("month", D(2025, 1, 15), (D(2024, 12, 1), D(2024, 12, 31))),
    ("quarter", D(2025, 7, 1), (D(2025, 4, 1), D(2025, 6, 30))),
    ("quarter", D(2025, 2, 10), (D(2024, 10, 1), D(2024, 12, 31))),
    ("half", D(2025, 7, 1), (D(2025, 1, 1), D(2025, 6, 30))),
    ("half", D(2025, 6, 30), (D(2024, 7, 1), D(2024, 12, 31))),
    ("year", D(2025, 12, 31), (D(2024, 1, 1), D(2024, 12, 31))),
])
def test_the_scheduled_report_covers_the_last_complete_period(kind, day, expected):
    assert last_complete(kind, day) == expected


def test_unknown_period_kind():
    with pytest.raises(PeriodSyntaxError):
        last_complete("week", D(2025, 1, 1))


def test_rate_and_delta_words():
    assert rate_text(None) == "—" and rate_text(0.6) == "60.0%" and rate_text(1) == "100.0%"
    assert delta_text(0.021) == "上升 2.1 个百分点" and delta_text(-0.6) == "下降 60.0 个百分点"
    assert delta_text(0.0001) == "持平" and delta_text(None) == "—"


def test_rates_count_only_what_was_owed():
    row = rates({**empty_row(), "done": 3, "done_late": 1, "overdue": 1, "open": 7, "waived": 2})
    assert (row["owed"], row["on_time_rate"], row["completion_rate"]) == (5, 0.6, 0.8)
    assert rates(empty_row(open=0))["on_time_rate"] is None


def _dept(key, name, done, late, overdue):
    return rates({**empty_row(department=key, name=name), "done": done, "done_late": late, "overdue": overdue,
                  "total": done + late + overdue})


def _data(**kw) -> ReportData:
    deps = [_dept("education", "教育部门", 1, 1, 2), _dept("civil_affairs", "民政部门", 9, 0, 1)]
    totals = rates({**empty_row(), "done": 10, "done_late": 1, "overdue": 3, "total": 14})
    base = dict(plan=None, plan_title="全部计划", start=D(2025, 1, 1), end=D(2025, 6, 30), as_of=D(2025, 7, 10),
                jurisdiction="福州市", children=True, totals=totals, by_department=deps, by_clause=[], by_unit=[],
                by_origin=[], months=["2025-01", "2025-02"],
                heat=[{"department": "education", "name": "教育部门", "months": {"2025-01": deps[0]}}],
                overdue_items=[], overdue_total=3, case_coverage=[], case_coverage_units=[],
                notices={"remind": 4, "due": 1, "overdue": 2, "escalate": 1, "remind_sent": 4, "due_sent": 1,
                         "overdue_sent": 2, "escalate_sent": 0, "total": 8, "sent": 7})
    base.update(kw)
    return ReportData(**base)


def test_bars_one_per_department_with_a_rate():
    svg = charts.department_bars(_data().by_department + [rates(empty_row(department="x", name="未到期部门"))])
    root = ET.fromstring(svg)
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert len(bars) == 2 and "教育部门" in labels and "25.0%" in labels and "未到期部门" not in labels
    widths = sorted(float(b.get("width")) for b in bars)
    assert widths[1] / widths[0] == pytest.approx(0.9 / 0.25, rel=0.01)    # 90% versus 25%
    assert charts.department_bars([]) == ""


def test_heat_map_cells_coloured_by_rate():
    svg = charts.heat_map(_data().heat, ["2025-01", "2025-02"])
    rects = list(ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}rect"))
    assert [r.get("fill") for r in rects] == [charts.rate_colour(0.25), charts.rate_colour(None)]
    assert charts.rate_colour(0.59) != charts.rate_colour(0.6) != charts.rate_colour(0.95)


def test_document_sections_and_summary():
    doc = build_document(_data(), issuer="福州市民政局", issued_on=D(2025, 7, 12), number="督查通报〔2025〕第3期")
    assert doc.title == "关于2025年上半年流动儿童关爱保护工作落实情况的督查通报"
    assert [s.number for s in doc.sections][:3] == ["一", "二", "三"]
    assert doc.sections[-1].title == "下一步工作要求"
    text = re.sub(r"\s", "", doc.summary)
    assert "福州市及所辖地区" in text and "应办事项14项" in text and "按期办结率71.4%" in text
    assert "逾期督办1项次" in text
    assert doc.issued_text == "2025年7月12日"
    dept_words = doc.sections[1].paragraphs[0]
    assert "最高的是民政部门（90.0%）" in dept_words and "最低的是教育部门（25.0%，逾期未办 2 项）" in dept_words
