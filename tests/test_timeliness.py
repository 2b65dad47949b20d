"""The rules of timeliness (obligations/timeliness.py), without a database: which claimed
completion days are refused, which are flagged and judged by the recording day, when an item is
on time, and when a waiver or extension may be asked for."""
import datetime as dt

import pytest

from obligations.errors import Refused
from obligations.status import status
from obligations.timeliness import ClaimRefused, check_request, done_on, judge_claim, on_time, rules_text
from obligations.workcal import WorkCalendar

D = dt.date
CAL = WorkCalendar()
RECORDED = D(2025, 4, 10)       # a Thursday; 4 April 2025 is Qingming (a rest day)
START = D(2025, 1, 1)


def judge(claimed, **kw):
    return judge_claim(claimed, period_start=kw.pop("period_start", START), recorded=kw.pop("recorded", RECORDED),
                       calendar=CAL, **kw)


@pytest.mark.parametrize("claimed", [D(1900, 1, 1), D(1, 1, 1), D(2024, 12, 31)])
def test_a_day_before_the_period_began_is_refused(claimed):
    with pytest.raises(ClaimRefused) as caught:
        judge(claimed)
    assert str(caught.value) == (f"办理日期 {claimed} 早于本期开始日期 2025-01-01，不能登记"
                                 "（请填写实际办理日期；本期以前的工作不计入本期）")
    assert caught.value.http_status == 422


def test_a_day_after_the_recording_day_is_refused():
    with pytest.raises(ClaimRefused, match=r"办理日期 2025-04-11 晚于今天（2025-04-10），不能登记"):
        judge(D(2025, 4, 11))


@pytest.mark.parametrize("claimed", [D(2025, 4, 10), D(2025, 4, 9), D(2025, 4, 7)])
def test_within_the_grace_the_claimed_day_is_judged(claimed):
    """Three working days before Thursday 10 April are 9, 8 and 7 April."""
    j = judge(claimed)
    assert (j.claimed, j.judged, j.flagged) == (claimed, claimed, False)


@pytest.mark.parametrize("claimed", [D(2025, 4, 5), D(2025, 4, 3), D(2025, 3, 20), START])
def test_older_than_the_grace_is_flagged_and_judged_by_the_recording_day(claimed):
    """Saturday 5 April lies before the third working day back (Monday the 7th); 3 April is
    before Qingming (the 4th) and the weekend: flagged."""
    j = judge(claimed)
    assert (j.claimed, j.judged, j.flagged) == (claimed, RECORDED, True)


def test_the_grace_is_configurable_and_zero_flags_any_earlier_day():
    assert judge(D(2025, 4, 3), grace_days=5).flagged is False
    assert judge(D(2025, 4, 9), grace_days=0).flagged is True
    assert judge(RECORDED, grace_days=0).flagged is False


def test_working_days_follow_the_holiday_calendar():
    """The National Day week (1–8 October 2025) counts no working day: work done on 30 September
    and recorded on Thursday 9 October is within the grace; recorded on Monday the 13th (after
    the 9th, 10th and the make-up Saturday 11th) it is not."""
    assert judge(D(2025, 9, 30), recorded=D(2025, 10, 9)).flagged is False
    assert judge(D(2025, 10, 9), recorded=D(2025, 10, 13)).flagged is False
    assert judge(D(2025, 9, 30), recorded=D(2025, 10, 13)).flagged is True


def test_a_flagged_completion_of_an_overdue_item_is_done_late_not_on_time():
    """The backdating finding: overdue since March, recorded in April claiming a day in March."""
    due = D(2025, 3, 31)
    j = judge(D(2025, 3, 20))
    assert not on_time(done_on([j.judged]), due)
    assert status(required=1, done=1, due=due, completed_on=done_on([j.judged]), waived=False,
                  today=RECORDED) == "done_late"
    honest = judge(D(2025, 4, 8))
    assert status(required=1, done=1, due=D(2025, 4, 8), completed_on=done_on([honest.judged]), waived=False,
                  today=RECORDED) == "done"


def test_an_item_is_done_on_the_latest_judged_day():
    assert done_on([D(2025, 3, 1), D(2025, 3, 20), D(2025, 3, 5)]) == D(2025, 3, 20)
    assert done_on([]) is None
    assert on_time(D(2025, 3, 31), D(2025, 3, 31)) and not on_time(D(2025, 4, 1), D(2025, 3, 31))
    assert not on_time(None, D(2025, 3, 31))


def test_requests_only_while_open_and_not_past_due():
    check_request(occurrence_id=7, finished=False, due=RECORDED, today=RECORDED)        # the due day itself
    with pytest.raises(Refused, match="督办事项 7 已于 2025-04-09 到期，逾期后不能再申请豁免或延期"):
        check_request(occurrence_id=7, finished=False, due=D(2025, 4, 9), today=RECORDED)
    with pytest.raises(Refused, match="督办事项 7 已办结或已豁免，不能再申请豁免或延期"):
        check_request(occurrence_id=7, finished=True, due=D(2025, 6, 30), today=RECORDED)


def test_the_method_note_states_the_rules_with_the_grace():
    rules = rules_text(5)
    assert len(rules) == 5 and "5 个工作日" in rules[1] and "按登记日期" in rules[1]
    assert "待审核" in rules[4] and "审核期间不计为逾期" in rules[4]
    assert "早于事项所属期间开始日期" in rules[0] and "原截止日期" in rules[3]
