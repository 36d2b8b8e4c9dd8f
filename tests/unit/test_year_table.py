"""`year new`'s writer: the table of a new year added to a centre file, every other byte kept."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import pytest
import tomlkit

from cnam_calendar.inputs.config import parse_centre
from cnam_calendar.inputs.year_table import add_year
from cnam_calendar.rules.closures import christmas_closure, default_closures
from cnam_calendar.rules.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
IPST = (REPO / "calendars" / "ipst-cnam.toml").read_text(encoding="utf-8")
OCCITANIE = (REPO / "calendars" / "cnam-occitanie.toml").read_text(encoding="utf-8")
PATHS = {IPST: "calendars/ipst-cnam.toml", OCCITANIE: "calendars/cnam-occitanie.toml"}
P = PATHS[IPST]
S1_2029 = date(2029, 10, 15)  # Monday of the ISO week of 15 October 2029 (15 October is a Monday)

# Saturday before 25 December → the Sunday 15 days later, worked out on a calendar: the shipped years
# (2026-2028, as the centre files write them) and the next ones.
CHRISTMAS = [
    (2026, date(2026, 12, 19), date(2027, 1, 3)),  # 25 Dec 2026 is a Friday
    (2027, date(2027, 12, 18), date(2028, 1, 2)),  # a Saturday: the Saturday before is the 18th
    (2028, date(2028, 12, 23), date(2029, 1, 7)),  # a Monday
    (2029, date(2029, 12, 22), date(2030, 1, 6)),  # a Tuesday
    (2032, date(2032, 12, 18), date(2033, 1, 2)),  # a Saturday again
    (2033, date(2033, 12, 24), date(2034, 1, 8)),  # a Sunday: the day before
]


@pytest.mark.parametrize(("year", "start", "end"), CHRISTMAS, ids=[str(c[0]) for c in CHRISTMAS])
def test_christmas_closure_dates(year: int, start: date, end: date) -> None:
    closure = christmas_closure(year)
    assert (closure.id, closure.label, closure.start, closure.end) == ("noel", "Fermeture de fin d'année", start, end)
    assert closure.start.weekday() == 5 and closure.end.weekday() == 6 and start < date(year, 12, 25)


def test_default_closures_agree_with_the_shipped_files() -> None:
    centre = parse_centre(IPST, "calendars/ipst-cnam.toml")
    for year in (2026, 2027, 2028):
        assert centre.year(year).closures == default_closures(year)


def _comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


@pytest.mark.parametrize("text", [IPST, OCCITANIE], ids=["ipst-cnam", "cnam-occitanie"])
def test_new_year_is_inserted_and_nothing_else_changes(text: str) -> None:
    path = PATHS[text]
    new = add_year(text, path, 2029, default_closures(2029), S1_2029)
    assert new.startswith(text.rstrip("\n")), "every byte before the new table is the old file's"
    added = new[len(text):]
    assert new == text + added and added.startswith("\n[years.2029]\n")
    # comments kept: every old one in order, and the new table's own
    assert _comments(new)[:len(_comments(text))] == _comments(text)
    assert '# overrides."semester-1" = { start = 2029-10-08, reason = ' in added
    assert "lundi 15 octobre 2029" in added
    # read back by tomllib, tomlkit and the project's reader
    assert tomllib.loads(new)["years"]["2029"]["closures"] == [
        {"id": "noel", "start": date(2029, 12, 22), "end": date(2030, 1, 6), "label": "Fermeture de fin d'année"}]
    assert tomlkit.dumps(tomlkit.parse(new)) == new
    centre, before = parse_centre(new, path), parse_centre(text, path)
    assert centre.year(2029).closures == default_closures(2029) and not centre.year(2029).overrides
    assert centre == type(centre)(**{**before.__dict__, "years": centre.years})
    assert {y: centre.year(y) for y in (2026, 2027, 2028)} == {y: before.year(y) for y in (2026, 2027, 2028)}


def test_uncommenting_the_example_gives_a_valid_override() -> None:
    new = add_year(IPST, P, 2029, default_closures(2029), S1_2029)
    pinned = new.replace('# overrides."semester-1"', 'overrides."semester-1"')
    override = parse_centre(pinned, P).year(2029).overrides["semester-1"]
    assert override.start == date(2029, 10, 8) and override.reason.startswith("rentrée avancée")


def test_refuses_a_year_that_has_its_table() -> None:
    with pytest.raises(ConfigError) as err:
        add_year(IPST, "calendars/ipst-cnam.toml", 2027, default_closures(2027), date(2027, 10, 11))
    assert "[years.2027] existe déjà" in str(err.value) and "calendars/ipst-cnam.toml" in str(err.value)


def test_a_file_without_years_gets_its_first_table() -> None:
    text = re.sub(r"\n# Academic years\..*", "\n", IPST, flags=re.S)
    assert "[years." not in text
    new = add_year(text, P, 2029, default_closures(2029), S1_2029)
    assert new.startswith(text) and list(parse_centre(new, P).years) == [2029]


def test_years_before_other_tables_stay_where_they_are() -> None:
    head, years = IPST.split("# Academic years.")
    reordered = head.replace("[reminders]", "# Academic years." + years + "\n[reminders]")
    new = add_year(reordered, P, 2029, default_closures(2029), S1_2029)
    assert len(new) > len(reordered) and new.count("[reminders]") == 1
    centre = parse_centre(new, P)
    assert sorted(centre.years) == [2026, 2027, 2028, 2029] and centre.reminders.offsets_days == (7, 1)
    before, after = new.split("[years.2029]")
    assert reordered.startswith(before.rstrip("\n")) and reordered.endswith(after.split("\n\n", 1)[1]), \
        "the table goes right after the last year, the rest untouched"


def test_years_written_inline_are_refused_with_the_table_to_paste() -> None:
    text = 'id = "ipst-cnam"\nname = "X"\nyears = { 2026 = { closures = [] } }\n'
    with pytest.raises(ConfigError) as err:
        add_year(text, P, 2029, default_closures(2029), S1_2029)
    assert "[years.2029]" in (err.value.hint or "") and "ajoutez" in (err.value.hint or "")


def test_a_file_without_final_newline() -> None:
    text = IPST.rstrip("\n")
    new = add_year(text, P, 2029, default_closures(2029), S1_2029)
    assert new.startswith(text) and new.endswith("\n") and 2029 in parse_centre(new, P).years
