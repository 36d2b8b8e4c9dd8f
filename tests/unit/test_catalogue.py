"""UE catalogues: the shipped samples load and meet their hours, and one message per kind of bad row."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import time
from pathlib import Path

import pytest

from cnam_calendar.inputs.catalogue import COLUMNS, catalogue_path, load_catalogue, parse_catalogue
from cnam_calendar.rules.errors import CatalogueError
from cnam_calendar.rules.model import MODALITIES, SEMESTERS, UE, Centre
from cnam_calendar.rules.sessions import hours_problems, ue_sessions
from cnam_calendar.service import schedule

BAD = Path(__file__).resolve().parents[1] / "data" / "catalogues"
YEARS = (2026, 2027, 2028)
HEADER = ",".join(COLUMNS)

# file in tests/data/catalogues → (line and column named, fragments of the one-line message)
BAD_CASES: dict[str, tuple[str, list[str]]] = {
    "unknown-column": (":1 (etcs)", ["colonne inconnue", "vouliez-vous dire « ects »"]),
    "missing-column": (":1 (room)", ["colonne absente", HEADER]),
    "semicolon-separator": (":1", ["séparateur « ; »", "virgules"]),
    "wrong-field-count": (":3", ["11 champs au lieu de 10", "guillemets"]),
    "unknown-modality": (":3 (modality)", ["modalité inconnue « cours du soi »", "« cours du soir » ?", "FOAD"]),
    "weekday-on-foad": (":3 (weekday)", ["une UE FOAD n'a pas de jour de cours", "lundi", "colonne vide"]),
    "time-on-foad": (":3 (start)", ["une UE FOAD n'a pas d'heure de début", "18:00", "colonne vide"]),
    "missing-weekday": (":3 (weekday)", ["jour de cours manquant", "cours du soir", "lundi, mardi"]),
    "missing-time": (":3 (end)", ["heure de fin manquante", "co-modal", "HH:MM"]),
    "missing-time-online": (":3 (start)", ["heure de début manquante", "en ligne planifié", "HH:MM"]),
    "unknown-weekday": (":3 (weekday)", ["jour inconnu « mecredi »", "« mercredi » ?"]),
    "sunday": (":3 (weekday)", ["pas de cours le dimanche", "samedi"]),
    "malformed-time": (":3 (start)", ["heure de début invalide « 18:70 »", "HH:MM"]),
    "end-before-start": (":3 (end)", ["finit (18:00) avant", "commence (20:30)", "heure de fin après"]),
    "end-equals-start": (":3 (end)", ["finit (18:00)", "commence (18:00)"]),
    "duplicate-code": (":4 (code)", ["« NFA031 » déjà utilisé ligne 2"]),
    "ects-not-a-number": (":3 (ects)", ["« quatre » n'est pas un nombre", "4, 6, 8 ou 12"]),
    "ects-not-positive": (":3 (ects)", ["« 0 » n'est pas un nombre positif", "4, 6, 8 ou 12"]),
    "ects-missing": (":3 (ects)", ["ECTS manquant", "4, 6, 8 ou 12"]),
    "unknown-semester": (":3 (semester)", ["semestre inconnu « annuel »", "« annual » ?", "S1, S2, annual"]),
    "unknown-site": (":3 (site)", ["site inconnu « tolouse »", "« toulouse » ?", "albi"]),
    "missing-site": (":3 (site)", ["site manquant", "hybride", "toulouse, albi"]),
    "empty-code": (":3 (code)", ["code de l'UE vide", "NFA031"]),
    "invalid-code": (":3 (code)", ["code invalide « TET 102 »", "sans espace"]),
    "empty-title": (":3 (title)", ["intitulé de l'UE vide"]),
    "empty": (":1", ["fichier vide", HEADER]),
    "not-utf8": (":2", ["UTF-8", "0xe9"]),
}

# every problem of several-mistakes.ues.csv, in file order; row 5 spans two lines (a quoted line break,
# itself refused: a title is one line)
SEVERAL = [
    ":3 (ects)", ":4 (weekday)", ":4 (start)", ":4 (end)", ":5 (title)", ":5 (semester)", ":5 (end)", ":7 (code)",
]


def _bad_centre(ipst: Centre, name: str) -> Centre:
    """Return Ipst-Cnam (sites toulouse, albi) as if its catalogue were tests/data/catalogues/<name>.ues.csv."""
    return dataclasses.replace(ipst, id=name, path=str(BAD / f"{name}.toml"))


def _parse(ipst: Centre, *rows: str, header: str = HEADER) -> tuple[UE, ...]:
    return parse_catalogue("\n".join([header, *rows]) + "\n", "calendars/x.ues.csv", ipst)


# --- the shipped samples ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["ipst-cnam", "cnam-occitanie"])
def shipped(request: pytest.FixtureRequest, ipst: Centre, occitanie: Centre) -> tuple[Centre, tuple[UE, ...]]:
    centre = ipst if request.param == "ipst-cnam" else occitanie
    return centre, load_catalogue(centre)


def test_shipped_catalogue_lies_beside_its_centre_file(ipst: Centre, calendars_dir: Path) -> None:
    assert catalogue_path(ipst) == Path(ipst.path).parent / "ipst-cnam.ues.csv"
    assert catalogue_path(ipst).resolve() == (calendars_dir / "ipst-cnam.ues.csv").resolve()


def test_shipped_catalogue_is_a_full_sample(shipped: tuple[Centre, tuple[UE, ...]]) -> None:
    centre, ues = shipped
    assert len(ues) >= 25
    assert {u.modality for u in ues} == set(MODALITIES)
    assert {u.semester for u in ues} == set(SEMESTERS)
    assert {u.ects for u in ues} == {4, 6, 8, 12}
    assert len({u.code for u in ues}) == len(ues)
    site_ids = {s.id for s in centre.sites}
    for ue in ues:
        assert ue.site in site_ids or (ue.site == "" and ue.modality in ("FOAD", "en ligne planifié")), ue
        assert ue.timed == (ue.modality != "FOAD"), ue
        if ue.timed:
            assert ue.start is not None and ue.end is not None and ue.start < ue.end
            assert time(8) <= ue.start and ue.end <= time(22), f"{ue.code}: evening or Saturday-morning class"


@pytest.mark.parametrize("year", YEARS)
def test_every_timed_ue_of_the_samples_meets_its_ects_hours(shipped: tuple[Centre, tuple[UE, ...]],
                                                            year: int) -> None:
    centre, ues = shipped
    sched = schedule(centre, year)
    rule = centre.rules.hours
    outside = []
    for ue in ues:
        if not ue.timed:
            continue
        sessions = ue_sessions(ue, sched)
        expected = rule.expected(ue.ects)
        assert sessions.hours == pytest.approx(len(sessions.dates) * _duration(ue))
        if abs(sessions.hours - expected) > rule.tolerance * expected:
            outside.append(f"{ue.code}: {sessions.hours:g} h for {ue.ects:g} ECTS, expected {expected:g} h")
    assert outside == []
    assert hours_problems(sched, ues) == []


def _duration(ue: UE) -> float:
    assert ue.start is not None and ue.end is not None
    return (ue.end.hour * 60 + ue.end.minute - ue.start.hour * 60 - ue.start.minute) / 60


def test_occitanie_uses_its_hours_table(occitanie: Centre) -> None:
    ues = {u.code: u for u in load_catalogue(occitanie)}
    ue = ues["ERG105"]  # 12 ECTS, annual, Thursday 17:45–21:30
    hours = [ue_sessions(ue, schedule(occitanie, y)).hours for y in YEARS]
    assert all(90 <= h <= 110 for h in hours), hours  # 12 ECTS = 100 h ± 10 %


# --- what the parser accepts -------------------------------------------------------------------------


def test_row_is_turned_into_a_ue(ipst: Centre) -> None:
    (ue,) = _parse(ipst, 'NSY103,"Linux : principes, outils",12,annual,co-modal,toulouse,samedi,09:00,13:00,T-112')
    assert ue == UE("NSY103", "Linux : principes, outils", 12.0, "annual", "co-modal", "toulouse",
                    5, time(9), time(13), "T-112")


def test_foad_row_has_no_timing(ipst: Centre) -> None:
    (ue,) = _parse(ipst, "UTC503,Paradigmes de programmation,4,S1,FOAD,,,,,")
    assert (ue.site, ue.weekday, ue.start, ue.end, ue.timed) == ("", None, None, None, False)


def test_lenient_spellings_are_normalised(ipst: Centre) -> None:
    (ue,) = parse_catalogue(
        "\ufeff" + HEADER.upper() + "\n"
        + ' GDN100 ,Management de projet,"4,5",s2,Cours du soir,Toulouse,Mercredi,18h00,20h30,T-010\n\n',
        "calendars/x.ues.csv", ipst)
    assert (ue.code, ue.ects, ue.semester, ue.modality, ue.site) == ("GDN100", 4.5, "S2", "cours du soir", "toulouse")
    assert (ue.weekday, ue.start, ue.end) == (2, time(18), time(20, 30))


def test_online_planned_ue_meets_weekly_without_a_site(ipst: Centre) -> None:
    (ue,) = _parse(ipst, "DRA002,Droit du travail,4,S2,en ligne planifié,,lundi,18:30,20:45,")
    assert ue.timed and ue.site == ""


def test_header_only_is_an_empty_catalogue(ipst: Centre) -> None:
    assert _parse(ipst) == ()


def test_missing_catalogue_is_empty(ipst: Centre, tmp_path: Path) -> None:
    assert load_catalogue(dataclasses.replace(ipst, path=str(tmp_path / "ipst-cnam.toml"))) == ()
    assert load_catalogue(dataclasses.replace(ipst, path="")) == ()


# --- one message per mistake ---------------------------------------------------------------------


def test_every_bad_file_has_a_case() -> None:
    assert {p.name.removesuffix(".ues.csv") for p in BAD.glob("*.ues.csv")} == set(BAD_CASES) | {"several-mistakes"}


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_row_names_file_line_column_and_expectation(name: str, ipst: Centre) -> None:
    where, fragments = BAD_CASES[name]
    path = str(BAD / f"{name}.ues.csv")
    with pytest.raises(CatalogueError) as err:
        load_catalogue(_bad_centre(ipst, name))
    problem = err.value.problems[0] if err.value.problems else err.value
    assert problem.where == path + where
    message = str(problem)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert str(err.value) == message, "the error reads as its first problem"


def test_every_problem_is_reported_at_once(ipst: Centre) -> None:
    path = str(BAD / "several-mistakes.ues.csv")
    with pytest.raises(CatalogueError) as err:
        load_catalogue(_bad_centre(ipst, "several-mistakes"))
    assert [p.where for p in err.value.problems] == [path + w for w in SEVERAL]
    lines = err.value.lines()
    assert len(lines) == len(SEVERAL) and all(line.startswith(path + ":") for line in lines)
    assert "« -4 » n'est pas un nombre positif" in lines[0]
    assert "caractère de contrôle U+000A (saut de ligne)" in lines[4]
    assert "semestre inconnu « S3 »" in lines[5]


def test_header_mistakes_and_row_mistakes_come_together(ipst: Centre) -> None:
    header = HEADER.replace("room", "salle")
    with pytest.raises(CatalogueError) as err:
        _parse(ipst, "GDN100,Management de projet,4,S7,cours du soir,toulouse,mercredi,18:00,20:00,T-010",
               header=header)
    assert [p.where for p in err.value.problems] == [
        "calendars/x.ues.csv:1 (salle)", "calendars/x.ues.csv:1 (room)", "calendars/x.ues.csv:2 (semester)",
    ]


def test_codes_are_upper_case_and_duplicates_ignore_case(ipst: Centre) -> None:
    with pytest.raises(CatalogueError) as err:
        _parse(ipst, "GDN100,Management de projet,4,S2,FOAD,,,,,", "gdn100,Management de projet,4,S2,FOAD,,,,,")
    assert err.value.lines() == [
        "calendars/x.ues.csv:3 (code) : code invalide « gdn100 » "
        "(attendu : majuscules, chiffres, - ou _, sans espace, ex. NFA031)",
        "calendars/x.ues.csv:3 (code) : code « gdn100 » déjà utilisé ligne 2 "
        "(attendu : un code par UE ; fusionnez ou supprimez l'une des deux lignes)",
    ]


@pytest.mark.parametrize("value", ["-4", "nan", "inf", "0,0"])
def test_ects_must_be_a_finite_positive_number(ipst: Centre, value: str) -> None:
    with pytest.raises(CatalogueError, match=r":2 \(ects\)"):
        _parse(ipst, f'GDN100,Management de projet,"{value}",S2,FOAD,,,,,')


def test_bad_catalogue_is_a_problem_check_names_with_status_1(run_cli: Callable, calendars_copy: Callable) -> None:
    calendars = calendars_copy({"ipst-cnam.ues.csv": lambda t: t.replace(",S1,FOAD,,,,,", ",S1,FOAD,,lundi,,,", 1)})
    result = run_cli("--calendars", str(calendars), "check")
    assert result.exit_code == 1
    assert "Problème : " in result.stdout and "ipst-cnam.ues.csv:" in result.stdout and "(weekday)" in result.stdout
    assert "une UE FOAD n'a pas de jour de cours" in result.stdout
    # the other commands refuse it (status 2)
    built = run_cli("--calendars", str(calendars), "feed", "--centre", "ipst-cnam", "--year", "2026")
    assert built.exit_code == 2 and "une UE FOAD n'a pas de jour de cours" in built.stderr


def test_a_catalogue_that_is_not_utf8_makes_check_exit_2(run_cli: Callable, calendars_copy: Callable) -> None:
    calendars = calendars_copy({})
    path = calendars / "ipst-cnam.ues.csv"
    path.write_bytes(path.read_bytes().replace(b"Programmation", "Programmation\xe9".encode("latin-1"), 1))
    result = run_cli("--calendars", str(calendars), "check")
    assert result.exit_code == 2, result.output
    assert "ipst-cnam.ues.csv:2 : caractère qui n'est pas de l'UTF-8 (octet 0xe9)" in result.stderr
