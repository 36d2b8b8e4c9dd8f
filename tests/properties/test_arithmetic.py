"""Laws of the working-day arithmetic, checked with hypothesis.

Each law is checked on the real French calendars (national and Alsace-Moselle) and on random
holiday sets, and add() is compared with a naive day-by-day walk and with numpy.busday_offset.
"""

from __future__ import annotations

import calendar as pycal
from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cnam_calendar.inputs.holidays_fr import calendars_for
from cnam_calendar.rules import dates
from cnam_calendar.rules.dates import OUVRABLES, OUVRES, WorkingCalendar
from cnam_calendar.rules.engine import build_schedule, check_schedule
from cnam_calendar.service import DEFAULT_CENTRE

FIRST, LAST = 2025, 2029  # calendars cover these civil years
NATIONAL = calendars_for(None, FIRST, LAST)[0]
ALSACE_MOSELLE = calendars_for("57", FIRST, LAST)[0]
OUVRABLES_NAT = calendars_for(None, FIRST, LAST)[1]

# dates well inside the calendars, so that ±n never leaves them
inner = st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31))
any_date = st.dates(min_value=date(1901, 1, 1), max_value=date(2199, 12, 31))
n_days = st.integers(min_value=1, max_value=40)
french = st.sampled_from([NATIONAL, ALSACE_MOSELLE, OUVRABLES_NAT])
random_holidays = st.frozensets(st.dates(min_value=date(2025, 6, 1), max_value=date(2029, 6, 30)), max_size=60)

FAST = settings(max_examples=300, deadline=None)
SLOW = settings(max_examples=60, deadline=None)  # builds a calendar per example


def _random_calendar(holidays: frozenset[date], weekdays: frozenset[int] = OUVRES) -> WorkingCalendar:
    return WorkingCalendar({d: ("Férié aléatoire",) for d in holidays}, FIRST, LAST, weekdays)


def naive_add(d: date, n: int, cal: WorkingCalendar) -> date:
    """Walk day by day: the n-th working day strictly after d."""
    day, count = d, 0
    while count < n:
        day += timedelta(days=1)
        if day.weekday() in cal.weekdays and day not in cal.holidays:
            count += 1
    return day


def working_between(a: date, b: date, cal: WorkingCalendar) -> int:
    """Count working days strictly between a and b."""
    return sum(1 for d in dates.days(a + timedelta(days=1), b - timedelta(days=1)) if cal.is_working(d))


# --- add / subtract -------------------------------------------------------------------------------------

@FAST
@given(d=inner, n=n_days, cal=french)
def test_add_lands_on_a_working_day_strictly_after_with_n_minus_1_between(d: date, n: int,
                                                                         cal: WorkingCalendar) -> None:
    r = cal.add(d, n)
    assert r > d
    assert cal.is_working(r)
    assert working_between(d, r, cal) == n - 1


@FAST
@given(d=inner, n=n_days, cal=french)
def test_add_equals_naive_walk(d: date, n: int, cal: WorkingCalendar) -> None:
    assert cal.add(d, n) == naive_add(d, n, cal)


@SLOW
@given(holidays=random_holidays, d=inner, n=n_days, saturday=st.booleans())
def test_add_equals_naive_walk_on_random_holidays(holidays: frozenset[date], d: date, n: int,
                                                  saturday: bool) -> None:
    cal = _random_calendar(holidays, OUVRABLES if saturday else OUVRES)
    assert cal.add(d, n) == naive_add(d, n, cal)


def _busday(d: date, n: int, cal: WorkingCalendar) -> date:
    mask = [i in cal.weekdays for i in range(7)]
    holidays = np.array(sorted(cal.holidays), dtype="datetime64[D]")
    result = np.busday_offset(np.datetime64(d, "D"), n, roll="backward", weekmask=mask, holidays=holidays)
    return result.astype(object)


