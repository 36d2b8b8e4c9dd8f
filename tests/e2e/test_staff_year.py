"""Preparing a year as the scolarité does: `year new`, `build` checking first, `diff` before publishing.

Run through the CLI (click's runner, an injected clock) on copies of calendars/; learner counts
from a real store (SQLite, and PostgreSQL when it answers).
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date
from pathlib import Path

import pytest
import tomlkit

from cnam_calendar.inputs.config import load_centre
from cnam_calendar.rules.model import Learner
from cnam_calendar.store.database import open_store
from tests.conftest import EPOCH, FIXED_NOW
from tests.contract.test_store import db_url  # noqa: F401 (the fixture: SQLite file, PostgreSQL schema)

PIN_S1 = {"ipst-cnam.toml": lambda t: t.replace('# overrides."semester-1" = { start = 2026-10-05',
                                                'overrides."semester-1" = { start = 2026-10-05')}
REASON = "rentrée avancée, vote du conseil du 12 mai"


# English words an untranslated message would hold (stderr of every path these tests take must be French)
ENGLISH = re.compile(r"\b(the|is|are|not|must|should|expected|invalid|error|missing|cannot|unknown|usage|"
                     r"try|value|file)\b", re.IGNORECASE)


def _ok(result, code: int = 0) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    english = ENGLISH.findall(result.stderr.replace("--force", "").replace("--year", "").replace("--help", ""))
    assert not english, f"English on stderr: {english}\n{result.stderr}"


# --- year new -----------------------------------------------------------------------------------------

def test_year_new_adds_the_table_and_touches_nothing_else(run_cli, calendars_copy) -> None:
    cal = calendars_copy()
    path = cal / "ipst-cnam.toml"
    before = path.read_bytes()
    result = run_cli("--calendars", str(cal), "year", "new", "--centre", "ipst-cnam", "--year", "2029")
    _ok(result)
    assert "ajouté [years.2029]" in result.stdout
    assert "du samedi 22 décembre 2029 au dimanche 6 janvier 2030" in result.stdout
    after = path.read_bytes()
    assert after.startswith(before) and after[len(before):].startswith(b"\n[years.2029]\n")
    text = after.decode()
    assert tomlkit.dumps(tomlkit.parse(text)) == text
    assert tomllib.loads(text)["years"]["2029"]["closures"][0]["start"] == date(2029, 12, 22)
    centre = load_centre(path)
    assert [(c.id, c.start, c.end) for c in centre.year(2029).closures] == [
        ("noel", date(2029, 12, 22), date(2030, 1, 6))]
    # the original comments are all there, and the table brings its commented example
    for line in before.decode().splitlines():
        if line.startswith("#"):
            assert line in text.splitlines()
    assert '# overrides."semester-1" = { start = 2029-10-08' in text
    assert not list(cal.glob(".*.tmp")), "the atomic writer leaves nothing behind"
    # and the year now checks and builds like the others
    _ok(run_cli("--calendars", str(cal), "check", "--centre", "ipst-cnam"), code=1)  # 2029's hours (see the guide)


def test_year_new_refuses_a_year_that_exists(run_cli, calendars_copy) -> None:
    cal = calendars_copy()
    before = (cal / "ipst-cnam.toml").read_bytes()
    result = run_cli("--calendars", str(cal), "year", "new", "--centre", "ipst-cnam", "--year", "2027")
    _ok(result, code=2)
    assert "la table [years.2027] existe déjà" in result.stderr and "ipst-cnam.toml" in result.stderr
    assert (cal / "ipst-cnam.toml").read_bytes() == before


@pytest.mark.parametrize(("year", "said"), [
    ("1999", "1999 hors des années prises en charge ; attendu : une année de 2000 à 2099"),
    ("2100", "2100 hors des années prises en charge ; attendu : une année de 2000 à 2099"),
    ("deux", "« deux » n'est pas une année"),
])
def test_year_new_refuses_years_outside_the_range(run_cli, calendars_copy, year, said) -> None:
    cal = calendars_copy()
    before = (cal / "ipst-cnam.toml").read_bytes()
    result = run_cli("--calendars", str(cal), "year", "new", "--centre", "ipst-cnam", "--year", year)
    _ok(result, code=2)
    assert said in result.stderr
    assert (cal / "ipst-cnam.toml").read_bytes() == before


def test_year_new_on_an_unknown_centre_suggests_the_right_one(run_cli, calendars_copy) -> None:
    result = run_cli("--calendars", str(calendars_copy()), "year", "new", "--centre", "ipst", "--year", "2029")
    _ok(result, code=2)
    assert "centre inconnu « ipst »" in result.stderr and "ipst-cnam" in result.stderr


def test_year_new_keeps_windows_line_ends(run_cli, calendars_copy) -> None:
    cal = calendars_copy()
    path = cal / "ipst-cnam.toml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    before = path.read_bytes()
    _ok(run_cli("--calendars", str(cal), "year", "new", "--centre", "ipst-cnam", "--year", "2029"))
    after = path.read_bytes()
    assert after.startswith(before) and b"\n" not in after.replace(b"\r\n", b"")
    assert 2029 in load_centre(path).years


# --- build checks first -------------------------------------------------------------------------------

def _short_nfa031(text: str) -> str:
    """NFA031 (6 ECTS, 48 h ± 10 % expected) meets 17:45-19:45: 2 h a week, half its hours."""
    line = next(ln for ln in text.splitlines() if ln.startswith("NFA031,"))
    return text.replace(line, re.sub(r",17:45,21:30,", ",17:45,19:45,", line))


def test_build_refuses_what_check_refuses_then_force_builds(run_cli, calendars_copy, tmp_path) -> None:
    cal = calendars_copy({"ipst-cnam.ues.csv": _short_nfa031})
    out = tmp_path / "out"
    refused = run_cli("--calendars", str(cal), "build", "--year", "2026", "--out", str(out), epoch=EPOCH)
    _ok(refused, code=1)
    problems = [ln for ln in refused.stderr.splitlines() if ln.startswith("Problème : ")]
    assert len(problems) == 1 and "NFA031 (6 ECTS) a 24 h de cours en 2026-2027" in problems[0]
    assert "1 problème : rien n'a été construit" in refused.stderr and "--force" in refused.stderr
    assert not out.exists(), "nothing written"
    # check names the same problem
    check = run_cli("--calendars", str(cal), "check", "--centre", "ipst-cnam")
    assert problems[0].removeprefix("Problème : ") in check.stdout
    forced = run_cli("--calendars", str(cal), "build", "--year", "2026", "--out", str(out), "--force", epoch=EPOCH)
    _ok(forced)
    assert any("NFA031 (6 ECTS) a 24 h" in ln and ln.startswith("Attention (--force)")
               for ln in forced.stderr.splitlines())
    assert (out / "ipst-cnam" / "2026" / "ue" / "NFA031.ics").exists()


def test_build_lists_every_problem_of_every_centre(run_cli, calendars_copy, tmp_path) -> None:
    cal = calendars_copy()
    result = run_cli("--calendars", str(cal), "build", "--year", "2029", "--out", str(tmp_path / "o"))
    _ok(result, code=1)
    problems = [ln for ln in result.stderr.splitlines() if ln.startswith("Problème : ")]
    # both centres' catalogues miss the hours rule in 2029-2030 (docs/guide-scolarite.md shows Ipst-Cnam's)
    assert {p.split(" : ")[1] for p in problems} == {f"{cal}/cnam-occitanie.ues.csv", f"{cal}/ipst-cnam.ues.csv"}
    assert all("en 2029-2030, attendu" in p for p in problems)
    assert f"{len(problems)} problème{'s' if len(problems) > 1 else ''} : rien n'a été construit" in result.stderr
    assert not (tmp_path / "o").exists()


def test_build_warns_about_a_year_without_its_table(run_cli, calendars_copy, tmp_path) -> None:
    cal = calendars_copy(catalogues=False)  # no UE: no hours to check, only the missing table
    result = run_cli("--calendars", str(cal), "build", "--centre", "ipst-cnam", "--year", "2029",
                     "--out", str(tmp_path / "o"))
    _ok(result)
    warning = [ln for ln in result.stderr.splitlines() if ln.startswith("Attention : ")]
    assert warning == [f"Attention : {cal}/ipst-cnam.toml n'a pas de table [years.2029] : 2029-2030 sera "
                       "construite sans aucune fermeture ; créez-la avec : "
                       "cnam-calendar year new --centre ipst-cnam --year 2029"]
    with_table = run_cli("--calendars", str(cal), "build", "--centre", "ipst-cnam", "--year", "2028",
                         "--out", str(tmp_path / "o"))
    _ok(with_table)
    assert "Attention" not in with_table.stderr
    diff = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2029", "--out", str(tmp_path / "o"))
    _ok(diff)
    assert diff.stderr == warning[0] + "\n"


@pytest.mark.parametrize("year", ["1999", "2100", "1901"])
def test_build_refuses_years_outside_the_range(run_cli, calendars_copy, tmp_path, year) -> None:
    result = run_cli("--calendars", str(calendars_copy()), "build", "--year", year, "--out", str(tmp_path / "o"))
    _ok(result, code=2)
    assert f"{year} hors des années prises en charge" in result.stderr
    assert "de 2000 à 2099" in result.stderr
    assert not (tmp_path / "o").exists()


def test_shipped_calendars_build_as_the_readme_says(run_cli, calendars_dir, tmp_path) -> None:
    """`cnam-calendar build` on the shipped files: no problem, no warning, this year and the next two."""
    for year in ("2026", "2027", "2028"):
        result = run_cli("--calendars", str(calendars_dir), "build", "--year", year, "--out", str(tmp_path / "o"))
        _ok(result)
        assert result.stderr == ""


# --- diff -----------------------------------------------------------------------------------------------

def _published(run_cli, cal: Path, out: Path) -> None:
    _ok(run_cli("--calendars", str(cal), "build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out),
                epoch=EPOCH))


def _pin_semester_1(cal: Path) -> None:
    path = cal / "ipst-cnam.toml"
    path.write_text(PIN_S1["ipst-cnam.toml"](path.read_text(encoding="utf-8")), encoding="utf-8")


def test_diff_before_anything_is_published(run_cli, calendars_copy, tmp_path) -> None:
    result = run_cli("--calendars", str(calendars_copy()), "diff", "--centre", "ipst-cnam", "--year", "2026",
                     "--out", str(tmp_path / "o"))
    _ok(result)
    assert result.stdout == (f"ipst-cnam 2026-2027 : rien n'est encore publié dans {tmp_path / 'o' / 'ipst-cnam' / '2026'} "
                             "; la construction publiera 106 événements.\n")
    built = run_cli("--calendars", str(calendars_copy(name="c2")), "build", "--centre", "ipst-cnam", "--year",
                    "2026", "--out", str(tmp_path / "o"))
    assert built.stdout.endswith(f"ipst-cnam 2026-2027 : première publication dans {tmp_path / 'o' / 'ipst-cnam' / '2026'}"
                                 ", 106 événements.\n")
    ues = len((calendars_copy(name="c3") / "ipst-cnam.ues.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert built.stdout.count("écrit ") == 1 + ues + 1  # calendar.ics, one file per UE, index.html


def test_diff_after_moving_semester_1(run_cli, calendars_copy, tmp_path) -> None:
    cal, out = calendars_copy(), tmp_path / "out"
    _published(run_cli, cal, out)
    same = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out))
    _ok(same)
    assert "aucun changement par rapport à ce qui était publié" in same.stdout
    _pin_semester_1(cal)
    result = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out))
    _ok(result)
    text = result.stdout
    block = text.split("Déplacé : semester-1 — Semestre 1\n", 1)[1].split("\nDéplacé", 1)[0]
    assert block.splitlines()[0] == ("  du lundi 12 octobre 2026 au samedi 16 janvier 2027 → "
                                     "du lundi 5 octobre 2026 au samedi 16 janvier 2027")
    assert f"motif : Date fixée par le centre (ipst-cnam.toml : years.2026.overrides.semester-1), motif : {REASON}." \
        in block
    # what follows semester 1 moves with it: the day before for registration, 3 jours ouvrés for CPF
    assert "Déplacé : registration-close-s1 — Clôture des inscriptions (semestre 1)\n" \
           "  dimanche 11 octobre 2026 → dimanche 4 octobre 2026\n" in text
    assert "Déplacé : cpf-latest-validation-s1 — CPF : dernière validation possible pour le semestre 1\n" \
           "  mardi 6 octobre 2026 → mardi 29 septembre 2026\n" \
           "  motif : Le semestre 1 commence le lundi 5 octobre 2026" in text
    # a UE of semester 1 gains the Tuesday of the new first week; an S2 UE does not move
    nfa031 = text.split("Déplacé : ue-NFA031-sessions", 1)[1].split("\nDéplacé", 1)[0]
    assert "séances ajoutées : mardi 6 octobre 2026" in nfa031 and "motif : le même que semester-1" in nfa031
    assert "ue-NFE114-sessions" not in text  # NFE114 is S2
    assert "apprenants concernés" not in text  # no store given
    assert re.search(r"En tout : 0 ajouté, \d+ déplacés, 0 modifié, 0 annulé\.", text)

    data = json.loads(run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026",
                              "--out", str(out), "--format", "json").stdout)
    s1 = next(c for c in data["changes"] if c["id"] == "semester-1")
    assert s1 == {"kind": "moved", "id": "semester-1", "uid": "semester-1.ipst-cnam.2026@cnam-calendar",
                  "title": "Semestre 1", "feed": "calendar.ics", "ue": None,
                  "old": {"start": "2026-10-12", "end": "2027-01-16"},
                  "new": {"start": "2026-10-05", "end": "2027-01-16"},
                  "reason": f"Date fixée par le centre (ipst-cnam.toml : years.2026.overrides.semester-1), "
                            f"motif : {REASON}.",
                  "sessions_removed": [], "sessions_added": [], "learners": None}
    assert data["published"] is True and data["counts"]["moved"] == len(data["changes"])
    nfa031 = next(c for c in data["changes"] if c["id"] == "ue-NFA031-sessions")
    assert nfa031["reason"] == s1["reason"] and nfa031["sessions_added"] == ["2026-10-06"] and nfa031["ue"] == "NFA031"

    # build prints the same summary, then diff has nothing left to say
    built = run_cli("--calendars", str(cal), "build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out))
    _ok(built)
    assert "\n".join(text.splitlines()[1:]) in built.stdout
    assert re.search(r"ipst-cnam 2026-2027 : \d+ changements publiés par rapport à la publication "
                     r"précédente dans .*/out/ipst-cnam/2026 \(\d{4}-\d\d-\d\d à \d\d:\d\d UTC\)\n", built.stdout)
    again = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out))
    assert "aucun changement" in again.stdout


def test_diff_shows_a_closure_added_and_one_cancelled(run_cli, calendars_copy, tmp_path) -> None:
    cal, out = calendars_copy(), tmp_path / "out"
    _published(run_cli, cal, out)
    path = cal / "ipst-cnam.toml"
    text = path.read_text(encoding="utf-8")
    old = 'closures = [{ id = "noel", start = 2026-12-19, end = 2027-01-03, label = "Fermeture de fin d\'année" }]'
    new = ('closures = [{ id = "pont", start = 2026-11-10, end = 2026-11-10, label = "Pont du 11 novembre" }]')
    path.write_text(text.replace(old, new), encoding="utf-8")
    result = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out))
    _ok(result)
    assert "Ajouté : closure-pont — Pont du 11 novembre\n  mardi 10 novembre 2026\n" in result.stdout
    assert ("Annulé : closure-noel — Fermeture de fin d'année\n  était : du samedi 19 décembre 2026 au "
            "dimanche 3 janvier 2027") in result.stdout
    # NFA031 meets on Tuesdays: the 10 November session goes, the two Christmas Tuesdays come back
    nfa031 = result.stdout.split("ue-NFA031-sessions", 1)[1].split("\nModifié", 1)[0]
    assert "séances supprimées : mardi 10 novembre 2026 (pas de cours : Pont du 11 novembre (fermeture du centre))" \
        in nfa031
    assert "séances ajoutées : mardi 22 décembre 2026, mardi 29 décembre 2026" in nfa031


LEARNERS = [  # (id, status, UEs): three of ipst-cnam, one of Montpellier
    ("a-cpf", "cpf", ("NFA031",)),
    ("b-ind", "individuel", ("NFA031", "NFE114")),
    ("c-app", "apprentissage", ("NFE114",)),
    ("d-occ", "cpf", ("NFA031",)),
]


def _learners() -> list[Learner]:
    return [Learner(i, f"{i}@example.org", "Camille", "Martin", "cnam-occitanie" if i == "d-occ" else "ipst-cnam",
                    "34" if i == "d-occ" else "31", status, ues, None, None, None, "fr")
            for i, status, ues in LEARNERS]


def test_diff_counts_the_learners_each_change_concerns(run_cli, calendars_copy, tmp_path, db_url) -> None:  # noqa: F811
    store = open_store(db_url, clock=lambda: FIXED_NOW)
    store.import_learners(_learners())
    store.close()
    cal, out = calendars_copy(), tmp_path / "out"
    _published(run_cli, cal, out)
    _pin_semester_1(cal)
    result = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out),
                     "--db", db_url, "--format", "json")
    _ok(result)
    data = json.loads(result.stdout)
    counts = {c["id"]: c["learners"] for c in data["changes"]}
    assert counts["semester-1"] == 3  # every learner of the centre, not Montpellier's
    assert counts["registration-close-s1"] == 3
    assert counts["cpf-latest-validation-s1"] == 1  # CPF learners only
    assert counts["ue-NFA031-sessions"] == 2  # those who take NFA031
    assert counts["ue-SEC101-sessions"] == 0
    assert data["learners"] == 3
    text = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out),
                   "--db", db_url).stdout
    assert "Déplacé : cpf-latest-validation-s1" in text
    assert text.split("Déplacé : cpf-latest-validation-s1", 1)[1].split("Déplacé", 1)[0].rstrip().endswith(
        "apprenants concernés : 1")
    assert "; 3 apprenants concernés en tout." in text
    # build with the same store prints the same counts
    built = run_cli("--calendars", str(cal), "build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out),
                    "--db", db_url)
    _ok(built)
    assert "3 apprenants concernés en tout." in built.stdout


def test_diff_with_a_store_that_cannot_be_opened_says_so(run_cli, calendars_copy, tmp_path) -> None:
    cal, out = calendars_copy(catalogues=False), tmp_path / "out"
    bad = tmp_path / "pas-une-base"
    bad.write_bytes(b"this is not sqlite" * 100)
    result = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out),
                     "--db", str(bad))
    _ok(result, code=2)
    assert result.stderr.startswith("Erreur : ")


def test_diff_shows_personal_deadlines_the_reminder_plan_holds(run_cli, calendars_copy, tmp_path, db_url) -> None:  # noqa: F811
    """cpf_working_days 3 → 4: a CPF validation on Monday 1 March 2027 was due Thursday 4, now Friday 5 March."""
    cpf = Learner("e-cpf", "e@example.org", "Camille", "Martin", "ipst-cnam", "31", "cpf", ("NFA031",), None,
                  date(2027, 3, 1), None, "fr")
    late = Learner("f-cpf", "f@example.org", "Alex", "Roux", "ipst-cnam", "31", "cpf", (), date(2027, 3, 2),
                   None, None, "fr")  # a withdrawal deadline only: 10 days, which does not change
    store = open_store(db_url, clock=lambda: FIXED_NOW)
    store.import_learners([cpf, late])
    store.close()
    cal, out = calendars_copy(), tmp_path / "out"
    _published(run_cli, cal, out)
    _ok(run_cli("--calendars", str(cal), "reminders", "plan", "--year", "2026", "--db", db_url))
    path = cal / "ipst-cnam.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("cpf_working_days = 3", "cpf_working_days = 4"),
                    encoding="utf-8")
    result = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out),
                     "--db", db_url, "--format", "json")
    _ok(result)
    data = json.loads(result.stdout)
    assert data["personal"] == [{"rule": "cpf-confirmation", "title": "Confirmation CPF : date limite", "learners": 1,
                                 "moved": [{"learner": "e-cpf", "old": "2027-03-04", "new": "2027-03-05"}],
                                 "gone": []}]
    # the latest CPF validation days move too (3 → 4 jours ouvrés back), for the CPF learners
    counts = {c["id"]: c["learners"] for c in data["changes"] if c["kind"] == "moved"}
    assert counts["cpf-latest-validation-s1"] == 2 and data["learners"] == 2
    # its reason is the step that changed, not the first of its explanation
    s1 = next(c for c in data["changes"] if c["id"] == "cpf-latest-validation-s1")
    assert s1["reason"].startswith("En comptant 4 jours ouvrés en arrière : validation au plus tard le ")
    text = run_cli("--calendars", str(cal), "diff", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out),
                   "--db", db_url).stdout
    assert ("Échéance personnelle : cpf-confirmation — Confirmation CPF : date limite\n"
            "  1 apprenant : le jour change par rapport au plan des rappels "
            "(ex. jeudi 4 mars 2027 → vendredi 5 mars 2027)\n") in text
