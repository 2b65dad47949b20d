"""考核评分 (obligations/scoring.py): points, deductions, weights, the score's bounds, ranks with
ties (并列), rescoring under other rules, the rules in words, and the config section."""
import itertools

import pytest

from obligations.config import ConfigError, ScoringConfig, parse_config
from obligations.scoring import Part, ScoringRules, Tally, board, rank, rescore, rules_text, score_of, scores

DEFAULT = ScoringRules()


def tally(key, *parts, **labels):
    t = Tally(key, labels or {"name": key})
    for plan, origin, counts in parts:
        t.part(plan, origin).add(counts)
    return t


# -- one score -----------------------------------------------------------------------------

def test_all_on_time_is_full_marks():
    r = score_of([Part("p", "stated", on_time=7)], DEFAULT)
    assert r == {"on_time": 7, "late": 0, "overdue": 0, "returned": 0, "extended": 0, "owed": 7,
                 "earned": 7.0, "possible": 7.0, "score": 100.0}


@pytest.mark.parametrize("on_time,late,overdue,returned,extended,expected", [
    (0, 1, 0, 0, 0, 60.0),              # late earns 0.6 of 1
    (0, 0, 1, 0, 0, 0.0),               # overdue earns nothing
    (1, 1, 0, 0, 0, 80.0),              # (1 + 0.6) / 2
    (1, 1, 1, 0, 0, 53.3),              # 1.6 / 3 = 53.33…
    (2, 0, 0, 1, 0, 90.0),              # (2 - 0.2) / 2
    (2, 0, 0, 0, 1, 95.0),              # (2 - 0.1) / 2
    (1, 0, 0, 3, 2, 20.0),              # 1 - 0.6 - 0.2
    (1, 0, 0, 10, 0, 0.0),              # never below 0
    (3, 0, 0, 0, 0, 100.0),
    (2, 1, 0, 0, 0, 86.7),              # 2.6 / 3 = 86.666…
])
def test_points_and_deductions(on_time, late, overdue, returned, extended, expected):
    r = score_of([Part("p", "stated", on_time, late, overdue, returned, extended)], DEFAULT)
    assert r["score"] == expected
    assert r["owed"] == on_time + late + overdue


def test_nothing_owed_has_no_score_even_with_returns():
    assert score_of([], DEFAULT)["score"] is None
    r = score_of([Part("p", "stated", returned=2, extended=1)], DEFAULT)
    assert r["score"] is None and r["returned"] == 2 and r["extended"] == 1 and r["possible"] == 0


def test_weights_by_origin_and_plan_multiply():
    rules = ScoringRules(origin_weights=(("assigned", 2.0),), plan_weights=(("a", 3.0),))
    assert rules.weight("a", "assigned") == 6.0 and rules.weight("b", "assigned") == 2.0
    assert rules.weight("a", "stated") == 3.0 and rules.weight("b", "policy") == 1.0
    # an on-time plan item (weight 1) and an overdue assigned one (weight 2): 1 / 3
    r = score_of([Part("b", "stated", on_time=1), Part("b", "assigned", overdue=1)], rules)
    assert r["score"] == 33.3 and r["possible"] == 3.0 and r["earned"] == 1.0
    # the default: assigned tasks weigh 1.5
    r = score_of([Part("b", "stated", on_time=1), Part("b", "assigned", overdue=1)], DEFAULT)
    assert r["score"] == 40.0
    # a return on a heavy item deducts more
    light = score_of([Part("b", "stated", on_time=2, returned=1)], rules)["score"]
    heavy = score_of([Part("b", "stated", on_time=1), Part("a", "stated", on_time=1, returned=1)], rules)["score"]
    assert light == 90.0 and heavy == 85.0          # (1 + 3 - 0.6) / 4


def test_negative_overdue_points_deduct_and_full_scales():
    rules = ScoringRules(full=10, overdue=-1)
    assert score_of([Part("p", "stated", on_time=3, overdue=1)], rules)["score"] == 5.0   # (3 - 1) / 4 × 10
    assert score_of([Part("p", "stated", overdue=5)], rules)["score"] == 0.0


def test_score_is_never_above_full():
    for parts in itertools.product(range(3), repeat=5):
        r = score_of([Part("p", "assigned", *parts)], DEFAULT)
        assert r["score"] is None or 0 <= r["score"] <= 100


@pytest.mark.parametrize("kw", [dict(full=0), dict(on_time=0), dict(late=1.5), dict(overdue=2), dict(per_return=-1),
                                dict(per_extension=-0.1), dict(origin_weights=(("assigned", 0),)),
                                dict(plan_weights=(("x", -1),))])
def test_rules_that_make_no_sense_are_refused(kw):
    with pytest.raises(ValueError):
        ScoringRules(**kw)


# -- ranks --------------------------------------------------------------------------------

def _rows(*scored):
    return [{"key": k, "score": s} for k, s in scored]


def test_ranks_highest_first():
    out = rank(_rows(("a", 50.0), ("b", 90.0), ("c", 70.0)))
    assert [(r["key"], r["rank"], r["tied"]) for r in out] == [("b", 1, False), ("c", 2, False), ("a", 3, False)]


def test_ties_share_a_rank_and_the_next_skips():
    out = rank(_rows(("d", 80.0), ("a", 90.0), ("c", 80.0), ("b", 80.0), ("e", 10.0)))
    assert [(r["key"], r["rank"]) for r in out] == [("a", 1), ("b", 2), ("c", 2), ("d", 2), ("e", 5)]
    assert [r["tied"] for r in out] == [False, True, True, True, False]


