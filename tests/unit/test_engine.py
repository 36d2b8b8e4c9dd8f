"""The rules of DESIGN.md ("Rule semantics"), table-driven over academic years 2026–2028.

Expected values are the public vectors of shared/research/rule-vectors.csv (reasoned by hand and
cross-checked against holidays, workalendar and numpy), copied here so the suite stands alone.
AM = the test centre cnam-grand-est, holiday subdivision 57 (Alsace-Moselle).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from cnam_calendar import service
from cnam_calendar.inputs.config import load_centre
from cnam_calendar.rules import engine
from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.errors import CnamCalendarError
from cnam_calendar.rules.model import Centre, Override, RuleSettings, YearSettings
from cnam_calendar.text.explain import render_all

NATIONAL = service.DEFAULT_CENTRE
CDC4 = Centre(id="cdc4", name="CGU de la Caisse des Dépôts", rules=RuleSettings(cpf_working_days=4))
D = date.fromisoformat
YEARS = (2026, 2027, 2028)


# --- personal deadlines ---------------------------------------------------------------------------

# (id, rule, from, expected, calendar, holiday the explanation must name or None)
PERSONAL = [
    # cpf-confirmation: D + 3 jours ouvrés, D not counted
    ("cpf-toussaint-on-sunday-no-carry-over", "cpf-confirmation", "2026-10-29", "2026-11-03", "nat", "Toussaint"),
    ("cpf-over-toussaint-monday", "cpf-confirmation", "2027-10-29", "2027-11-04", "nat", "Toussaint"),
    ("cpf-over-armistice", "cpf-confirmation", "2026-11-09", "2026-11-13", "nat", "Armistice"),
    ("cpf-over-armistice-thursday", "cpf-confirmation", "2027-11-09", "2027-11-15", "nat", "Armistice"),
    ("cpf-over-christmas", "cpf-confirmation", "2026-12-23", "2026-12-29", "nat", "Noël"),
    ("cpf-over-new-year", "cpf-confirmation", "2026-12-30", "2027-01-05", "nat", "Jour de l'an"),
    ("cpf-over-christmas-monday", "cpf-confirmation", "2028-12-22", "2028-12-28", "nat", "Noël"),
    ("cpf-over-christmas-and-st-stephen-AM", "cpf-confirmation", "2028-12-22", "2028-12-29", "am", "Saint-Étienne"),
    ("cpf-good-friday-worked-nationally", "cpf-confirmation", "2026-04-02", "2026-04-08", "nat", "Lundi de Pâques"),
    ("cpf-over-good-friday-and-easter-monday-AM", "cpf-confirmation", "2026-04-02", "2026-04-09", "am",
     "Vendredi saint"),
    ("cpf-from-easter-monday", "cpf-confirmation", "2026-04-06", "2026-04-09", "nat", None),
    ("cpf-over-labour-day", "cpf-confirmation", "2026-04-30", "2026-05-06", "nat", "Fête du Travail"),
    ("cpf-over-victory-day", "cpf-confirmation", "2026-05-06", "2026-05-12", "nat", "Fête de la Victoire"),
    ("cpf-over-ascension", "cpf-confirmation", "2026-05-12", "2026-05-18", "nat", "Ascension"),
    ("cpf-over-pentecost-monday", "cpf-confirmation", "2026-05-22", "2026-05-28", "nat", "Lundi de Pentecôte"),
    ("cpf-over-victory-day-on-monday-2028", "cpf-confirmation", "2028-05-05", "2028-05-11", "nat",
     "Fête de la Victoire"),
    ("cpf-over-bastille-day", "cpf-confirmation", "2026-07-13", "2026-07-17", "nat", "Fête nationale"),
    ("cpf-over-assumption", "cpf-confirmation", "2028-08-14", "2028-08-18", "nat", "Assomption"),
    ("cpf-from-saturday", "cpf-confirmation", "2026-10-03", "2026-10-07", "nat", None),
    ("cpf-4-days-cdc-variant-over-christmas", "cpf-confirmation", "2026-12-23", "2026-12-30", "cdc4", "Noël"),
    # withdrawal: D + 10 calendar days, then prorogation (CPC art. 642)
    ("withdrawal-ends-toussaint-sunday", "withdrawal", "2026-10-22", "2026-11-02", "nat", "Toussaint"),
    ("withdrawal-ends-armistice", "withdrawal", "2026-11-01", "2026-11-12", "nat", "Armistice"),
    ("withdrawal-holiday-inside-still-counts", "withdrawal", "2026-11-02", "2026-11-12", "nat", None),
    ("withdrawal-ends-christmas", "withdrawal", "2026-12-15", "2026-12-28", "nat", "Noël"),
    ("withdrawal-ends-new-year", "withdrawal", "2026-12-22", "2027-01-04", "nat", "Jour de l'an"),
    ("withdrawal-st-stephen-worked-nationally", "withdrawal", "2028-12-16", "2028-12-26", "nat", None),
    ("withdrawal-ends-st-stephen-AM", "withdrawal", "2028-12-16", "2028-12-27", "am", "Saint-Étienne"),
    ("withdrawal-good-friday-worked-nationally", "withdrawal", "2026-03-24", "2026-04-03", "nat", None),
    ("withdrawal-ends-good-friday-AM", "withdrawal", "2026-03-24", "2026-04-07", "am", "Vendredi saint"),
    ("withdrawal-ends-easter-monday", "withdrawal", "2026-03-27", "2026-04-07", "nat", "Lundi de Pâques"),
    ("withdrawal-ends-labour-day", "withdrawal", "2026-04-21", "2026-05-04", "nat", "Fête du Travail"),
    ("withdrawal-ends-victory-day-saturday", "withdrawal", "2027-04-28", "2027-05-10", "nat", "Fête de la Victoire"),
    ("withdrawal-ends-ascension", "withdrawal", "2026-05-04", "2026-05-15", "nat", "Ascension"),
    ("withdrawal-ends-pentecost-monday", "withdrawal", "2026-05-15", "2026-05-26", "nat", "Lundi de Pentecôte"),
    ("withdrawal-ends-bastille-day", "withdrawal", "2026-07-04", "2026-07-15", "nat", "Fête nationale"),
    ("withdrawal-ends-assumption-saturday", "withdrawal", "2026-08-05", "2026-08-17", "nat", "Assomption"),
    ("withdrawal-from-holiday-ends-armistice-saturday", "withdrawal", "2028-11-01", "2028-11-13", "nat",
     "Armistice"),
    ("withdrawal-leap-day", "withdrawal", "2028-02-19", "2028-02-29", "nat", None),
    ("withdrawal-short-february", "withdrawal", "2026-02-19", "2026-03-02", "nat", None),
    # apprenticeship-contract: S + 3 months, same day number clipped to month end, no roll
    ("apprenticeship-same-day-number", "apprenticeship-contract", "2026-10-12", "2027-01-12", "nat", None),
    ("apprenticeship-clip-28-feb-sunday-no-roll", "apprenticeship-contract", "2026-11-30", "2027-02-28", "nat", None),
    ("apprenticeship-clip-leap-day", "apprenticeship-contract", "2027-11-30", "2028-02-29", "nat", None),
    ("apprenticeship-clip-30-november", "apprenticeship-contract", "2027-08-31", "2027-11-30", "nat", None),
    ("apprenticeship-crosses-year", "apprenticeship-contract", "2028-10-09", "2029-01-09", "nat", None),
]


def _centre(kind: str, am: Centre) -> Centre:
    return {"nat": NATIONAL, "am": am, "cdc4": CDC4}[kind]


@pytest.mark.parametrize(("rule", "origin", "expected", "calendar", "named"),
                         [pytest.param(*row[1:], id=row[0]) for row in PERSONAL])
def test_personal_deadline(rule: str, origin: str, expected: str, calendar: str, named: str | None,
                           grand_est: Centre) -> None:
    result = service.deadline(rule, D(origin), _centre(calendar, grand_est))
    assert result.deadline == D(expected)
    assert result.rule == rule
    assert result.origin == D(origin)
    assert all(isinstance(step, str) and step for step in render_all(result.explanation))
    text = "\n".join(render_all(result.explanation))
    assert long_fr(D(expected)) in text, "the explanation ends on the deadline it gives"
    if named is not None:
        assert named in text, f"the explanation should name the skipped holiday {named!r}"


def long_fr(d: date) -> str:
    from cnam_calendar.text.i18n import long_date

    return long_date(d)


def test_cpf_explanation_lists_each_counted_day_over_armistice() -> None:
    steps = render_all(service.deadline("cpf-confirmation", D("2026-11-09")).explanation)
    text = "\n".join(steps)
    assert "Armistice" in text
    assert "mercredi 11 novembre 2026 : non compté" in text
    assert "mardi 10 novembre 2026 : 1er jour ouvré" in text
    assert "jeudi 12 novembre 2026 : 2e jour ouvré" in text
    assert "vendredi 13 novembre 2026 : 3e jour ouvré" in text
    assert "lundi 9 novembre 2026" in steps[0] and "non compté" in steps[0]


def test_withdrawal_explanation_cites_prorogation_article() -> None:
    text = "\n".join(render_all(service.deadline("withdrawal", D("2026-12-15")).explanation))
    assert "642" in text and "Noël" in text and "prorogé" in text


def test_withdrawal_without_prorogation_says_so() -> None:
    result = service.deadline("withdrawal", D("2026-11-02"))
    assert result.deadline == D("2026-11-12")
    assert "pas de prorogation" in "\n".join(render_all(result.explanation))


def test_apprenticeship_clipping_is_explained() -> None:
    text = "\n".join(render_all(service.deadline("apprenticeship-contract", D("2026-11-30")).explanation))
    assert "dernier jour du mois" in text
    assert "Pas de report" in text


def test_centre_settings_change_the_numbers() -> None:
    longer = Centre(id="x", name="x", rules=RuleSettings(withdrawal_days=14, apprenticeship_months=6))
    withdrawal = service.deadline("withdrawal", D("2026-10-22"), longer)
    assert withdrawal.deadline == D("2026-11-05")
    assert (withdrawal.title, withdrawal.title_en) == ("Délai de rétractation (14 jours) : date limite",
                                                       "Withdrawal window (14 days) ends")  # the centre's number
    assert service.deadline("apprenticeship-contract", D("2026-08-31"), longer).deadline == D("2027-02-28")


def test_unknown_personal_rule_is_a_named_error() -> None:
    with pytest.raises(CnamCalendarError) as err:
        service.deadline("cpf-confirmaton", D("2026-10-01"))
    assert "cpf-confirmaton" in str(err.value)
    assert "cpf-confirmation" in str(err.value)


def test_engine_uses_the_calendar_it_is_given() -> None:
    """The engine is pure: an injected fictional holiday is skipped like a real one."""
    cal = WorkingCalendar({D("2026-11-10"): ("Jour de test",)}, 2025, 2028)
    result = engine.cpf_confirmation(D("2026-11-09"), NATIONAL, cal)
    # Tue 10 fictional holiday; Wed 11 is NOT a holiday in this calendar: Wed11, Thu12, Fri13.
    assert result.deadline == D("2026-11-13")
    assert "Jour de test" in "\n".join(render_all(result.explanation))
    assert "Armistice" not in "\n".join(render_all(result.explanation))


# --- institutional events ---------------------------------------------------------------------------

# (id, year Y, event id, start, end); ipst-cnam unless said otherwise
INSTITUTIONAL = [
    ("s1-start-15-oct-thursday", 2026, "semester-1", "2026-10-12", "2027-01-16"),
    ("s1-start-15-oct-friday", 2027, "semester-1", "2027-10-11", "2028-01-15"),  # 15 Jan 2028 is the Saturday
    ("s1-start-15-oct-sunday-same-iso-week", 2028, "semester-1", "2028-10-09", "2029-01-20"),
    ("s2-start-15-feb-sunday-same-iso-week", 2025, "semester-2", "2026-02-09", "2026-05-31"),
    ("s2-start-15-feb-is-monday", 2026, "semester-2", "2027-02-15", "2027-05-31"),
    ("s2-start-15-feb-tuesday", 2027, "semester-2", "2028-02-14", "2028-05-31"),
    ("s2-start-15-feb-thursday", 2028, "semester-2", "2029-02-12", "2029-05-31"),
    ("exam-winter-2026", 2026, "exam-winter", "2027-01-18", "2027-02-13"),
    ("exam-winter-2027-s1-ends-on-15-jan", 2027, "exam-winter", "2028-01-17", "2028-02-12"),
    ("exam-winter-2028", 2028, "exam-winter", "2029-01-22", "2029-02-10"),
    ("exam-june-2026", 2026, "exam-june", "2027-06-01", "2027-06-30"),
    ("exam-june-2027", 2027, "exam-june", "2028-06-01", "2028-06-30"),
    ("exam-june-2028", 2028, "exam-june", "2029-06-01", "2029-06-30"),
    ("exam-september-2026", 2026, "exam-september", "2027-09-01", "2027-09-30"),
    ("exam-september-2027", 2027, "exam-september", "2028-09-01", "2028-09-30"),
    ("exam-september-2028", 2028, "exam-september", "2029-09-01", "2029-09-30"),
    ("registration-close-s1-2026-sunday-before", 2026, "registration-close-s1", "2026-10-11", "2026-10-11"),
    ("registration-close-s1-2027", 2027, "registration-close-s1", "2027-10-10", "2027-10-10"),
    ("registration-close-s1-2028", 2028, "registration-close-s1", "2028-10-08", "2028-10-08"),
    ("registration-close-s2-2026", 2026, "registration-close-s2", "2027-02-14", "2027-02-14"),
    ("registration-close-s2-2027", 2027, "registration-close-s2", "2028-02-13", "2028-02-13"),
    ("registration-close-s2-2028", 2028, "registration-close-s2", "2029-02-11", "2029-02-11"),
    ("add-drop-end-feb-saturday-no-roll", 2025, "add-drop-close", "2026-02-28", "2026-02-28"),
    ("add-drop-end-feb-sunday-no-roll", 2026, "add-drop-close", "2027-02-28", "2027-02-28"),
    ("add-drop-leap-day", 2027, "add-drop-close", "2028-02-29", "2028-02-29"),
    ("add-drop-end-feb-2029", 2028, "add-drop-close", "2029-02-28", "2029-02-28"),
    # cpf-latest-validation: Mon start → Tue of the week before (Wed, Thu, Fri counted)
    ("cpf-latest-s1-2026", 2026, "cpf-latest-validation-s1", "2026-10-06", "2026-10-06"),
    ("cpf-latest-s1-2027", 2027, "cpf-latest-validation-s1", "2027-10-05", "2027-10-05"),
    ("cpf-latest-s1-2028", 2028, "cpf-latest-validation-s1", "2028-10-03", "2028-10-03"),
    ("cpf-latest-s2-2026", 2026, "cpf-latest-validation-s2", "2027-02-09", "2027-02-09"),
    ("cpf-latest-s2-2027", 2027, "cpf-latest-validation-s2", "2028-02-08", "2028-02-08"),
    ("cpf-latest-s2-2028", 2028, "cpf-latest-validation-s2", "2029-02-06", "2029-02-06"),
    ("closure-noel-2026", 2026, "closure-noel", "2026-12-19", "2027-01-03"),
    ("closure-noel-2027", 2027, "closure-noel", "2027-12-18", "2028-01-02"),
    ("closure-noel-2028", 2028, "closure-noel", "2028-12-23", "2029-01-07"),
]


@pytest.mark.parametrize(("year", "event_id", "start", "end"),
                         [pytest.param(*row[1:], id=row[0]) for row in INSTITUTIONAL])
def test_institutional_event(year: int, event_id: str, start: str, end: str, ipst: Centre) -> None:
    event = service.schedule(ipst, year).get(event_id)
    assert event is not None, f"{event_id} missing from ipst-cnam {year}"
    assert (event.start, event.end) == (D(start), D(end))
    assert not event.overridden
    assert render_all(event.explanation) and all(isinstance(s, str) and s for s in render_all(event.explanation))


@pytest.mark.parametrize("year", YEARS)
def test_occitanie_has_no_registration_close_nor_add_drop(year: int, occitanie: Centre, ipst: Centre) -> None:
    ids = {e.id for e in service.schedule(occitanie, year).events}
    assert not {"registration-close-s1", "registration-close-s2", "add-drop-close"} & ids
    # the rest of the institutional table is shared with Ipst-Cnam, date for date
    shared = ("semester-1", "semester-2", "exam-winter", "exam-june", "exam-september",
              "cpf-latest-validation-s1", "cpf-latest-validation-s2")
    for event_id in shared:
        mine, theirs = service.schedule(occitanie, year).get(event_id), service.schedule(ipst, year).get(event_id)
        assert mine is not None and theirs is not None
        assert (mine.start, mine.end) == (theirs.start, theirs.end), event_id


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("which", ["ipst", "occitanie", "grand_est"])
def test_every_institutional_id_present_and_intervals_sound(year: int, which: str,
                                                            request: pytest.FixtureRequest) -> None:
    centre: Centre = request.getfixturevalue(which)
    sched = service.schedule(centre, year)
    ids = [e.id for e in sched.events]
    assert len(ids) == len(set(ids)), "event ids are unique within a centre-year"
    expected = {"semester-1", "semester-2", "exam-winter", "exam-june", "exam-september",
                "cpf-latest-validation-s1", "cpf-latest-validation-s2", "closure-noel"}
    if centre.rules.registration_closes_at_course_start:
        expected |= {"registration-close-s1", "registration-close-s2"}
    if centre.rules.add_drop_until_end_of_february:
        expected.add("add-drop-close")
    assert expected <= set(ids)
    for e in sched.events:
        assert e.start <= e.end, e.id
    s1, s2, winter = sched.get("semester-1"), sched.get("semester-2"), sched.get("exam-winter")
    assert s1.start.weekday() == 0 and s1.end.weekday() == 5 and s2.start.weekday() == 0
    assert s1.end < winter.start and winter.end < s2.start
    assert winter.start.weekday() == 0 and winter.end.weekday() == 5
    assert (winter.start - s1.end).days <= 7 and (s2.start - winter.end).days <= 7
    assert engine.check_schedule(sched) == []
    # events are sorted by date
    assert [(e.start, e.end, e.id) for e in sched.events] == sorted((e.start, e.end, e.id) for e in sched.events)


@pytest.mark.parametrize("year", YEARS)
@pytest.mark.parametrize("which", ["ipst", "grand_est"])
@pytest.mark.parametrize("n", [1, 2])
def test_cpf_latest_validation_property(year: int, which: str, n: int, request: pytest.FixtureRequest) -> None:
    """D is the latest jour ouvré with D + 3 jours ouvrés strictly before the semester start."""
    centre: Centre = request.getfixturevalue(which)
    sched = service.schedule(centre, year)
    cal = service.ouvres_for(centre, year - 1, year + 2)
    k = centre.rules.cpf_working_days
    start = sched.get(f"semester-{n}").start
    latest = sched.get(f"cpf-latest-validation-s{n}")
    d = latest.start
    assert latest.end == d
    assert cal.is_working(d)
    assert cal.add(d, k) < start
    assert cal.add(cal.add(d, 1), k) >= start, "the next jour ouvré would be too late"
    assert f"semestre {n}" in latest.title


# (id, override start of semester n, n, subdivision, expected latest validation)
CPF_LATEST_HAND = [
    # start Thu 12 Nov 2026, after Armistice (Wed 11): Fri 6, Mon 9, Tue 10 counted → Thu 5
    ("cpf-latest-before-armistice", "2026-11-12", 1, None, "2026-11-05"),
    # start Tue 30 Mar 2027 after Easter Monday (29): Wed 24, Thu 25, Fri 26 → Tue 23
    ("cpf-latest-before-easter-monday", "2027-03-30", 2, None, "2027-03-23"),
    # AM: Fri 26 Mar 2027 is Good Friday: Tue 23, Wed 24, Thu 25 → Mon 22
    ("cpf-latest-before-good-friday-AM", "2027-03-30", 2, "57", "2027-03-22"),
    # start Mon 5 Oct 2026: Wed 30 Sep, Thu 1, Fri 2 → Tue 29 Sep
    ("cpf-latest-crosses-month", "2026-10-05", 1, None, "2026-09-29"),
]


@pytest.mark.parametrize(("start", "n", "subdivision", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in CPF_LATEST_HAND])
def test_cpf_latest_validation_hand_worked(start: str, n: int, subdivision: str | None, expected: str,
                                           ipst: Centre) -> None:
    event_id = f"semester-{n}"
    centre = replace(ipst, holiday_subdivision=subdivision,
                     years={2026: YearSettings(overrides={event_id: Override(event_id, start=D(start))})})
    sched = service.schedule(centre, 2026)
    assert sched.get(event_id).start == D(start)
    latest = sched.get(f"cpf-latest-validation-s{n}")
    assert latest.start == latest.end == D(expected)


def test_cpf_latest_validation_with_injected_holiday(ipst: Centre) -> None:
    """Thu 8 Oct 2026 declared a holiday: Tue 6, Wed 7, Fri 9 counted → validation Mon 5 Oct."""
    cal = WorkingCalendar({D("2026-10-08"): ("Jour de test",)}, 2025, 2028)
    sched = engine.build_schedule(ipst, 2026, cal)
    assert sched.get("cpf-latest-validation-s1").start == D("2026-10-05")


# --- holidays -----------------------------------------------------------------------------------------

NATIONAL_HOLIDAYS = {
    2026: {"2026-11-01": "Toussaint", "2026-11-11": "Armistice", "2026-12-25": "Noël",
           "2027-01-01": "Jour de l'an", "2027-03-29": "Lundi de Pâques", "2027-05-01": "Fête du Travail",
           "2027-05-06": "Ascension", "2027-05-08": "Fête de la Victoire", "2027-05-17": "Lundi de Pentecôte",
           "2027-07-14": "Fête nationale", "2027-08-15": "Assomption"},
    2027: {"2027-11-01": "Toussaint", "2027-11-11": "Armistice", "2027-12-25": "Noël",
           "2028-01-01": "Jour de l'an", "2028-04-17": "Lundi de Pâques", "2028-05-01": "Fête du Travail",
           "2028-05-08": "Fête de la Victoire", "2028-05-25": "Ascension", "2028-06-05": "Lundi de Pentecôte",
           "2028-07-14": "Fête nationale", "2028-08-15": "Assomption"},
    2028: {"2028-11-01": "Toussaint", "2028-11-11": "Armistice", "2028-12-25": "Noël",
           "2029-01-01": "Jour de l'an", "2029-04-02": "Lundi de Pâques", "2029-05-01": "Fête du Travail",
           "2029-05-08": "Fête de la Victoire", "2029-05-10": "Ascension", "2029-05-21": "Lundi de Pentecôte",
           "2029-07-14": "Fête nationale", "2029-08-15": "Assomption"},
}
ALSACE_MOSELLE_EXTRA = {
    2026: {"2026-12-26": "Saint-Étienne", "2027-03-26": "Vendredi saint"},
    2027: {"2027-12-26": "Saint-Étienne", "2028-04-14": "Vendredi saint"},
    2028: {"2028-12-26": "Saint-Étienne", "2029-03-30": "Vendredi saint"},
}


def _holidays_of(sched) -> dict[str, str]:
    out = {}
    for e in sched.events:
        if e.id.startswith("holiday-"):
            assert e.kind == "holiday"
            assert e.id == f"holiday-{e.start.isoformat()}"
            assert e.start == e.end
            assert e.title in "\n".join(render_all(e.explanation))
            out[e.start.isoformat()] = e.title
    return out


@pytest.mark.parametrize("year", YEARS)
def test_holidays_national_1_sept_to_30_sept(year: int, ipst: Centre) -> None:
    assert _holidays_of(service.schedule(ipst, year)) == NATIONAL_HOLIDAYS[year]


@pytest.mark.parametrize("year", YEARS)
def test_holidays_alsace_moselle_add_good_friday_and_st_stephen(year: int, grand_est: Centre) -> None:
    assert _holidays_of(service.schedule(grand_est, year)) == NATIONAL_HOLIDAYS[year] | ALSACE_MOSELLE_EXTRA[year]


def test_weekend_holiday_is_not_moved(ipst: Centre) -> None:
    sunday = service.schedule(ipst, 2026).get("holiday-2026-11-01")
    assert sunday.start == D("2026-11-01")
    assert "week-end" in "\n".join(render_all(sunday.explanation))


def test_holiday_window_bounds(ipst: Centre) -> None:
    """1 Sept Y to 30 Sept Y+1: 15 Aug 2026 belongs to 2025, 15 Aug 2027 to 2026 only."""
    ids_2026 = {e.id for e in service.schedule(ipst, 2026).events}
    ids_2025 = {e.id for e in service.schedule(ipst, 2025).events}
    assert "holiday-2026-08-15" not in ids_2026 and "holiday-2026-08-15" in ids_2025
    assert "holiday-2027-08-15" in ids_2026


# --- closures -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("year", YEARS)
def test_closure_events_come_from_the_centre_file(year: int, ipst: Centre) -> None:
    closures = [e for e in service.schedule(ipst, year).events if e.kind == "closure"]
    declared = ipst.year(year).closures
    assert [(e.id, e.start, e.end, e.title) for e in closures] == [
        (f"closure-{c.id}", c.start, c.end, c.label) for c in declared]
    assert all(e.title == "Fermeture de fin d'année" for e in closures)
    assert all("years." + str(year) + ".closures" in "\n".join(render_all(e.explanation)) for e in closures)


# --- overrides ----------------------------------------------------------------------------------------

OVERRIDE_TOML = '''
overrides."semester-1" = { start = 2026-10-05, end = 2027-01-09, reason = "rentrée avancée, vote du conseil" }
overrides."add-drop-close" = { date = 2027-02-26, reason = "le 28 février est un dimanche" }
'''


@pytest.fixture
def overridden(tmp_path: Path, calendars_dir: Path) -> Centre:
    text = (calendars_dir / "ipst-cnam.toml").read_text(encoding="utf-8")
    marker = "[years.2026]\n"
    assert marker in text
    head, tail = text.split(marker, 1)
    closures, rest = tail.split("\n", 1)
    path = tmp_path / "ipst-cnam.toml"
    path.write_text(head + marker + closures + OVERRIDE_TOML + rest, encoding="utf-8")
    return load_centre(path)


def test_override_replaces_the_date_and_says_so(overridden: Centre) -> None:
    s1 = service.schedule(overridden, 2026).get("semester-1")
    assert (s1.start, s1.end) == (D("2026-10-05"), D("2027-01-09"))
    assert s1.overridden
    text = "\n".join(render_all(s1.explanation))
    assert "Date fixée par le centre" in text
    assert "rentrée avancée, vote du conseil" in text
    assert "years.2026.overrides.semester-1" in text
    assert "lundi 12 octobre 2026" in text, "the explanation keeps what the rule would have given"


def test_single_day_override_with_date_key(overridden: Centre) -> None:
    add_drop = service.schedule(overridden, 2026).get("add-drop-close")
    assert add_drop.start == add_drop.end == D("2027-02-26")
    assert add_drop.overridden and "le 28 février est un dimanche" in "\n".join(render_all(add_drop.explanation))


def test_dependent_events_follow_the_override(overridden: Centre) -> None:
    sched = service.schedule(overridden, 2026)
    assert sched.get("exam-winter").start == D("2027-01-11")  # Monday after Sat 9 Jan
    assert sched.get("exam-winter").end == D("2027-02-13")  # semester 2 untouched
    assert sched.get("registration-close-s1").start == D("2026-10-04")
    assert sched.get("cpf-latest-validation-s1").start == D("2026-09-29")
    for event_id in ("exam-winter", "registration-close-s1", "cpf-latest-validation-s1"):
        assert not sched.get(event_id).overridden
    assert not sched.get("semester-2").overridden


def test_override_is_per_year(overridden: Centre) -> None:
    assert not service.schedule(overridden, 2027).get("semester-1").overridden
    assert service.schedule(overridden, 2027).get("semester-1").start == D("2027-10-11")


def test_inverted_override_is_reported_by_check(ipst: Centre) -> None:
    centre = replace(ipst, years={2026: YearSettings(
        overrides={"semester-1": Override("semester-1", end=D("2026-10-01"))})})
    problems = engine.check_schedule(service.schedule(centre, 2026))
    assert any("semester-1" in p and "2026-10-01" in p for p in problems)


def test_overlapping_semesters_are_reported(ipst: Centre) -> None:
    centre = replace(ipst, years={2026: YearSettings(
        overrides={"semester-1": Override("semester-1", end=D("2027-02-20"))})})
    problems = engine.check_schedule(service.schedule(centre, 2026))
    assert any("chevauche" in p for p in problems), problems


def test_every_overridable_id_is_a_derived_event() -> None:
    assert set(engine.OVERRIDABLE) == set(engine.INSTITUTIONAL)
    assert set(engine.PERSONAL) == set(engine.PERSONAL_RULES) == {
        "cpf-confirmation", "withdrawal", "apprenticeship-contract"}


def test_deadline_far_from_origin_year_still_computes() -> None:
    """A deadline computed on 30 Dec looks into the next year's holidays."""
    assert service.deadline("cpf-confirmation", D("2028-12-29")).deadline == D("2029-01-04")  # (Mon 1 Jan)
    assert service.deadline("withdrawal", D("2028-12-22")).deadline == D("2029-01-02")  # Mon 1 Jan → Tue
