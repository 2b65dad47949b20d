"""Reading plans (issue 8): stated cadences found in each clause's text, measured against the
curated catalogs' stated cadences (recall and precision asserted), plus phrases by hand."""
import datetime as dt
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from obligations.extract.cadence import find_cadences
from tests.conftest import PLAN_IDS, PLANS

KEYS = ("kind", "months", "count", "deadline", "rrule")


def _same_place(found: str, stated: str) -> bool:
    return found in stated or stated in found or found[:6] in stated


@pytest.mark.parametrize("plan", PLAN_IDS)
def test_stated_cadences_match_the_curated_catalog(plan):
    clauses = yaml.safe_load((PLANS / plan / "catalog.yaml").read_text(encoding="utf-8"))["clauses"]
    tp = fn = fp = 0
    for c in clauses:
        want = {re.sub(r"\s+", "", o["cadence"]["text"]): {k: o["cadence"][k] for k in KEYS if k in o["cadence"]}
                for o in c.get("obligations", []) if o.get("cadence", {}).get("origin") == "stated"}
        got = [(f.phrase, {k: f.cadence[k] for k in KEYS if k in f.cadence}) for f in find_cadences(c["text"])[0]]
        used = set()
        for phrase, cadence in want.items():
            hit = next((g for g in got if g[1] == cadence and _same_place(g[0], phrase)), None)
            tp, fn = (tp + 1, fn) if hit else (tp, fn + 1)
            if hit:
                used.add(hit[0])
        fp += sum(1 for g in got if g[0] not in used)
    recall, precision = tp / (tp + fn), tp / max(tp + fp, 1)
    print(plan, "stated cadences", tp, "recall", recall, "precision", precision)
    assert recall == 1.0 and precision == 1.0


@pytest.mark.parametrize("text, expected", [
    ("2025 年起，于每年 4 月和 10 月更新一次流动儿童信息", {"kind": "semiannual", "months": [4, 10], "count": 1,
                                                  "start": dt.date(2025, 1, 1)}),
    ("入户频率不低于每季度6次", {"kind": "quarterly", "count": 6}),
    ("至少每半年更新一次", {"kind": "semiannual", "count": 1}),
    ("每两年更新发布一次", {"kind": "biennial", "count": 1}),
    ("2024年11月底前完成录入", {"kind": "once", "deadline": dt.date(2024, 11, 30), "count": 1}),
    ("制定下发后 10 日内报送备案", {"kind": "event", "after": {"days": 10, "workdays": False}, "count": 1}),
    ("收到通知后5个工作日内办结", {"kind": "event", "after": {"days": 5, "workdays": True}, "count": 1}),
])
def test_phrases(text, expected):
    [found], _ = find_cadences(text)
    assert {k: found.cadence[k] for k in expected} == expected and found.cadence["kind"] == expected["kind"]


def test_an_impossible_date_is_noted_not_a_crash():
    found, notes = find_cadences("2025年13月底前完成；每年0月和13月更新")
    assert found == [] and len(notes) == 2


def test_definitions_and_goals_are_not_cadences_and_定期_is_flagged():
    found, notes = find_cadences("跨县域异地居住或生活 6 个月以上、不满十六周岁。到2026年，政策更加健全。要定期开展走访。")
    assert found == [] and len(notes) == 1 and "定期" in notes[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["每", "年", "月", "季度", "半年", "两", "次", "至少", "起", "底前", "日内",
                                 "个工作日", "2025", "10", "和", "，", "。", "定期"]) | st.text(max_size=6),
                max_size=40).map("".join))
def test_no_text_makes_the_cadence_reader_crash(text):
    find_cadences(text)


def test_a_period_said_with_an_or_zhu():
    """按月 / 逐月 / 按季度 / 按半年 / 按年度 say the period as 每… does; 1-3月份 and 按年龄 do not."""
    from obligations.extract.cadence import find_cadences

    def kinds(text: str) -> list[str]:
        return [f.cadence["kind"] for f in find_cadences(text)[0]]

    assert kinds("按月完成临时救助的审核确认工作。") == ["monthly"]
    assert kinds("逐月发放补贴，按季度报送进展，按半年开展评估，按年度考核。") == ["monthly", "quarterly", "semiannual", "annual"]
    assert kinds("①1-3月份，完成审核确认；按年龄段分类保障；按月份统计") == []
