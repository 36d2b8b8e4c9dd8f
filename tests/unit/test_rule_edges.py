"""The edges a wrong date hides behind, one test each: the bounds of a working-day calendar, a class
on a closure's last day, a semester that does not start on a Monday, trailing skipped dates, hours
exactly on the tolerance limit, the inclusive bounds of a reminder window.

Expected values are worked out by hand on a 2026–2027 calendar (written in each test).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from cnam_calendar import service
from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.errors import RuleError
from cnam_calendar.rules.model import UE, Centre, Closure, Learner, Override, YearSettings
from cnam_calendar.rules.reminders import in_window, plan_reminders
from cnam_calendar.rules.sessions import Sessions, exam_events, hours_problems, session_explanation, ue_sessions
from cnam_calendar.text.explain import render, render_all

D = date.fromisoformat
MON, TUE, WED, THU, FRI = range(5)


def ue(code: str = "TST101", *, semester: str = "S1", weekday: int | None = TUE, start: str = "18:00",
       end: str = "21:00", ects: float = 6) -> UE:
    from datetime import time

    return UE(code=code, title=f"UE {code}", ects=ects, semester=semester, modality="cours du soir",
              site="toulouse", weekday=weekday, start=time.fromisoformat(start), end=time.fromisoformat(end))


def with_year(centre: Centre, overrides=(), closures=None) -> Centre:
    base = centre.year(2026)
    settings = YearSettings({**base.overrides, **{o.event_id: o for o in overrides}},
                            base.closures if closures is None else tuple(closures))
    return replace(centre, years={**centre.years, 2026: settings})


# --- the working-day calendar at the ends of its period -----------------------------------------------

@pytest.fixture(scope="module")
def year_2026() -> WorkingCalendar:
    """2026 alone, no holiday: 1 January is a Thursday, 31 December a Thursday."""
    return WorkingCalendar({}, 2026, 2026)


def test_first_and_last_day_of_the_period_are_inside(year_2026: WorkingCalendar) -> None:
    assert year_2026.add(D("2026-01-01"), 1) == D("2026-01-02")
    assert year_2026.subtract(D("2026-12-31"), 1) == D("2026-12-30")
    assert year_2026.next_or_same(D("2026-12-31")) == D("2026-12-31")
    # Monday 5 January − 2 = Thursday 1 January: the very first working day of the period
    assert year_2026.subtract(D("2026-01-05"), 2) == D("2026-01-01")


@pytest.mark.parametrize(("call", "message"), [
    (lambda c: c.add(D("2026-12-31"), 1), "2026-12-31 + 1 jours dépasse la période calculée (jusqu'au 2026-12-31)"),
    (lambda c: c.add(D("2027-01-01"), 1), "la date 2027-01-01 est hors de la période calculée (2026-01-01 – "
                                          "2026-12-31) (choisissez une date entre ces bornes)"),
    (lambda c: c.add(D("2025-12-31"), 1), "la date 2025-12-31 est hors de la période calculée (2026-01-01 – "
                                          "2026-12-31) (choisissez une date entre ces bornes)"),
    (lambda c: c.subtract(D("2026-01-05"), 3), "2026-01-05 − 3 jours précède la période calculée (depuis le "
                                               "2026-01-01)"),
], ids=["add-past-the-end", "after-the-period", "before-the-period", "subtract-before-the-start"])
def test_leaving_the_period_is_a_named_rule_error(year_2026: WorkingCalendar, call, message: str) -> None:
    with pytest.raises(RuleError) as info:
        call(year_2026)
    assert str(info.value) == message


# --- sessions -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sched(ipst: Centre):
    return service.schedule(ipst, 2026)


def test_a_class_on_a_closures_first_and_last_day_is_skipped(ipst: Centre) -> None:
    # closure Tuesday 10 – Tuesday 17 November 2026: both Tuesdays skipped, the 24th held
    centre = with_year(ipst, closures=[Closure("pont", "Pont", D("2026-11-10"), D("2026-11-17"))])
    s = ue_sessions(ue(weekday=TUE), service.schedule(centre, 2026))
    assert tuple((d, render(r)) for d, r in s.skipped) == ((D("2026-11-10"), "pas de cours : Pont (fermeture du centre)"),
                         (D("2026-11-17"), "pas de cours : Pont (fermeture du centre)"))
    assert D("2026-11-03") in s.dates and D("2026-11-24") in s.dates


@pytest.mark.parametrize(("weekday", "first"), [(WED, "2026-10-14"), (THU, "2026-10-15"), (TUE, "2026-10-20"),
                                                (MON, "2026-10-19")])
def test_a_semester_starting_midweek_puts_classes_on_their_own_weekday(ipst: Centre, weekday: int,
                                                                       first: str) -> None:
    centre = with_year(ipst, overrides=[Override("semester-1", D("2026-10-14"))])  # a Wednesday
    s = ue_sessions(ue(weekday=weekday), service.schedule(centre, 2026))
    assert s.first == s.dates[0] == D(first)
    assert all(d.weekday() == weekday for d in s.dates)


def test_trailing_skipped_dates_are_dropped(ipst: Centre) -> None:
    # S2 Mondays: 17 May 2027 is Whit Monday, a closure takes 24 and 31 May: the series ends on 10 May
    centre = with_year(ipst, closures=[Closure("fin", "Fin d'année", D("2027-05-22"), D("2027-05-31"))])
    s = ue_sessions(ue(semester="S2", weekday=MON), service.schedule(centre, 2026))
    assert s.last == s.dates[-1] == D("2027-05-10")
    assert [d for d, _ in s.skipped] == [D("2027-03-29")]  # Easter Monday, inside the series


def test_session_explanation_word_for_word(sched) -> None:
    s = ue_sessions(ue("NFA031", semester="annual", weekday=MON, start="18:30", end="21:00"), sched)
    assert render_all(session_explanation(s, "Europe/Paris")) == (
        "UE annuelle, cours du soir, le lundi de 18:30 à 21:00 (heure locale, Europe/Paris).",
        "26 séances du lundi 12 octobre 2026 au lundi 31 mai 2027, soit 65 h.",
        "lundi 21 décembre 2026 : pas de cours : Fermeture de fin d'année (fermeture du centre).",
        "lundi 28 décembre 2026 : pas de cours : Fermeture de fin d'année (fermeture du centre).",
        "lundi 18 janvier 2027 : pas de cours : intersemestre (session d'examens d'hiver).",
        "lundi 25 janvier 2027 : pas de cours : intersemestre (session d'examens d'hiver).",
        "lundi 1er février 2027 : pas de cours : intersemestre (session d'examens d'hiver).",
        "lundi 8 février 2027 : pas de cours : intersemestre (session d'examens d'hiver).",
        "lundi 29 mars 2027 : pas de cours : Lundi de Pâques (jour férié).",
        "lundi 17 mai 2027 : pas de cours : Lundi de Pentecôte (jour férié).",
    )
    foad = UE(code="FOAD01", title="À distance", ects=4, semester="S1", modality="FOAD")
    assert render_all(session_explanation(ue_sessions(foad, sched), "Europe/Paris")) == (
        "FOAD01 est en FOAD : pas de séance à heure fixe.",)


# 6 ECTS × 8 h = 48 h expected; with a 25 % tolerance the limits are 36 h and 60 h, exact in binary.
# S1 Tuesdays of 2026-2027 hold 12 sessions (14 Tuesdays, minus 22 and 29 December).
@pytest.mark.parametrize(("start", "end", "hours", "reported"), [
    ("18:00", "21:00", 36.0, False),  # exactly the low limit
    ("18:00", "23:00", 60.0, False),  # exactly the high limit
    ("18:00", "20:55", 35.0, True),
    ("18:00", "23:05", 61.0, True),
])
def test_hours_exactly_on_the_tolerance_limit_are_accepted(ipst: Centre, start: str, end: str, hours: float,
                                                          reported: bool) -> None:
    centre = replace(ipst, rules=replace(ipst.rules, hours=replace(ipst.rules.hours, tolerance=0.25)))
    sched = service.schedule(centre, 2026)
    u = ue("LIM006", start=start, end=end)
    assert ue_sessions(u, sched).hours == pytest.approx(hours)
    found = hours_problems(sched, [u])
    if reported:
        assert found == [f"{centre.catalogue_file} : LIM006 (6 ECTS) a {hours:g} h de cours en 2026-2027, "
                         "attendu 48 h ± 25 % (36,0 – 60,0 h)"]  # French decimals
    else:
        assert found == []


# --- the reminder window ----------------------------------------------------------------------------------

def test_the_window_of_a_reminder_includes_both_of_its_bounds(ipst: Centre) -> None:
    one = Learner("W1", "w@example.org", "W", "X", "ipst-cnam", "31", "individuel", (), date(2026, 11, 2))
    rs = plan_reminders([one], {ipst.id: service.schedule(ipst, 2026)},
                        {ipst.id: service.ouvres_for(ipst, 2025, 2028)}, {"W1": "w" * 32})
    # withdrawal: Mon 2 Nov + 10 = Thu 12 Nov 2026; J-1 is due on Wednesday 11 November at 09:00
    r = next(r for r in rs if r.event_id == "withdrawal" and r.offset_days == 1)
    day = D("2026-11-11")
    assert r.local_due.date() == day
    assert in_window(r, day, day) and in_window(r, None, day) and in_window(r, day, None)
    assert in_window(r, None, None)
    assert not in_window(r, D("2026-11-12"), None) and not in_window(r, None, D("2026-11-10"))
    assert not in_window(r, D("2026-11-12"), D("2026-11-30"))


def test_an_inverted_semester_gives_no_session(ipst: Centre) -> None:
    centre = with_year(ipst, overrides=[Override("semester-1", D("2026-10-20"), D("2026-10-10"))])
    u = ue()
    assert ue_sessions(u, service.schedule(centre, 2026)) == Sessions(u, (), (), None, None)


def test_a_one_day_semester_holds_its_one_class(ipst: Centre) -> None:
    centre = with_year(ipst, overrides=[Override("semester-1", D("2026-10-13"), D("2026-10-13"))])  # a Tuesday
    s = ue_sessions(ue(weekday=TUE), service.schedule(centre, 2026))
    assert (s.dates, s.skipped, s.first, s.last) == ((D("2026-10-13"),), (), D("2026-10-13"), D("2026-10-13"))


def test_a_ue_whose_every_date_is_skipped_has_no_series(ipst: Centre) -> None:
    # a one-day semester on Armistice (Wednesday 11 November 2026)
    centre = with_year(ipst, overrides=[Override("semester-1", D("2026-11-11"), D("2026-11-11"))])
    u = ue(weekday=WED)
    s = ue_sessions(u, service.schedule(centre, 2026))
    assert s == Sessions(u, (), (), None, None)
    assert s.hours == 0.0


def test_session_explanation_names_the_ues_own_weekday(sched) -> None:
    s = ue_sessions(ue("NFA032", semester="S1", weekday=TUE, start="17:45", end="21:30"), sched)
    assert render_all(session_explanation(s, "Europe/Paris"))[:2] == (
        "UE semestre 1, cours du soir, le mardi de 17:45 à 21:30 (heure locale, Europe/Paris).",
        "12 séances du mardi 13 octobre 2026 au mardi 12 janvier 2027, soit 45 h.",
    )


EXAM_SOURCE = ("FAQ Ipst-Cnam, « Combien de sessions d'examen y a-t-il par an ? » : Chaque UE comporte deux sessions "
               "d'examen par année universitaire. <https://ipst.cnam.fr/contact/foire-aux-questions-ipst-cnam--"
               "1605162.kjsp?RH=1623911274792>")


def test_exam_sessions_word_for_word(sched) -> None:
    s1 = exam_events(ue("NFA031", semester="S1"), sched)
    assert [(e.id, e.kind, e.start, e.end, e.title, e.title_en, e.categories) for e in s1] == [
        ("ue-NFA031-exam-winter", "exam", D("2027-01-18"), D("2027-02-13"),
         "Examen NFA031 — 1re session (session d'examens d'hiver)",
         "Exam NFA031: first sitting (Winter exam session)", ("Examens", "NFA031")),
        ("ue-NFA031-exam-june", "exam", D("2027-06-01"), D("2027-06-30"),
         "Examen NFA031 — 2e session (session d'examens de juin)",
         "Exam NFA031: second sitting (June exam session)", ("Examens", "NFA031")),
    ]
    assert render_all(s1[0].explanation)[:3] == (
        "UE semestre 1 : session d’hiver puis juin.",
        "1re session de NFA031 : Session d'examens d'hiver, du lundi 18 janvier 2027 au samedi 13 février 2027.",
        "La date exacte de l'épreuve est publiée par le service des examens.",
    )
    assert render_all(s1[0].explanation)[3:] == render_all(sched.get("exam-winter").explanation)
    assert all(e.source.cite() == EXAM_SOURCE for e in s1)
    s2 = exam_events(ue("NFA031", semester="S2"), sched)
    assert [(e.id, e.title) for e in s2] == [
        ("ue-NFA031-exam-june", "Examen NFA031 — 1re session (session d'examens de juin)"),
        ("ue-NFA031-exam-september", "Examen NFA031 — 2e session (session d'examens de septembre)"),
    ]
    assert render_all(s2[1].explanation)[:2] == (
        "UE semestre 2 : sessions de juin puis de septembre.",
        "2e session de NFA031 : Session d'examens de septembre, du mercredi 1er septembre 2027 au jeudi 30 septembre "
        "2027.",
    )


def test_a_missing_exam_window_leaves_the_other_session(sched) -> None:
    without_winter = replace(sched, events=tuple(e for e in sched.events if e.id != "exam-winter"))
    assert [e.id for e in exam_events(ue("NFA031", semester="S1"), without_winter)] == ["ue-NFA031-exam-june"]


def test_untimed_ues_before_a_timed_one_do_not_hide_its_problem(sched) -> None:
    foad = UE(code="FOAD01", title="À distance", ects=4, semester="S1", modality="FOAD")
    short = ue("SHORT6", start="18:00", end="19:00")  # 12 × 1 h against 48 h ± 10 %
    assert [p.split(" : ", 1)[1].split(" (")[0] for p in hours_problems(sched, [foad, short])] == ["SHORT6"]


def test_long_dates_with_and_without_the_weekday() -> None:
    from cnam_calendar.text.i18n import long_date

    assert long_date(D("2026-10-01")) == "jeudi 1er octobre 2026"
    assert long_date(D("2026-10-01"), weekday=False) == "1er octobre 2026"
    assert long_date(D("2026-10-02"), "en") == "Friday 2 October 2026"
    assert long_date(D("2026-10-01"), "en", weekday=False) == "1 October 2026"


def test_a_schedule_without_the_ues_semester_gives_no_session(sched) -> None:
    without_s1 = replace(sched, events=tuple(e for e in sched.events if e.id != "semester-1"))
    u = ue(semester="S1")
    assert ue_sessions(u, without_s1) == Sessions(u, (), (), None, None)