@FAST
@given(d=inner, n=n_days, cal=french)
def test_add_equals_numpy_busday_offset_backward(d: date, n: int, cal: WorkingCalendar) -> None:
    assert cal.add(d, n) == _busday(d, n, cal)


@SLOW
@given(holidays=random_holidays, d=inner, n=n_days)
def test_add_equals_numpy_on_random_holidays(holidays: frozenset[date], d: date, n: int) -> None:
    cal = _random_calendar(holidays)
    assert cal.add(d, n) == _busday(d, n, cal)


def test_add_agrees_with_numpy_on_every_day_2026_2028() -> None:
    """Exhaustive, vectorised: D + 3 jours ouvrés for each day of 2026–2028, both calendars."""
    for cal in (NATIONAL, ALSACE_MOSELLE):
        every = list(dates.days(date(2026, 1, 1), date(2028, 12, 31)))
        holidays = np.array(sorted(cal.holidays), dtype="datetime64[D]")
        expected = np.busday_offset(np.array(every, dtype="datetime64[D]"), 3, roll="backward", holidays=holidays)
        assert [cal.add(d, 3) for d in every] == list(expected.astype(object))


@FAST
@given(d=inner, n=n_days, cal=french)
def test_subtract_lands_on_a_working_day_strictly_before_with_n_minus_1_between(d: date, n: int,
                                                                               cal: WorkingCalendar) -> None:
    r = cal.subtract(d, n)
    assert r < d
    assert cal.is_working(r)
    assert working_between(r, d, cal) == n - 1


@FAST
@given(d=inner, n=n_days, cal=french)
def test_subtract_is_the_inverse_of_add_on_working_days(d: date, n: int, cal: WorkingCalendar) -> None:
    w = cal.next_or_same(d)
    assert cal.subtract(cal.add(w, n), n) == w
    assert cal.add(cal.subtract(w, n), n) == w


@SLOW
@given(holidays=random_holidays, d=inner, n=n_days)
def test_subtract_inverse_on_random_holidays(holidays: frozenset[date], d: date, n: int) -> None:
    cal = _random_calendar(holidays)
    w = cal.next_or_same(d)
    assert cal.subtract(cal.add(w, n), n) == w


@FAST
@given(d=inner, a=st.integers(1, 20), b=st.integers(1, 20), cal=french)
def test_add_composes(d: date, a: int, b: int, cal: WorkingCalendar) -> None:
    assert cal.add(cal.add(d, a), b) == cal.add(d, a + b)


@FAST
@given(d=inner, n=n_days, cal=french)
def test_add_is_monotonic(d: date, n: int, cal: WorkingCalendar) -> None:
    assert cal.add(d, n) <= cal.add(d + timedelta(days=1), n)
    assert cal.add(d, n) < cal.add(d, n + 1)


# --- prorogation ----------------------------------------------------------------------------------------

@FAST
@given(d=inner, cal=st.sampled_from([NATIONAL, ALSACE_MOSELLE]))
def test_prorogate_is_the_first_working_day_on_or_after(d: date, cal: WorkingCalendar) -> None:
    p = dates.prorogate(d, cal)
    assert p >= d
    assert cal.is_working(p)
    assert (p == d) == cal.is_working(d)
    assert all(not cal.is_working(x) for x in dates.days(d, p - timedelta(days=1)))
    assert p.weekday() < 5 and p not in cal.holidays
    assert dates.prorogate(p, cal) == p  # idempotent


@FAST
@given(d=inner)
def test_prorogate_equals_numpy_roll_forward(d: date) -> None:
    holidays = np.array(sorted(NATIONAL.holidays), dtype="datetime64[D]")
    expected = np.busday_offset(np.datetime64(d, "D"), 0, roll="forward", holidays=holidays).astype(object)
    assert dates.prorogate(d, NATIONAL) == expected


# --- months ---------------------------------------------------------------------------------------------

