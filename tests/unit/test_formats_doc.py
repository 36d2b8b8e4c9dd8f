"""docs/formats.md says exactly what the readers accept (issue 18, point 5).

The tables of the catalogue's values (semester, modality and its synonyms, weekday, times) and of the
roster's columns and statuses are read from the page; each documented value goes through the real reader
and must be accepted (and read as the page says), each documented refusal must be refused, and the lists
must be exactly the readers' own.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest

from cnam_calendar.inputs import catalogue, roster
from cnam_calendar.inputs.catalogue import COLUMNS, WEEKDAYS, parse_catalogue
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.rules.errors import CatalogueError, RosterError
from cnam_calendar.rules.model import MODALITIES, SEMESTERS, Centre

DOC = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text(encoding="utf-8")
HEADER = ",".join(COLUMNS)


def _table(heading: str) -> list[list[str]]:
    """The first table after ``heading``: its rows (header and rule left out), cells stripped."""
    after = DOC[DOC.index(heading + "\n"):]
    lines = after.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _codes(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _row(ipst: Centre, semester: str = "S1", modality: str = "cours du soir", site: str = "toulouse",
         weekday: str = "mardi", start: str = "18:00", end: str = "21:00") -> tuple:
    text = f"{HEADER}\nNFA031,Essai,6,{semester},{modality},{site},{weekday},{start},{end},\n"
    return parse_catalogue(text, "calendars/x.ues.csv", ipst)


@pytest.fixture(scope="module")
def ipst(calendars_dir: Path) -> Centre:
    return next(c for c in load_centres(calendars_dir) if c.id == "ipst-cnam")


def test_the_catalogue_columns_are_the_readers() -> None:
    rows = _table("## Le catalogue des UE : `calendars/<centre>.ues.csv`".replace(" :", "\u00a0:"))
    assert [_codes(r[0])[0] for r in rows] == list(COLUMNS)


def test_semesters(ipst: Centre) -> None:
    documented = [_codes(r[0])[0] for r in _table("### Les semestres (`semester`)")]
    assert documented == list(SEMESTERS)
    for value in documented:
        assert _row(ipst, semester=value)[0].semester == value
        assert _row(ipst, semester=value.lower())[0].semester == value
    for refused in ("annuel", "S3"):
        assert f"« {refused} »".replace(" ", "\u00a0") in DOC
        with pytest.raises(CatalogueError, match="semestre inconnu"):
            _row(ipst, semester=refused)


def test_modalities_and_their_synonyms(ipst: Centre) -> None:
    rows = _table("### Les modalités (`modality`)")
    documented = {_codes(r[0])[0]: _codes(r[1]) for r in rows}
    assert list(documented) == list(MODALITIES)
    assert {word: m for m, words in documented.items() for word in words} == catalogue.MODALITY_SYNONYMS
    for r in rows:
        modality = _codes(r[0])[0]
        site = "toulouse" if r[2] == "obligatoire" else ""
        timed = r[3] == "obligatoires"
        for written in [modality, *documented[modality], modality.upper()]:
            ue = _row(ipst, modality=written, site=site, **({} if timed else {"weekday": "", "start": "", "end": ""}))[0]
            assert ue.modality == modality, written
        if not site:  # the site may stay empty: it is not required
            continue
        with pytest.raises(CatalogueError, match="site manquant"):
            _row(ipst, modality=modality, site="")
    assert _row(ipst, modality="PRÉSENTIEL")[0].modality == "cours du soir"  # the page's example
    assert _row(ipst, modality="presentiel")[0].modality == "cours du soir"
    with pytest.raises(CatalogueError, match="modalité inconnue « magistral »"):
        _row(ipst, modality="magistral")


def test_weekdays(ipst: Centre) -> None:
    documented = [_codes(r[0])[0] for r in _table("### Les jours (`weekday`)")]
    assert documented == list(WEEKDAYS)
    for i, day in enumerate(documented):
        assert _row(ipst, weekday=day.capitalize())[0].weekday == i
    for refused in ("dimanche", "mar.", "2"):
        assert f"`{refused}`" in DOC
        with pytest.raises(CatalogueError, match="weekday"):
            _row(ipst, weekday=refused)


def test_times(ipst: Centre) -> None:
    for r in _table("### Les heures (`start` et `end`)"):
        written, read = _codes(r[0])[0], r[1]
        assert _row(ipst, start=written, end="22:00")[0].start == time.fromisoformat(read), written
    refused = DOC[DOC.index("Refusés", DOC.index("### Les heures")):].split("\n")[0]
    assert len(_codes(refused)) >= 5
    for written in _codes(refused):
        with pytest.raises(CatalogueError, match="start"):
            _row(ipst, start=written)


def test_roster_columns_required_and_statuses(calendars_dir: Path) -> None:
    rows = _table("## Le fichier des apprenants (CSV)")
    documented = [name for r in rows for name in _codes(r[0])]
    assert documented == list(roster.COLUMNS)
    assert [name for r in rows if r[1] == "oui" for name in _codes(r[0])] == list(roster.REQUIRED)
    statuses = [_codes(r[0])[0] for r in _table("### Les statuts (`status`)")]
    assert statuses == list(roster.STATUSES)
    centres = load_centres(calendars_dir)
    header = ",".join(roster.REQUIRED)
    for status in [*statuses, "CPF", "Apprentissage"]:
        text = f"{header}\nA1,a1@example.org,Léa,Roux,ipst-cnam,31,{status}\n"
        parsed = roster.validate_rows(roster.parse_roster(text, "l.csv"), centres, {"ipst-cnam": set()}, source="l.csv")
        assert parsed.learners[0].status == status.lower()
    with pytest.raises(RosterError, match="statut « salarie » inconnu"):
        roster.validate_rows(roster.parse_roster(f"{header}\nA1,a1@example.org,Léa,Roux,ipst-cnam,31,salarie\n",
                                                 "l.csv"), centres, {"ipst-cnam": set()}, source="l.csv")
