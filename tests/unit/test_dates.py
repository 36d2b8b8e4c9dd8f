"""Calendar arithmetic of dates.py on hand-worked examples (the laws are in tests/properties)."""

from __future__ import annotations

from datetime import date

import pytest

from cnam_calendar.inputs.holidays_fr import calendars_for, french_holidays
from cnam_calendar.rules import dates
from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.errors import RuleError
from cnam_calendar.text.explain import render_all

D = date.fromisoformat


@pytest.fixture(scope="module")
def ouvres() -> WorkingCalendar:
    return calendars_for(None, 2025, 2029)[0]


@pytest.fixture(scope="module")
def national_centre():
    from cnam_calendar.rules.model import Centre

    return Centre(id="national", name="Centre sans subdivision")


@pytest.fixture(scope="module")
def ouvrables() -> WorkingCalendar:
    return calendars_for(None, 2025, 2029)[1]


@pytest.mark.parametrize(("d", "working"), [
    pytest.param("2026-11-11", False, id="armistice-wednesday"),
    pytest.param("2026-11-10", True, id="plain-tuesday"),
    pytest.param("2026-11-14", False, id="saturday"),
    pytest.param("2026-11-15", False, id="sunday"),
    pytest.param("2026-04-03", True, id="good-friday-worked-nationally"),
    pytest.param("2026-05-25", False, id="pentecost-monday-still-a-holiday"),
    pytest.param("2028-02-29", True, id="leap-day-tuesday"),
])
def test_jour_ouvre(d: str, working: bool, ouvres: WorkingCalendar) -> None:
    assert ouvres.is_working(D(d)) is working


def test_jour_ouvrable_counts_saturday_not_sunday_nor_holiday(ouvrables: WorkingCalendar) -> None:
    assert ouvrables.is_working(D("2026-11-14"))  # Saturday
    assert not ouvrables.is_working(D("2026-11-15"))  # Sunday
    assert not ouvrables.is_working(D("2027-05-08"))  # Saturday, Fête de la Victoire
    # Fri 13 Nov 2026 + 2 jours ouvrables = Mon 16 (Sat 14 counts)
    assert ouvrables.add(D("2026-11-13"), 2) == D("2026-11-16")


@pytest.mark.parametrize(("d", "n", "expected"), [
    pytest.param("2026-11-09", 3, "2026-11-13", id="add-over-armistice"),
    pytest.param("2026-10-03", 3, "2026-10-07", id="add-from-saturday"),
    pytest.param("2026-12-31", 1, "2027-01-04", id="add-over-new-year-and-weekend"),
    pytest.param("2026-11-10", 1, "2026-11-12", id="add-one-skips-holiday"),
])
def test_add(d: str, n: int, expected: str, ouvres: WorkingCalendar) -> None:
    assert ouvres.add(D(d), n) == D(expected)


@pytest.mark.parametrize(("d", "n", "expected"), [
    pytest.param("2026-11-13", 3, "2026-11-09", id="subtract-over-armistice"),
    pytest.param("2026-11-12", 1, "2026-11-10", id="subtract-one-skips-holiday"),
    pytest.param("2027-01-04", 1, "2026-12-31", id="subtract-over-new-year"),
    pytest.param("2026-10-04", 1, "2026-10-02", id="subtract-from-sunday"),
])
def test_subtract(d: str, n: int, expected: str, ouvres: WorkingCalendar) -> None:
    assert ouvres.subtract(D(d), n) == D(expected)


@pytest.mark.parametrize(("d", "expected"), [
    pytest.param("2026-11-01", "2026-11-02", id="prorogate-toussaint-sunday"),
    pytest.param("2026-12-25", "2026-12-28", id="prorogate-christmas-friday"),
    pytest.param("2027-05-08", "2027-05-10", id="prorogate-victory-saturday"),
    pytest.param("2026-11-12", "2026-11-12", id="prorogate-working-day-unchanged"),
    pytest.param("2026-05-14", "2026-05-15", id="prorogate-ascension"),
])
def test_prorogate(d: str, expected: str, ouvres: WorkingCalendar) -> None:
    assert dates.prorogate(D(d), ouvres) == D(expected)


