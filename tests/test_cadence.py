"""Pure scheduling core: the working-day calendar, cadence expansion, status, periods."""
import datetime as dt
import warnings

import pytest

from obligations.cadence import event_due, expand, obligation_start
from obligations.periods import PeriodSyntaxError, parse_period
from obligations.status import completed_on, status
from obligations.words import period_label
from obligations.workcal import UnknownYearWarning, WorkCalendar

D = dt.date


@pytest.fixture
def cal():
    return WorkCalendar()


# ------------------------------------------------------------------ working days

def test_national_day_2025_and_its_make_up_sunday(cal):
    assert cal.is_workday(D(2025, 9, 28))          # Sunday, a make-up working day (调休)
    assert not any(cal.is_workday(D(2025, 10, d)) for d in range(1, 9))
    assert cal.is_workday(D(2025, 10, 11))         # Saturday, make-up
    assert cal.due(D(2025, 10, 1)) == D(2025, 10, 9)
    assert cal.due(D(2025, 9, 28)) == D(2025, 9, 28)


def test_spring_festival_2025_and_2026(cal):
    assert cal.is_workday(D(2025, 1, 26)) and cal.is_workday(D(2025, 2, 8))   # make-up Sunday, Saturday
    assert cal.due(D(2025, 1, 31)) == D(2025, 2, 5)
    assert cal.is_workday(D(2026, 2, 14)) and not cal.is_workday(D(2026, 2, 16))
    assert cal.add_workdays(D(2026, 2, 13), 1) == D(2026, 2, 14)
    assert cal.add_workdays(D(2026, 2, 14), 1) == D(2026, 2, 24)


def test_workday_offsets(cal):
    assert cal.add_workdays(D(2025, 9, 30), 1) == D(2025, 10, 9)
    assert cal.add_workdays(D(2025, 9, 26), 2) == D(2025, 9, 29)   # Sat 27 rest, Sun 28 works
    assert cal.workdays_between(D(2025, 9, 30), D(2025, 10, 9)) == 1
    assert cal.workdays_between(D(2025, 10, 9), D(2025, 9, 30)) == -1


def test_unknown_year_falls_back_to_weekends_with_a_warning_and_config_days():
    cal = WorkCalendar(holidays=[D(2027, 1, 1)], workdays=[D(2027, 1, 2)])
    with pytest.warns(UnknownYearWarning, match="2027"):
        assert cal.is_workday(D(2027, 1, 4))           # Monday
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # warned once per year only
        assert not cal.is_workday(D(2027, 1, 9))       # Saturday
        assert not cal.is_workday(D(2027, 1, 1))       # added holiday (a Friday)
        assert cal.is_workday(D(2027, 1, 2))           # added make-up Saturday
    assert cal.fallback_years == {2027}


def test_roll_forward_can_be_turned_off():
    assert WorkCalendar(roll_forward=False).due(D(2025, 10, 1)) == D(2025, 10, 1)


# ------------------------------------------------------------------ cadences

def keys(periods):
    return [p.key for p in periods]


def test_monthly_across_a_year_end_and_a_leap_february(cal):
    periods = expand({"kind": "monthly"}, D(2023, 11, 15), D(2024, 3, 1), cal)
    assert keys(periods) == ["2023-11", "2023-12", "2024-01", "2024-02", "2024-03"]
    feb = periods[3]
    assert (feb.start, feb.end) == (D(2024, 2, 1), D(2024, 2, 29))
    assert feb.due == D(2024, 2, 29)                       # a Thursday
    assert periods[0].start == D(2023, 11, 1)


def test_quarterly_semiannual_annual_biennial(cal):
    q = expand({"kind": "quarterly"}, D(2025, 1, 9), D(2025, 12, 31), cal)
    assert keys(q) == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    assert q[2].end == D(2025, 9, 30) and q[2].due == D(2025, 9, 30)
    h = expand({"kind": "semiannual"}, D(2024, 3, 1), D(2025, 7, 1), cal)
    assert keys(h) == ["2024-H1", "2024-H2", "2025-H1", "2025-H2"]
    assert h[1].end == D(2024, 12, 31) and h[1].due == D(2024, 12, 31)
    a = expand({"kind": "annual"}, D(2025, 1, 1), D(2026, 6, 1), cal)
    assert keys(a) == ["2025", "2026"] and a[0].due == D(2025, 12, 31)
    b = expand({"kind": "biennial"}, D(2025, 1, 1), D(2028, 1, 1), cal)
    assert keys(b) == ["2025~2026", "2027~2028"] and b[0].end == D(2026, 12, 31)


def test_fixed_months_april_and_october_from_2025(cal):
    cadence = {"kind": "semiannual", "months": [4, 10], "start": "2025-01-01"}
    start = obligation_start(cadence, {"issued": "2025-01-09"}, D(2020, 1, 1))
    assert start == D(2025, 1, 1)
    periods = expand(cadence, start, D(2026, 12, 31), cal)
    assert keys(periods) == ["2025-04", "2025-10", "2026-04", "2026-10"]
    assert periods[1].end == D(2025, 10, 31) and periods[1].due == D(2025, 10, 31)
    assert periods[0].due == D(2025, 4, 30)