def test_everyone_tied_and_unscored_last():
    out = rank(_rows(("z", None), ("b", 100.0), ("a", 100.0), ("y", None)))
    assert [(r["key"], r["rank"]) for r in out] == [("a", 1), ("b", 1), ("y", None), ("z", None)]
    assert rank([]) == []


def test_ranks_are_a_competition_ranking_for_any_scores():
    """For every list of scores: rank = 1 + how many scored strictly higher."""
    for scored in itertools.product((None, 0.0, 50.0, 100.0), repeat=4):
        rows = rank(_rows(*((f"k{i}", s) for i, s in enumerate(scored))))
        for r in rows:
            if r["score"] is None:
                assert r["rank"] is None
            else:
                assert r["rank"] == 1 + sum(1 for s in scored if s is not None and s > r["score"])
        assert [r["score"] for r in rows if r["score"] is not None] == sorted(
            (s for s in scored if s is not None), reverse=True)


def test_ties_are_judged_on_the_printed_decimal():
    a = tally("a", ("p", "stated", {"on_time": 2, "late": 1}))          # 86.666… → 86.7
    b = tally("b", ("p", "stated", {"on_time": 20, "late": 10, "overdue": 0}))    # the same
    out = board([b, a], DEFAULT)
    assert [(r["key"], r["score"], r["rank"]) for r in out] == [("a", 86.7, 1), ("b", 86.7, 1)]


# -- the board, rescoring and the rules in words --------------------------------------------

def test_board_rows_carry_labels_counts_and_parts():
    t = tally("education", ("p1", "stated", {"on_time": 3}), ("task-1", "assigned", {"late": 1, "returned": 1}),
              department="education", name="教育局")
    t.part("p1", "stated").add({"extended": 1})
    (row,) = board([t], DEFAULT)
    assert row["name"] == "教育局" and row["department"] == "education" and row["rank"] == 1
    assert (row["on_time"], row["late"], row["overdue"], row["returned"], row["extended"]) == (3, 1, 0, 1, 1)
    # (3 - 0.1 + 1.5 × (0.6 - 0.2)) / (3 + 1.5) = 3.5 / 4.5
    assert row["score"] == 77.8
    assert row["parts"] == [
        {"plan": "p1", "origin": "stated", "weight": 1.0, "on_time": 3, "late": 0, "overdue": 0, "returned": 0,
         "extended": 1},
        {"plan": "task-1", "origin": "assigned", "weight": 1.5, "on_time": 0, "late": 1, "overdue": 0,
         "returned": 1, "extended": 0}]


def test_rescore_under_other_rules_equals_scoring_afresh():
    depts = [tally("a", ("p", "stated", {"on_time": 3, "overdue": 1}), ("t", "assigned", {"on_time": 1})),
             tally("b", ("p", "stated", {"late": 2, "returned": 1}))]
    units = [tally("01", ("p", "stated", {"on_time": 3, "late": 2, "overdue": 1}), unit="甲县", code="01")]
    first = scores(depts, units, DEFAULT)
    other = ScoringRules(late=0.9, origin_weights=(("assigned", 3.0),), per_return=1)
    again = rescore(first, other)
    fresh = scores(depts, units, other)
    assert again == fresh
    assert again["departments"] != first["departments"]
    assert again["units"][0]["unit"] == "甲县" and rescore(first, DEFAULT) == first


def test_rules_in_words_state_the_numbers():
    text = "".join(rules_text(DEFAULT))
    for phrase in ("每项应得1分", "按期办结的每项得1分", "逾期办结的每项得0.6分", "逾期未办的每项得0分",
                   "每被退回一次扣0.2分", "每批准延期一次扣0.1分", "交办任务×1.5", "× 100", "名次并列"):
        assert phrase in text, phrase
    text = "".join(rules_text(ScoringRules(overdue=-2, origin_weights=(), plan_weights=(("fj", 1.2),)),
                              {"fj": "福建省方案"}))
    assert "逾期未办的每项扣2分" in text and "福建省方案的事项×1.2" in text and "交办" not in text
    assert not any("权重" in r for r in rules_text(ScoringRules(origin_weights=())))


# -- config ---------------------------------------------------------------------------------

def test_config_defaults_are_the_rules_defaults():
    assert ScoringConfig().rules() == DEFAULT
    assert parse_config("", "config.yaml").report.scoring.rules() == DEFAULT


def test_config_section_is_read_and_checked():
    doc = parse_config("report:\n  scoring:\n    late: 0.5\n    plan_weights: {fujian-2025: 2}\n"
                       "    origin_weights: {assigned: 1, policy: 0.5}\n", "config.yaml")
    rules = doc.report.scoring.rules()
    assert rules.late == 0.5 and rules.weight("fujian-2025", "policy") == 1.0
    assert rules.weight("x", "assigned") == 1.0
    with pytest.raises(ConfigError) as err:
        parse_config("report:\n  scoring:\n    overdue: 2\n", "config.yaml")
    assert "config.yaml:" in str(err.value) and "不能高于按期办结" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config("report:\n  scoring:\n    origin_weights: {adhoc: 2}\n", "config.yaml")
    assert "report.scoring.origin_weights" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config("report:\n  scoring:\n    per_retrun: 1\n", "config.yaml")
    assert "per_return" in str(err.value)


def test_the_repository_config_has_the_scoring_section():
    from pathlib import Path

    doc = parse_config((Path(__file__).parents[1] / "config.yaml").read_text(encoding="utf-8"), "config.yaml")
    assert doc.report.scoring.rules() == DEFAULT
