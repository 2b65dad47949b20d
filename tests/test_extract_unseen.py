"""Plans of localities the reader was not written on (tests/fixtures/unseen): each text drafted
and measured separately against its hand annotation (truth/*.yaml, the fragments' format),
against the goal for other localities' plans: clause recall ≥ 95 %, department lists exact
≥ 95 %, stated cadences ≥ 90 %, nothing invented (no clause, no cadence). The plan's particulars
(title, locality, level, date, the documents it implements) are measured too.

The stored copies hold the opening part of each page only (about 2000 characters): notices,
signatories, goals, principles and definitions, in simplified and traditional characters, with
what web copies do to a text (pinyin after characters, doubled punctuation, page chrome, a date
without 年月日), and a few that reach their first task clauses or are nothing but a table. So these
texts mostly test that nothing is invented; benchmarks/reader_accuracy.py prints the figures of all
of them and of the fragments (tests/test_extract_fragments.py) together."""
from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import pytest
import yaml

from obligations.extract.plan_info import read_plan_info
from tests.test_extract_fragments import DIRECTORY, FRAGMENTS, _key, fragment_text, measure_text

UNSEEN = Path(__file__).resolve().parent / "fixtures" / "unseen"
NAMES = sorted(p.stem for p in UNSEEN.glob("*.txt"))


def text_of(name: str) -> str:
    raw = (UNSEEN / f"{name}.txt").read_text(encoding="utf-8")
    return raw.split("\n---\n", 1)[1]


def truth_of(name: str) -> dict:
    return yaml.safe_load((UNSEEN / "truth" / f"{name}.yaml").read_text(encoding="utf-8"))


@functools.cache
def directory_of(name: str):
    """The directory a plan is read with: that of a working folder of its locality as ``duban
    init`` makes it (standard departments, the locality's units down to townships), so that a
    township the plan names is known; the repository's directory when the division list does not
    know the locality's name (a traditional-character copy, a development zone)."""
    from obligations.directory import Directory, add_units
    from obligations.errors import DubanError
    from storage.localities import division_units, standard_directory

    try:
        _, units = division_units(truth_of(name)["plan"]["locality"], "township")
    except DubanError:                        # unknown or ambiguous in the division list
        return DIRECTORY
    return Directory(add_units(standard_directory(), units)[0])


def measure_unseen(name: str) -> dict:
    return measure_text(text_of(name), truth_of(name), directory_of(name))


def figures(r: dict) -> dict[str, float]:
    def ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    return {"clause_recall": ratio(r["tp"], r["tp"] + r["fn"]),
            "dept_exact": ratio(r["dept_exact"], r["dept_total"]),
            "cadence_recall": ratio(r["cad_tp"], r["cad_tp"] + r["cad_fn"]),
            "invented": r["fp"] + r["cad_fp"]}


def particulars(name: str) -> dict[str, bool]:
    """Which of the plan's particulars the reader gets right (those the text holds: a truth's
    ``not_in_text`` lists what it does not say, as a copy that opens with the addressees)."""
    want = truth_of(name)["plan"]
    info = read_plan_info(text_of(name), DIRECTORY, None)
    issued = dt.date.fromisoformat(want["issued"]) if want.get("issued") else None
    got = {"title": bool(info.title) and _key(want["title"]) in _key(info.title),
           "locality": info.locality == want["locality"], "level": info.level == want["level"],
           "issued": info.issued == issued, "implements": info.implements == want["implements"]}
    return {k: v for k, v in got.items() if k not in want.get("not_in_text", [])}


def test_there_are_unseen_plans_with_their_truth():
    assert len(NAMES) >= 5
    assert all((UNSEEN / "truth" / f"{n}.yaml").is_file() for n in NAMES)
    assert all(text_of(n).strip() and truth_of(n)["source"].startswith("http") for n in NAMES)


# What the reader does not do yet, text by text, with the figure it reaches (kept exact, so that
# a change either way is seen): not hidden, and listed in docs/reading-plans.md.
SHORT_OF_THE_GOAL: dict[tuple[str, str], float] = {}


@pytest.mark.parametrize("name", NAMES)
def test_each_unseen_plan_meets_the_goal(name):
    r = measure_unseen(name)
    f = figures(r)
    print(name, f, {k: v for k, v in r.items() if k in ("missed", "wrong_depts", "invented") and v})
    goal = {"clause_recall": 0.95, "dept_exact": 0.95, "cadence_recall": 0.90}
    for figure, least in goal.items():
        if (name, figure) in SHORT_OF_THE_GOAL:
            assert f[figure] == SHORT_OF_THE_GOAL[name, figure], (figure, r)
        else:
            assert f[figure] >= least, (figure, r)
    assert f["invented"] == 0, r["invented"]


def test_the_plans_particulars():
    got = {name: particulars(name) for name in NAMES}
    for name, p in got.items():
        print(name, p)
    right = sum(v for p in got.values() for v in p.values())
    total = sum(len(p) for p in got.values())
    print("particulars right", right, "of", total)
    # every locality and level the text names is read (where it names none, or a copy altered
    # it, the draft takes the folder's locality in the journey below)
    assert all(p.get("locality", True) and p.get("level", True) for p in got.values())
    assert all(p["implements"] for p in got.values())          # never the plan's own number
    assert right / total >= 0.9


# Texts of other localities that hold task clauses (one here, the others among the fragments),
# each taken through the journey as typed in a folder of its own locality: init → plans extract
# --add → plans load --all → materialize, with no hand edit; the share of obligations that get
# items is measured.
JOURNEYS = [("sanming_weibao_fengong_2021", "三明市"), ("shandong_weibao_zhize_2023", "山东省"), ("dalian_weibao_jigou_2023", "大连市"),
            ("rugao_weibao_qingdan_2022", "南通市/如皋市"), ("baoshan_xiaowaibaohu_2022", "保山市"),
            ("chaohu_liushouertong_2017", "巢湖市"), ("linyi_lanshan_jiancemopai_2024", "临沂市/兰山区"),
            ("qiaocheng_minzheng_renwu_2025", "亳州市/谯城区"), ("dongguan_liudongertong_2025", "东莞市")]


@pytest.mark.parametrize("name,locality", JOURNEYS)
def test_obligations_get_items_with_no_hand_edit(name, locality, tmp_path, database_url, monkeypatch, capsys):
    import re

    from flows.cli import main

    if name not in NAMES and FRAGMENTS is None:
        pytest.skip("plan fragments not at hand")
    monkeypatch.delenv("DUBAN_CONFIG", raising=False)
    monkeypatch.setenv("DUBAN_DATABASE_URL", database_url)
    plan_text = tmp_path / "方案.txt"
    plan_text.write_text(text_of(name) if name in NAMES else fragment_text(name), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "地区", "--locality", locality, "--depth", "county"]) == 0
    monkeypatch.chdir(tmp_path / "地区")
    assert main(["plans", "extract", str(plan_text), "--add"]) == 0, capsys.readouterr().err
    pid = re.search(r"plans/([a-z0-9-]+)/catalog.yaml", capsys.readouterr().out)[1]
    assert not pid.startswith("daitianxie")          # the locality is read, not left to be filled in
    assert main(["plans", "load", "--all"]) == 0, capsys.readouterr().err
    assert main(["materialize", "--until", "2026-12-31", "--today", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    done = re.search(pid + r"：(\d+)/(\d+) 项义务已有事项", out)
    assert done, out
    with_items, total = int(done[1]), int(done[2])
    print(name, f"{with_items}/{total}")
    assert total == 0 or with_items / total >= 0.9, out