def test_every_three_months_from_a_start_is_an_rrule(cal):
    periods = expand({"kind": "rrule", "rrule": "FREQ=MONTHLY;INTERVAL=3"}, D(2025, 1, 9), D(2025, 12, 31), cal)
    assert [(p.start, p.end) for p in periods] == [
        (D(2025, 1, 9), D(2025, 4, 8)), (D(2025, 4, 9), D(2025, 7, 8)),
        (D(2025, 7, 9), D(2025, 10, 8)), (D(2025, 10, 9), D(2026, 1, 8))]
    assert periods[2].due == D(2025, 10, 9)     # 10-08 is the last day of the National Day holiday


def test_once_with_absolute_deadline(cal):
    [p] = expand({"kind": "once", "deadline": "2024-11-30"}, D(2024, 1, 1), D(2025, 12, 31), cal)
    assert (p.key, p.end, p.due) == ("once", D(2024, 11, 30), D(2024, 12, 2))   # Saturday → Monday
    assert expand({"kind": "once", "deadline": "2024-11-30"}, D(2024, 1, 1), D(2025, 12, 31), cal,
                  window_from=D(2025, 1, 1)) == []


def test_start_year_and_window(cal):
    cadence = {"kind": "annual", "start": "2025-01-01"}
    start = obligation_start(cadence, {"year": 2024}, D(2020, 1, 1))
    assert keys(expand(cadence, start, D(2027, 1, 1), cal)) == ["2025", "2026", "2027"]
    assert obligation_start({}, {"year": 2024}, D(2020, 1, 1)) == D(2024, 1, 1)
    assert obligation_start({}, {}, D(2020, 1, 1)) == D(2020, 1, 1)
    assert keys(expand({"kind": "monthly"}, D(2025, 1, 1), D(2025, 6, 30), cal, window_from=D(2025, 5, 10))) == [
        "2025-05", "2025-06"]


def test_chained_events(cal):
    assert event_due({"obligation": "req-1.1", "days": 10}, D(2025, 9, 21), cal) == D(2025, 10, 9)
    assert event_due({"obligation": "req-1.1", "days": 10}, D(2025, 3, 3), cal) == D(2025, 3, 13)
    assert event_due({"obligation": "x", "days": 5, "workdays": True}, D(2025, 9, 26), cal) == D(2025, 10, 10)
    assert expand({"kind": "event", "after": {"obligation": "x", "days": 1}}, D(2025, 1, 1), D(2026, 1, 1), cal) == []


def test_period_labels():
    assert [period_label(k) for k in ("2025-03", "2025-Q1", "2025-H2", "2025", "2025~2026", "once")] == [
        "2025年3月", "2025年第1季度", "2025年下半年", "2025年", "2025—2026年", "一次性"]


# ------------------------------------------------------------------ status

@pytest.mark.parametrize("done,completed,waived,today,expected", [
    (0, None, False, D(2025, 3, 1), "open"),
    (0, None, False, D(2025, 3, 25), "due_soon"),
    (0, None, False, D(2025, 4, 1), "overdue"),
    (4, None, False, D(2025, 4, 1), "overdue"),        # 4 of 6 visits is still owed
    (6, D(2025, 3, 31), False, D(2025, 4, 1), "done"),
    (6, D(2025, 4, 2), False, D(2025, 4, 9), "done_late"),
    (0, None, True, D(2025, 5, 1), "waived"),
])
def test_status_rule(done, completed, waived, today, expected):
    assert status(required=6, done=done, due=D(2025, 3, 31), completed_on=completed, waived=waived,
                  today=today, soon_days=7) == expected


def test_completed_on_is_when_the_count_is_reached():
    assert completed_on(6, [(D(2025, 2, 1), 4), (D(2025, 3, 1), 1), (D(2025, 3, 20), 1)]) == D(2025, 3, 20)
    assert completed_on(6, [(D(2025, 2, 1), 4)]) is None


def test_period_parsing():
    assert parse_period("2025H1") == (D(2025, 1, 1), D(2025, 6, 30))
    assert parse_period("2025q4") == (D(2025, 10, 1), D(2025, 12, 31))
    assert parse_period("2024-02") == (D(2024, 2, 1), D(2024, 2, 29))
    assert parse_period("2025") == (D(2025, 1, 1), D(2025, 12, 31))
    assert parse_period("2025-01-15..2025-02-15") == (D(2025, 1, 15), D(2025, 2, 15))
    for bad in ("2025H3", "last year", "2025-13", "2025-02-01..2025-01-01"):
        with pytest.raises(PeriodSyntaxError):
            parse_period(bad)
