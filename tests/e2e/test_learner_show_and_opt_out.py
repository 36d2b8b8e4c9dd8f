"""`learners show` (upcoming and past apart, the countdown, exam sessions) and `reminders opt-out` by the key of
a « stop <key> » e-mail, run as the CLI with a stopped clock (Monday 23 November 2026)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import mail_preference
from tests.conftest import CALENDARS, invoke
from tests.support.learner_site import ROSTER


@pytest.fixture
def db(tmp_path: Path) -> str:
    (tmp_path / "learners.csv").write_text(ROSTER, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'l.db'}"
    assert cli("learners", "import", str(tmp_path / "learners.csv"), "--db", url, "-q").exit_code == 0
    return url


def cli(*args: str):
    return invoke("--calendars", str(CALENDARS), *args)


def test_learners_show_puts_upcoming_and_past_apart_with_the_countdown_and_the_exams(db: str) -> None:
    r = cli("learners", "show", "A001", "--db", db)
    assert r.exit_code == 0, r.output
    out = r.stdout
    upcoming, rest = out.split("Échéances à venir (3) :\n", 1)[1].split("\nÉchéances passées (4) :\n", 1)
    past, exams = rest.split("\nSessions d'examens (4) :\n", 1)
    assert "(au lundi 23 novembre 2026)" in out
    assert "2027-02-09  CPF : dernière validation possible pour le semestre 2  (dans 78 jours)" in upcoming
    assert "    • En comptant 3 jours ouvrés en arrière" in upcoming
    assert "2026-11-13  Confirmation CPF : date limite  (il y a 10 jours)" in past
    assert "2026-11-02  Délai de rétractation (10 jours) : date limite  (il y a 21 jours)" in past
    assert "Confirmation CPF" not in upcoming
    assert exams.splitlines()[0] == ("2027-01-18 → 2027-02-13  Examen NFA031 — 1re session (session d'examens "
                                     "d'hiver)  (dans 56 jours)")
    assert sum("NFP121" in line for line in exams.splitlines()) == 2


def test_learners_show_json_has_the_countdown_and_the_exams(db: str) -> None:
    data = json.loads(cli("learners", "show", "A001", "--db", db, "--format", "json").stdout)
    assert data["today"] == "2026-11-23"
    by_id = {d["id"]: d for d in data["deadlines"]}
    assert (by_id["cpf-latest-validation-s2"]["days_left"], by_id["cpf-latest-validation-s2"]["past"]) == (78, False)
    assert (by_id["cpf-confirmation"]["days_left"], by_id["cpf-confirmation"]["past"]) == (-10, True)
    assert [(e["id"], e["start"], e["days_left"]) for e in data["exams"]][:1] == [
        ("ue-NFA031-exam-winter", "2027-01-18", 56)]
    assert len(data["exams"]) == 4


def test_opt_out_takes_the_key_of_a_stop_e_mail_as_well_as_an_id(db: str) -> None:
    store = open_store(db)
    key = store.learner_key("A002")
    for given in (key, f"stop {key}", f"  STOP {key} "):
        r = cli("reminders", "opt-out", given, "--db", db)
        assert r.exit_code == 0 and "A002 ne recevra plus de rappels" in r.stdout, r.output
        assert mail_preference(store, "A002") == "none"
        assert cli("reminders", "opt-out", "A002", "--undo", "--db", db).exit_code == 0
        assert mail_preference(store, "A002") == "each"
    store.close()


@pytest.mark.parametrize("given", ["0" * 32, "stop 0123", "A999", ""])
def test_opt_out_of_nobody_says_what_is_expected(db: str, given: str) -> None:
    r = cli("reminders", "opt-out", given, "--db", db)
    assert r.exit_code == 2
    assert "apprenant inconnu" in r.stderr and "stop <clé>" in r.stderr and "Traceback" not in r.output