@FAST
@given(d=any_date.filter(lambda x: x.year < 2190), m=st.integers(min_value=0, max_value=60))
def test_add_months_same_day_number_clipped_to_month_end(d: date, m: int) -> None:
    r = dates.add_months(d, m)
    months = d.year * 12 + d.month - 1 + m
    assert (r.year, r.month) == (months // 12, months % 12 + 1)
    month_len = pycal.monthrange(r.year, r.month)[1]
    assert r.day == min(d.day, month_len)
    assert d.day - 3 <= r.day <= d.day  # never more than 3 days from the same day number
    if d.day <= 28:
        assert r.day == d.day


# --- ISO weeks ------------------------------------------------------------------------------------------

@FAST
@given(d=any_date)
def test_monday_and_saturday_of_iso_week(d: date) -> None:
    monday, saturday = dates.monday_of_iso_week(d), dates.saturday_of_iso_week(d)
    assert monday.weekday() == 0 and saturday.weekday() == 5
    assert monday.isocalendar()[:2] == d.isocalendar()[:2] == saturday.isocalendar()[:2]
    assert monday <= d and (d - monday).days < 7
    assert (saturday - monday).days == 5


@FAST
@given(d=any_date.filter(lambda x: date(1901, 1, 8) < x < date(2199, 12, 24)), wd=st.integers(0, 6))
def test_next_and_previous_weekday(d: date, wd: int) -> None:
    nxt, prev = dates.next_weekday_after(d, wd), dates.previous_weekday_before(d, wd)
    assert nxt.weekday() == wd and 1 <= (nxt - d).days <= 7
    assert prev.weekday() == wd and 1 <= (d - prev).days <= 7


def walk_to(d: date, weekday: int, step: int) -> date:
    """Walk from ``d`` (included) one day at a time in direction ``step`` until ``weekday``."""
    while d.weekday() != weekday:
        d += timedelta(days=step)
    return d


@SLOW
@given(year=st.integers(1901, 2197))
def test_engine_semesters_and_winter_session_for_any_year(year: int) -> None:
    """The engine's semesters, against the rules of DESIGN.md worked out another way.

    ISO weeks through ``date.fromisocalendar``, "the Monday after" and "the Saturday before" by
    walking a day at a time; the engine is called, never the dates helpers it uses.
    """
    cal = WorkingCalendar({}, year - 1, year + 2)  # no holiday: the semesters do not depend on them
    sched = build_schedule(DEFAULT_CENTRE, year, cal)
    s1, s2, winter = sched.get("semester-1"), sched.get("semester-2"), sched.get("exam-winter")
    oct15, jan15, feb15 = date(year, 10, 15).isocalendar(), date(year + 1, 1, 15).isocalendar(), \
        date(year + 1, 2, 15).isocalendar()
    assert s1.start == date.fromisocalendar(oct15.year, oct15.week, 1)
    assert s1.end == date.fromisocalendar(jan15.year, jan15.week, 6)
    assert s2.start == date.fromisocalendar(feb15.year, feb15.week, 1)
    assert s2.end == date(year + 1, 5, 31)
    assert winter.start == walk_to(s1.end + timedelta(days=1), 0, +1)
    assert winter.end == walk_to(s2.start - timedelta(days=1), 5, -1)
    assert (sched.get("exam-june").start, sched.get("exam-june").end) == (date(year + 1, 6, 1), date(year + 1, 6, 30))
    assert (sched.get("exam-september").start, sched.get("exam-september").end) == \
        (date(year + 1, 9, 1), date(year + 1, 9, 30))
    # the rules' own bounds: mid-October to mid-January, mid-February to the end of May
    assert date(year, 10, 9) <= s1.start <= date(year, 10, 15)
    assert date(year + 1, 1, 14) <= s1.end <= date(year + 1, 1, 20)
    assert date(year + 1, 2, 9) <= s2.start <= date(year + 1, 2, 15)
    assert check_schedule(sched) == []


@FAST
@given(year=st.integers(1901, 2199))
def test_last_day_of_february_for_any_year(year: int) -> None:
    assert dates.last_day_of_february(year).day == (29 if pycal.isleap(year) else 28)
