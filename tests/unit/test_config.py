"""Loading calendars/: the shipped centres, the test centre, and one message per mistake."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from cnam_calendar.inputs.config import centre_files, load_centre, load_centres, parse_centre
from cnam_calendar.rules.errors import ConfigError
from cnam_calendar.rules.model import Centre

INVALID = Path(__file__).resolve().parents[1] / "data" / "invalid"

# file in tests/data/invalid → (key or line named, fragments the one-line message must hold)
INVALID_CASES = {
    "malformed-toml": ("ligne 2,", ["TOML invalide"]),
    "unknown-key": ("rules.cpf_workng_days", ["clé inconnue", "cpf_working_days"]),
    "unknown-top-key": ("semster_1", ["clé inconnue", "years"]),
    "wrong-type": ("rules.withdrawal_days", ["dix", "un entier"]),
    "impossible-date": ("ligne 5,", ["TOML invalide", "AAAA-MM-JJ"]),
    "unknown-override": ("years.2026.overrides.semster-1", ["événement inconnu", "semester-1"]),
    "unknown-subdivision": ("holiday_subdivision", ["99", "57", "6AE"]),
    "id-mismatch": ("id", ["autre-centre", "id-mismatch"]),
}


def test_every_invalid_file_has_a_case() -> None:
    assert {p.stem for p in INVALID.glob("*.toml")} == set(INVALID_CASES)


@pytest.mark.parametrize("name", sorted(INVALID_CASES))
def test_invalid_file_gives_one_line_naming_file_key_and_expectation(name: str) -> None:
    where, fragments = INVALID_CASES[name]
    path = INVALID / f"{name}.toml"
    with pytest.raises(ConfigError) as err:
        load_centre(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert where in message
    for fragment in fragments:
        assert fragment in message
    for line in err.value.lines():
        assert "\n" not in line and str(path) in line


@pytest.mark.parametrize("name", ["ipst-cnam", "cnam-occitanie"])
def test_shipped_centres_load(name: str, calendars_dir: Path) -> None:
    centre = load_centre(calendars_dir / f"{name}.toml")
    assert centre.id == name
    assert centre.timezone == "Europe/Paris"
    assert centre.holiday_subdivision is None
    assert centre.rules.cpf_working_days == 3
    assert centre.rules.withdrawal_days == 10
    assert centre.rules.apprenticeship_months == 3
    assert set(centre.years) >= {2026, 2027, 2028}
    for year in (2026, 2027, 2028):
        assert [c.id for c in centre.year(year).closures] == ["noel"]
        assert not centre.year(year).overrides, "both centres build 2026–2028 with no override"


def test_ipst_settings(ipst: Centre) -> None:
    assert ipst.departments == ("09", "12", "31", "32", "46", "65", "81", "82")
    assert ipst.rules.registration_closes_at_course_start
    assert ipst.rules.add_drop_until_end_of_february
    assert {s.id for s in ipst.sites} == {"toulouse", "albi"}
    assert ipst.rules.hours.expected(4) == pytest.approx(32.0)


def test_occitanie_settings(occitanie: Centre) -> None:
    assert not occitanie.rules.registration_closes_at_course_start
    assert not occitanie.rules.add_drop_until_end_of_february
    assert occitanie.rules.hours.expected(4) == 40
    assert occitanie.rules.hours.expected(8) == 65
    assert occitanie.rules.hours.expected(12) == 100


def test_alsace_moselle_test_centre(grand_est: Centre) -> None:
    assert grand_est.id == "cnam-grand-est"
    assert grand_est.holiday_subdivision == "57"
    assert grand_est.year(2026).closures[0].start == date(2026, 12, 19)


def test_load_centres_lists_the_directory(calendars_dir: Path) -> None:
    ids = [c.id for c in load_centres(calendars_dir)]
    assert {"ipst-cnam", "cnam-occitanie"} <= set(ids)
    assert [p.stem for p in centre_files(calendars_dir)] == sorted(p.stem for p in centre_files(calendars_dir))
    assert [c.id for c in load_centres(calendars_dir, ["ipst-cnam"])] == ["ipst-cnam"]


def test_unknown_centre_suggests_the_closest(calendars_dir: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_centres(calendars_dir, ["ipst-cnma"])
    message = str(err.value)
    assert "ipst-cnma" in message and "ipst-cnam" in message and str(calendars_dir) in message


def test_missing_directory_says_how_to_point_at_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_centres(tmp_path / "nowhere")
    assert "nowhere" in str(err.value) and "--calendars" in str(err.value)


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_centres(tmp_path)


def test_every_problem_of_every_file_is_listed(tmp_path: Path) -> None:
    shutil.copy(INVALID / "unknown-key.toml", tmp_path)
    shutil.copy(INVALID / "wrong-type.toml", tmp_path)
    (tmp_path / "two-mistakes.toml").write_text(
        'id = "two-mistakes"\nname = "x"\ntimezone = "Europe/Pariss"\n[rules]\napprenticeship_months = 0\n',
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_centres(tmp_path)
    lines = err.value.lines()
    assert len(lines) == 4, lines
    joined = "\n".join(lines)
    for fragment in ("cpf_workng_days", "withdrawal_days", "timezone", "apprenticeship_months"):
        assert fragment in joined


@pytest.mark.parametrize(("snippet", "key"), [
    pytest.param('[years.2026]\nclosures = [{ id = "noel", label = "x", start = 2026-12-19 }]', "closures[0].end",
                 id="closure-without-end"),
    pytest.param('[years.2026]\nclosures = [{ id = "noel", label = "x", start = "2026-12-19", end = 2027-01-03 }]',
                 "closures[0].start", id="date-as-string"),
    pytest.param('[years.2026]\noverrides."semester-1" = { reason = "sans date" }', "overrides.semester-1",
                 id="override-without-date"),
    pytest.param('[years.26]\nclosures = []', "years.26", id="two-digit-year"),
    pytest.param('[rules]\nregistration_closes_at_course_start = "oui"', "registration_closes_at_course_start",
                 id="bool-as-string"),
    pytest.param('[rules]\ncpf_working_days = true', "cpf_working_days", id="bool-is-not-an-int"),
    pytest.param('[rules]\nwithdrawal_days = -1', "withdrawal_days", id="negative-days"),
    pytest.param('[rules]\ncpf_working_days = 0', "de 1 à 30", id="cpf-zero-would-end-before-the-validation"),
])
def test_more_mistakes_name_their_key(snippet: str, key: str) -> None:
    text = 'id = "x"\nname = "X"\n' + snippet + "\n"
    with pytest.raises(ConfigError) as err:
        parse_centre(text, "calendars/x.toml")
    assert str(err.value).startswith("calendars/x.toml : ")
    assert key in str(err.value)


def test_override_keys_are_parsed(ipst: Centre) -> None:
    text = ('id = "x"\nname = "X"\n[years.2026]\n'
            'overrides."semester-1" = { start = 2026-10-05, end = 2027-01-09, reason = "vote" }\n'
            'overrides."add-drop-close" = { date = 2027-02-26 }\n')
    centre = parse_centre(text, "calendars/x.toml")
    o = centre.year(2026).overrides
    assert (o["semester-1"].start, o["semester-1"].end, o["semester-1"].reason) == (
        date(2026, 10, 5), date(2027, 1, 9), "vote")
    assert o["add-drop-close"].start == o["add-drop-close"].end == date(2027, 2, 26)
