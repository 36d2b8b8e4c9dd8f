"""Rosters through `learners import` on SQLite and PostgreSQL: refused whole, the store unchanged.

A known-bad row (control characters, NUL included, a bad e-mail, date, department, centre, status,
language or UE, non-ASCII digits) among good rows must be refused with its line, exit 2, and leave
the store exactly as it was; a blindly mutated roster exits 0 or 2, never with a traceback, and a
refused one changes nothing either.
"""

from __future__ import annotations

import csv
import io
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.roster import COLUMNS, catalogue_codes, generate_learners, roster_csv
from cnam_calendar.store.database import open_store
from tests.conftest import CALENDARS, invoke
from tests.contract.test_store import db_url  # noqa: F401 (the SQLite and PostgreSQL fixture)
from tests.fuzz.test_fuzz_rule_files import CONTROL, blind
from tests.support.fuzz import STATS, fuzz_settings

CENTRES = load_centres(CALENDARS)
CODES = {cid: sorted(codes) for cid, codes in catalogue_codes(CENTRES).items()}
GOOD = roster_csv(generate_learners(6, 7, CENTRES, CODES, 2026))
GOOD_ROWS = list(csv.reader(io.StringIO(GOOD)))[1:]

BAD_VALUES = {
    "email": st.sampled_from(["", "a@", "@b.fr", "a b@c.fr", "é@x.fr", "a@b", "x" * 300 + "@b.fr"]),
    "department": st.sampled_from(["", "00", "20", "96", "977", "٣١", "３１", "2C"]),
    "centre": st.sampled_from(["", "ipst", "IPST-CNAM", "paris"]),
    "status": st.sampled_from(["", "salarié", "apprenti"]),
    "lang": st.sampled_from(["de", "FR-fr", "français"]),
    "dossier_received": st.sampled_from(["2026-02-30", "10/09/2026", "٢٠٢٦-٠٩-١٠", "1999-12-31", "2101-01-01",
                                         "2026-9-1", "demain"]),
    "cpf_validated": st.sampled_from(["0000-01-01", "2026-13-01", "2026/09/10"]),
    "ues": st.sampled_from(["NOPE999", "NFA031;XXX000"]),
    "id": st.sampled_from(["", "a b", "-x", "x" * 65, "é1"]),
}


@st.composite
def known_bad_roster(draw: st.DrawFn) -> tuple[str, int]:
    """A roster of good rows with one row broken in a way this strategy knows; returns (text, its line)."""
    rows = [list(r) for r in GOOD_ROWS]
    at = draw(st.integers(0, len(rows) - 1))
    column = draw(st.sampled_from([*BAD_VALUES, "control"]))
    if column == "control":
        target = draw(st.sampled_from(["first_name", "last_name", "id", "email", "centre"]))  # never empty
        i = COLUMNS.index(target)
        value = rows[at][i]
        k = draw(st.integers(1, max(1, len(value) - 1)))  # inside the value: strip() cannot remove it
        rows[at][i] = value[:k] + draw(CONTROL) + value[k:]
    else:
        rows[at][COLUMNS.index(column)] = draw(BAD_VALUES[column])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([list(COLUMNS), *rows])
    return out.getvalue(), at + 2


def _snapshot(url: str) -> list:
    store = open_store(url)
    try:
        return sorted(store.learners(), key=lambda learner: learner.id)
    finally:
        store.close()


@pytest.fixture
def store_url(db_url: str) -> Iterator[str]:  # noqa: F811 (the imported fixture)
    with tempfile.TemporaryDirectory() as tmp:
        good = Path(tmp) / "good.csv"
        good.write_text(GOOD, encoding="utf-8")
        result = invoke("--calendars", str(CALENDARS), "learners", "import", str(good), "-q", "--db", db_url)
        assert result.exit_code == 0, result.output
        yield db_url


def _import(url: str, text: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        roster = Path(tmp) / "roster.csv"
        roster.write_text(text, encoding="utf-8", errors="surrogatepass")
        result = invoke("--calendars", str(CALENDARS), "learners", "import", str(roster), "-q", "--db", url)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    if crashed or "Traceback" in result.output or result.exit_code not in (0, 2):
        STATS["tracebacks"] += 1
        detail = "".join(traceback.format_exception(result.exception)) if crashed else result.output
        raise AssertionError(f"exit {result.exit_code}\n{detail}")
    return result.exit_code, result.stderr.replace(str(roster), "roster.csv")


@fuzz_settings(25)
@given(case=known_bad_roster())
def test_known_bad_rosters_are_refused_and_change_nothing(store_url: str, case: tuple[str, int]) -> None:
    text, line = case
    STATS["inputs"] += 1
    STATS["rosters"] += 1
    before = _snapshot(store_url)
    code, stderr = _import(store_url, text)
    if code != 2:
        STATS["accepted"] += 1
        raise AssertionError(f"a wrong roster was imported (line {line})")
    assert f"roster.csv:{line} (" in stderr, stderr
    assert "rien n'a été importé" in stderr
    assert _snapshot(store_url) == before


@fuzz_settings(25)
@given(text=blind(GOOD))
def test_blindly_mutated_rosters_never_crash(store_url: str, text: str) -> None:
    STATS["inputs"] += 1
    STATS["rosters"] += 1
    before = _snapshot(store_url)
    code, stderr = _import(store_url, text)
    if code == 2:
        assert stderr.startswith("Erreur : "), stderr
        assert _snapshot(store_url) == before
