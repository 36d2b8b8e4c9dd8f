"""Weekly class sessions and exam sessions of a UE, on hand-made UEs and the shipped Ipst-Cnam centre.

Every case goes through ``service.schedule(centre, year)``: the sessions are laid on the real
semesters, holidays and closures of the centre-year.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from cnam_calendar.ical import build, ics
from cnam_calendar.rules.model import UE, Centre, Schedule
from cnam_calendar.rules.sessions import duration_hours, exam_events, hours_problems, ue_sessions
from cnam_calendar.service import schedule
from cnam_calendar.text.explain import render

PARIS = ZoneInfo("Europe/Paris")
MON, TUE, WED, THU, FRI, SAT = range(6)


def ue(code: str = "TST101", *, semester: str = "S1", weekday: int | None = MON, start: str | None = "18:30",
       end: str | None = "21:00", ects: float = 6, modality: str = "cours du soir", site: str = "toulouse",
       room: str = "T-204") -> UE:
    """A hand-made UE; FOAD when ``weekday`` is None."""
    return UE(code=code, title=f"UE de test {code}", ects=ects, semester=semester, modality=modality,
              site=site, weekday=weekday, start=time.fromisoformat(start) if start else None,
              end=time.fromisoformat(end) if end else None, room=room)


@pytest.fixture(scope="module")
def sched2026(ipst: Centre) -> Schedule:
    return schedule(ipst, 2026)


def window(sched: Schedule, event_id: str) -> tuple[date, date]:
    event = sched.get(event_id)
    assert event is not None, event_id
    return event.start, event.end


def expand(component: icalendar.Event, first: date, last: date) -> list[datetime]:
    """Expand one VEVENT with the independent expander, through a whole calendar as clients see it."""
    cal = icalendar.Calendar()
    cal.add("PRODID", "-//test//test//FR")
    cal.add("VERSION", "2.0")
    cal.add_component(component)
    cal = icalendar.Calendar.from_ical(cal.to_ical())
    return sorted(o["DTSTART"].dt for o in recurring_ical_events.of(cal).between(first, last + timedelta(days=1)))


# --- holidays and closures ------------------------------------------------------------------------------------

def test_public_holiday_is_skipped_and_explained(sched2026: Schedule) -> None:
    s = ue_sessions(ue(weekday=WED, semester="S1"), sched2026)
    armistice = date(2026, 11, 11)  # a Wednesday
    assert armistice not in s.dates
    assert (armistice, "pas de cours : Armistice (jour férié)") in [(d, render(r)) for d, r in s.skipped]
    # the weeks around it are held
    assert armistice - timedelta(days=7) in s.dates and armistice + timedelta(days=7) in s.dates


def test_easter_monday_is_skipped_and_explained(sched2026: Schedule) -> None:
    s = ue_sessions(ue(weekday=MON, semester="S2"), sched2026)
    easter_monday = date(2027, 3, 29)
    assert easter_monday not in s.dates
    assert {d: render(r) for d, r in s.skipped}[easter_monday] == "pas de cours : Lundi de Pâques (jour férié)"


def test_christmas_closure_is_skipped_with_its_label(sched2026: Schedule) -> None:
    closure_start, closure_end = window(sched2026, "closure-noel")
    assert (closure_start, closure_end) == (date(2026, 12, 19), date(2027, 1, 3))
    s = ue_sessions(ue(weekday=MON, semester="S1"), sched2026)
    reasons = {d: render(r) for d, r in s.skipped}
    for monday in (date(2026, 12, 21), date(2026, 12, 28)):
        assert monday not in s.dates
        assert reasons[monday] == "pas de cours : Fermeture de fin d'année (fermeture du centre)"
    assert date(2026, 12, 14) in s.dates and date(2027, 1, 4) in s.dates  # before and after the closure
    assert not any(closure_start <= d <= closure_end for d in s.dates)


def test_every_weekday_date_of_the_semester_is_either_held_or_explained(sched2026: Schedule) -> None:
    for weekday in (MON, TUE, WED, THU, FRI, SAT):
        s = ue_sessions(ue(weekday=weekday, semester="S1"), sched2026)
        start, end = window(sched2026, "semester-1")
        expected = [start + timedelta(days=i) for i in range((end - start).days + 1)
                    if (start + timedelta(days=i)).weekday() == weekday]
        skipped = [d for d, _ in s.skipped]
        assert sorted([*s.dates, *skipped]) == expected, weekday
        assert all(d.weekday() == weekday for d in s.dates)
        assert all(render(reason).startswith("pas de cours : ") for _, reason in s.skipped)
        assert s.first == expected[0] and s.last == s.dates[-1]


def test_friday_over_christmas_day_and_new_year_is_explained(sched2026: Schedule) -> None:
    s = ue_sessions(ue(weekday=FRI, semester="S1"), sched2026)
    reasons = {d: render(r) for d, r in s.skipped}
    # 25 December and 1 January fall inside the closure: each is explained (holiday first)
    assert reasons[date(2026, 12, 25)] == "pas de cours : Noël (jour férié)"
    assert reasons[date(2027, 1, 1)] == "pas de cours : Jour de l'an (jour férié)"


# --- annual UE ------------------------------------------------------------------------------------------------

def test_annual_ue_meets_in_both_semesters_and_never_in_the_gap(sched2026: Schedule) -> None:
    s1_start, s1_end = window(sched2026, "semester-1")
    s2_start, s2_end = window(sched2026, "semester-2")
    winter = window(sched2026, "exam-winter")
    s = ue_sessions(ue(weekday=THU, semester="annual"), sched2026)
    in_s1 = [d for d in s.dates if s1_start <= d <= s1_end]
    in_s2 = [d for d in s.dates if s2_start <= d <= s2_end]
    assert in_s1 and in_s2
    assert len(in_s1) + len(in_s2) == len(s.dates)  # nothing outside the two semesters
    assert not any(s1_end < d < s2_start for d in s.dates)
    assert not any(winter[0] <= d <= winter[1] for d in s.dates)
    gap = [d for d, r in s.skipped if s1_end < d < s2_start]
    assert gap, "the Thursdays of the exam-winter gap are explained"
    assert all({d: render(r) for d, r in s.skipped}[d] == "pas de cours : intersemestre (session d'examens d'hiver)" for d in gap)
    assert s.first == in_s1[0] and s.last == in_s2[-1]
    # the annual UE holds exactly the sessions of an S1 and an S2 UE on the same day
    s1 = ue_sessions(ue(weekday=THU, semester="S1"), sched2026)
    s2 = ue_sessions(ue(weekday=THU, semester="S2"), sched2026)
    assert s.dates == s1.dates + s2.dates


def test_annual_ue_feed_expands_to_both_semesters(sched2026: Schedule, ipst: Centre) -> None:
    s = ue_sessions(ue(weekday=THU, semester="annual", start="18:00", end="20:30"), sched2026)
    item = ics.sessions_item(s, ipst, 2026)
    assert item is not None
    got = expand(item.component, date(2026, 9, 1), date(2027, 9, 30))
    assert got == [datetime.combine(d, time(18, 0), PARIS) for d in s.dates]


# --- daylight saving time -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("semester", "weekday", "before", "after"), [
    # clocks go back on the last Sunday of October (25 Oct 2026): +02:00 → +01:00
    pytest.param("S1", TUE, date(2026, 10, 20), date(2026, 10, 27), id="october-clocks-back"),
    # clocks go forward on the last Sunday of March (28 Mar 2027): +01:00 → +02:00
    pytest.param("S2", TUE, date(2027, 3, 23), date(2027, 3, 30), id="march-clocks-forward"),
])
def test_evening_class_stays_at_1830_across_a_dst_change(sched2026: Schedule, ipst: Centre, semester: str,
                                                        weekday: int, before: date, after: date) -> None:
    s = ue_sessions(ue(weekday=weekday, semester=semester, start="18:30", end="20:30"), sched2026)
    assert before in s.dates and after in s.dates
    offsets = {d: datetime.combine(d, time(18, 30), PARIS).utcoffset() for d in (before, after)}
    summer, winter = timedelta(hours=2), timedelta(hours=1)
    assert offsets == ({before: summer, after: winter} if semester == "S1" else {before: winter, after: summer})

    item = ics.sessions_item(s, ipst, 2026)
    assert item is not None
    dtstart = item.component["DTSTART"]
    assert dtstart.params["TZID"] == "Europe/Paris"
    assert dtstart.dt.time() == time(18, 30)
    got = expand(item.component, s.dates[0], s.dates[-1])
    assert got == [datetime.combine(d, time(18, 30), PARIS) for d in s.dates]
    by_day = {o.date(): o for o in got}
    for d in (before, after):
        local = by_day[d].astimezone(PARIS)
        assert local.time() == time(18, 30), d
        assert local.utcoffset() == offsets[d], d
    # the same wall-clock time is one hour apart in UTC on each side of the change
    utc_before = by_day[before].astimezone(timezone.utc).time()
    utc_after = by_day[after].astimezone(timezone.utc).time()
    assert {utc_before, utc_after} == {time(16, 30), time(17, 30)}
    assert utc_before == (time(16, 30) if semester == "S1" else time(17, 30))


def test_every_session_of_a_whole_year_is_at_local_1830(sched2026: Schedule, ipst: Centre) -> None:
    s = ue_sessions(ue(weekday=TUE, semester="annual", start="18:30", end="20:30"), sched2026)
    item = ics.sessions_item(s, ipst, 2026)
    assert item is not None
    got = expand(item.component, date(2026, 9, 1), date(2027, 9, 30))
    assert [o.astimezone(PARIS).time() for o in got] == [time(18, 30)] * len(s.dates)
    assert {o.astimezone(PARIS).utcoffset() for o in got} == {timedelta(hours=1), timedelta(hours=2)}


# --- a weekday that is a holiday every year ------------------------------------------------------------------

@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_monday_class_over_easter_and_whit_monday(ipst: Centre, year: int) -> None:
    sched = schedule(ipst, year)
    s = ue_sessions(ue(weekday=MON, semester="S2", start="18:00", end="20:30"), sched)
    s2_start, s2_end = window(sched, "semester-2")
    holidays = {e.title: e.start for e in sched.events if e.kind == "holiday"}
    easter, whit = holidays["Lundi de Pâques"], holidays["Lundi de Pentecôte"]
    assert easter.weekday() == MON and whit.weekday() == MON
    reasons = {d: render(r) for d, r in s.skipped}
    assert easter not in s.dates and whit not in s.dates
    assert s2_start <= easter <= s2_end
    assert reasons[easter] == "pas de cours : Lundi de Pâques (jour férié)"
    if s2_start <= whit <= s2_end:  # 2028: Whit Monday (5 June) falls after the semester
        assert reasons[whit] == "pas de cours : Lundi de Pentecôte (jour férié)"
    # the Mondays around Easter are held
    assert easter - timedelta(days=7) in s.dates and easter + timedelta(days=7) in s.dates
    ics_item = ics.sessions_item(s, ipst, year)
    assert ics_item is not None
    exdates = {d.dt for prop in _as_list(ics_item.component["EXDATE"]) for d in prop.dts}
    assert datetime.combine(easter, time(18, 0), PARIS) in exdates
    assert easter not in {o.date() for o in expand(ics_item.component, s2_start, s2_end)}


def _as_list(value):
    return value if isinstance(value, list) else [value]


# --- FOAD ----------------------------------------------------------------------------------------------------

def test_foad_ue_has_no_sessions_but_its_exams(sched2026: Schedule, ipst: Centre) -> None:
    foad = ue("FOAD01", semester="annual", modality="FOAD", weekday=None, start=None, end=None, site="", room="")
    assert not foad.timed
    s = ue_sessions(foad, sched2026)
    assert s.dates == () and s.skipped == () and s.first is None and s.last is None
    assert s.hours == 0
    assert ics.sessions_item(s, ipst, 2026) is None
    items = build.ue_items(sched2026, foad)
    assert [str(i.component["UID"]).split(".")[0] for i in items] == ["ue-FOAD01-exam-june",
                                                                      "ue-FOAD01-exam-september"]
    assert hours_problems(sched2026, [foad]) == []


# --- exams ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("semester", "first", "second"), [
    pytest.param("S1", "exam-winter", "exam-june", id="S1-winter-then-june"),
    pytest.param("S2", "exam-june", "exam-september", id="S2-june-then-september"),
    pytest.param("annual", "exam-june", "exam-september", id="annual-june-then-september"),
])
def test_two_exam_sessions(sched2026: Schedule, semester: str, first: str, second: str) -> None:
    exams = exam_events(ue("NFA031", semester=semester), sched2026)
    assert [e.id for e in exams] == [f"ue-NFA031-{first}", f"ue-NFA031-{second}"]
    for exam, window_id in zip(exams, (first, second), strict=True):
        assert exam.kind == "exam"
        assert (exam.start, exam.end) == window(sched2026, window_id)
        assert "NFA031" in exam.title and "NFA031" in exam.categories
    assert "1re session" in exams[0].title and "2e session" in exams[1].title
    assert exams[0].start < exams[1].start


# --- hours ----------------------------------------------------------------------------------------------------

# Counted by hand on the 2026-2027 calendar of Ipst-Cnam (closure 19 Dec 2026 – 3 Jan 2027):
# S1 Tuesdays 13 Oct – 12 Jan are 14, minus 22 and 29 Dec; S2 Saturdays 20 Feb – 29 May are 15,
# minus 1 and 8 May; annual Mondays: 14 in S1 minus 21 and 28 Dec, 16 in S2 minus Easter Monday
# (29 Mar) and Whit Monday (17 May).
@pytest.mark.parametrize(("semester", "weekday", "start", "end", "length", "sessions", "hours"), [
    ("S1", TUE, "17:45", "21:30", 3.75, 12, 45.0),
    ("S2", SAT, "08:30", "13:00", 4.5, 13, 58.5),
    ("annual", MON, "18:00", "20:30", 2.5, 26, 65.0),
    ("S1", FRI, "09:00", "09:20", 1 / 3, 12, 4.0),
])
def test_hours_are_sessions_times_duration(sched2026: Schedule, semester: str, weekday: int, start: str,
                                           end: str, length: float, sessions: int, hours: float) -> None:
    u = ue(semester=semester, weekday=weekday, start=start, end=end)
    s = ue_sessions(u, sched2026)
    assert duration_hours(u) == pytest.approx(length)
    assert len(s.dates) == sessions
    assert s.hours == pytest.approx(hours)


def test_hours_problem_reports_both_numbers(sched2026: Schedule) -> None:
    short = ue("SHORT6", ects=6, semester="S1", weekday=TUE, start="18:00", end="19:00")
    hours = ue_sessions(short, sched2026).hours
    assert hours < 48 * 0.9  # 1 h a week cannot reach 6 ECTS × 8 h
    problems = hours_problems(sched2026, [short])
    assert len(problems) == 1
    message = problems[0]
    assert "SHORT6" in message and "6 ECTS" in message
    assert f"{hours:g} h" in message  # scheduled
    assert "attendu 48 h" in message and "± 10 %" in message  # expected, with the tolerance
    assert "(43,2 – 52,8 h)" in message  # French decimals
    assert "2026-2027" in message


def test_hours_problem_too_many_hours(sched2026: Schedule) -> None:
    long = ue("LONG04", ects=4, semester="annual", weekday=WED, start="18:00", end="21:30")
    hours = ue_sessions(long, sched2026).hours
    assert hours > 32 * 1.1
    [message] = hours_problems(sched2026, [long])
    assert f"{hours:g} h" in message and "attendu 32 h" in message


def test_no_hours_problem_inside_tolerance(sched2026: Schedule) -> None:
    fits = ue("FITS08", ects=8, semester="annual", weekday=MON, start="18:00", end="20:30")
    hours = ue_sessions(fits, sched2026).hours
    assert 8 * 8 * 0.9 <= hours <= 8 * 8 * 1.1, hours  # the case really is inside the tolerance
    assert hours_problems(sched2026, [fits]) == []
    short = ue("SHORT6", ects=6, semester="S1", weekday=TUE, start="18:00", end="19:00")
    # only the UE outside tolerance is named
    [message] = hours_problems(sched2026, [fits, short])
    assert "SHORT6" in message and "FITS08" not in message