@pytest.mark.parametrize(("d", "months", "expected"), [
    pytest.param("2026-11-30", 3, "2027-02-28", id="clip-to-28-february"),
    pytest.param("2027-11-30", 3, "2028-02-29", id="clip-to-leap-day"),
    pytest.param("2027-08-31", 3, "2027-11-30", id="clip-to-30-november"),
    pytest.param("2026-01-31", 1, "2026-02-28", id="clip-january-31"),
    pytest.param("2028-10-09", 3, "2029-01-09", id="crosses-year"),
    pytest.param("2028-02-29", 12, "2029-02-28", id="leap-day-plus-a-year"),
])
def test_add_months(d: str, months: int, expected: str) -> None:
    assert dates.add_months(D(d), months) == D(expected)


@pytest.mark.parametrize(("d", "monday", "saturday"), [
    pytest.param("2028-10-15", "2028-10-09", "2028-10-14", id="sunday-belongs-to-the-week-before"),
    pytest.param("2028-01-15", "2028-01-10", "2028-01-15", id="saturday-is-its-own-saturday"),
    pytest.param("2027-02-15", "2027-02-15", "2027-02-20", id="monday-is-its-own-monday"),
    pytest.param("2027-01-01", "2026-12-28", "2027-01-02", id="iso-week-across-new-year"),
])
def test_iso_week(d: str, monday: str, saturday: str) -> None:
    assert dates.monday_of_iso_week(D(d)) == D(monday)
    assert dates.saturday_of_iso_week(D(d)) == D(saturday)


def test_next_and_previous_weekday_are_strict() -> None:
    assert dates.next_weekday_after(D("2027-01-16"), 0) == D("2027-01-18")  # Sat → Mon
    assert dates.next_weekday_after(D("2027-01-18"), 0) == D("2027-01-25")  # Mon → next Mon
    assert dates.previous_weekday_before(D("2027-02-15"), 5) == D("2027-02-13")  # Mon → Sat
    assert dates.previous_weekday_before(D("2027-02-13"), 5) == D("2027-02-06")  # Sat → previous Sat


@pytest.mark.parametrize(("year", "expected"), [(2026, 28), (2027, 28), (2028, 29), (2100, 28), (2000, 29)])
def test_last_day_of_february(year: int, expected: int) -> None:
    assert dates.last_day_of_february(year) == date(year, 2, expected)


def test_days_is_inclusive() -> None:
    assert list(dates.days(D("2026-12-30"), D("2027-01-01"))) == [D("2026-12-30"), D("2026-12-31"), D("2027-01-01")]
    assert list(dates.days(D("2027-01-01"), D("2026-12-31"))) == []


def test_out_of_range_is_a_rule_error_not_an_index_error(ouvres: WorkingCalendar) -> None:
    with pytest.raises(RuleError):
        ouvres.add(D("2035-01-01"), 1)
    with pytest.raises(RuleError):
        ouvres.add(D("2029-12-30"), 3)
    with pytest.raises(RuleError):
        ouvres.subtract(D("2025-01-02"), 5)


def test_french_holidays_two_names_on_one_date_are_kept_apart() -> None:
    # Easter 2008 was 23 March: Ascension (Easter + 39) fell on 1 May; Easter 2059 is 30 March, so
    # Ascension falls on 8 May. Eleven holidays on ten dates, each name kept.
    for year, day, other in ((2008, "2008-05-01", "Fête du Travail"), (2059, "2059-05-08", "Fête de la Victoire")):
        names = french_holidays(None, [year])
        assert sorted(names[D(day)]) == ["Ascension", other]
        assert len(names) == 10
        assert sum(len(v) for v in names.values()) == 11  # Code du travail L3133-1
    assert french_holidays(None, [2026])[D("2026-07-14")] == ("Fête nationale",)


def test_a_date_with_two_holidays_is_one_event_naming_both(national_centre) -> None:
    from cnam_calendar.rules.engine import holiday_events

    ouvres = WorkingCalendar(french_holidays(None, [2007, 2008]), 2007, 2008)
    (event,) = [e for e in holiday_events(2007, national_centre, ouvres) if e.start == D("2008-05-01")]
    assert event.id == "holiday-2008-05-01"
    assert sorted(event.title.split(", ")) == ["Ascension", "Fête du Travail"]
    assert sorted(event.title_en.split(", ")) == ["Ascension Day", "Labour Day"]
    assert render_all(event.explanation)[0] == f"Jour férié le jeudi 1er mai 2008 : {event.title}."
    assert not ouvres.is_working(D("2008-05-01"))


def test_alsace_moselle_has_thirteen_holidays() -> None:
    names = french_holidays("57", [2026])
    assert len(names) == 13
    assert names[D("2026-04-03")] == ("Vendredi saint",)
    assert names[D("2026-12-26")] == ("Saint-Étienne",)
