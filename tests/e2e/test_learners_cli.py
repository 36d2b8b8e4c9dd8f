"""`cnam-calendar learners …` end to end: generate, import (all or nothing), re-import, tokens."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest

from cnam_calendar.inputs.roster import COLUMNS
from cnam_calendar.store.database import open_store

UES_HEADER = "code,title,ects,semester,modality,site,weekday,start,end,room\n"
CATALOGUES = {
    "ipst-cnam": ("NFA001,Algorithmique,6,S1,FOAD,,,,,\nNFA002,Programmation,6,S2,FOAD,,,,,\n"
                  "GDN100,Gestion,6,S1,FOAD,,,,,\n"),
    "cnam-occitanie": "UTC501,Mathématiques,4,S1,FOAD,,,,,\nENG210,Anglais,4,S2,FOAD,,,,,\n",
}
HEADER = ",".join(COLUMNS)


class Env:
    """A calendars copy with small UE catalogues, a database file, and the CLI pointed at both."""

    def __init__(self, run_cli, calendars: Path, directory: Path) -> None:
        self.run_cli, self.calendars, self.dir = run_cli, calendars, directory
        self.db_path = directory / "learners.db"

    def run(self, *args: str, env: dict[str, str | None] | None = None):
        """Run ``cnam-calendar --calendars … learners ARGS`` with CNAM_CALENDAR_DB set."""
        return self.raw("learners", *args, env={"CNAM_CALENDAR_DB": str(self.db_path), **(env or {})})

    def raw(self, *args: str, env: dict[str, str | None] | None = None):
        return self.run_cli("--calendars", str(self.calendars), *args,
                            env={"CNAM_CALENDAR_BASE_URL": None, **(env or {})})

    def store(self):
        return open_store(str(self.db_path))


@pytest.fixture
def env(run_cli, calendars_copy, tmp_path: Path) -> Env:
    calendars = calendars_copy()
    for centre, rows in CATALOGUES.items():
        (calendars / f"{centre}.ues.csv").write_text(UES_HEADER + rows, encoding="utf-8")
    return Env(run_cli, calendars, tmp_path)


def test_generate_import_reimport_update(env):
    roster = env.dir / "roster.csv"
    r = env.run("generate", "--count", "300", "--seed", "3", "-o", str(roster))
    assert r.exit_code == 0, r.output
    assert r.stdout == f"écrit {roster} (300 apprenants fictifs, année 2026-2027)\n"

    r = env.run("import", str(roster))
    assert r.exit_code == 0, r.stderr
    assert f"{roster} : 300 apprenants ; 300 créés, 0 mis à jour, 0 inchangé" in r.stdout
    assert "Import des apprenants" not in r.stderr  # no progress bar when stderr is not a terminal

    r = env.run("import", str(roster), "--quiet")
    assert r.exit_code == 0 and r.stderr == ""
    assert "0 créé, 0 mis à jour, 300 inchangés" in r.stdout

    lines = roster.read_text(encoding="utf-8").splitlines()
    fields = lines[5].split(",")
    fields[2] = "Renée"
    lines[5] = ",".join(fields)
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = env.run("import", str(roster), "-q")
    assert "0 créé, 1 mis à jour, 299 inchangés" in r.stdout
    s = env.store()
    assert s.count_learners() == 300 and s.get_learner(fields[0]).first_name == "Renée"
    s.close()


def test_a_file_with_errors_lists_them_all_and_imports_nothing(env):
    bad = env.dir / "bad.csv"
    bad.write_text(f"{HEADER}\n"
                   "A1,a1@example.org,Camille,Martin,ipst-cnam,31,individuel,NFA001,,,,fr\n"
                   "A2,pas-une-adresse,Léa,Roux,ipst-cnam,31,individuel,NFA001,,,,fr\n"
                   "A3,a3@example.org,Hugo,Petit,ipst-cnam,31,salarié,NFA009,2026-13-01,,,fr\n", encoding="utf-8")
    r = env.run("import", str(bad))
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        f"Erreur : {bad}:3 (email) : adresse e-mail invalide « pas-une-adresse » ; "
        "attendu : une adresse comme prenom.nom@exemple.fr",
        f"Erreur : {bad}:4 (status) : statut « salarié » inconnu ; "
        "attendu : l'un de apprentissage, professionnalisation, cpf, individuel",
        f"Erreur : {bad}:4 (ues) : UE « NFA009 » absente du catalogue de ipst-cnam ; attendu : « NFA002 »",
        f"Erreur : {bad}:4 (dossier_received) : date invalide « 2026-13-01 » ; "
        "attendu : une date qui existe, AAAA-MM-JJ",
        f"Erreur : {bad} : 4 erreurs, rien n'a été importé "
        f"(corrigez le fichier puis relancez : cnam-calendar learners import {bad})",
    ]
    assert not env.db_path.exists()  # the store is not even opened


def test_one_error_still_says_nothing_was_imported(env):
    bad = env.dir / "bad.csv"
    bad.write_text(f"{HEADER}\nA1,a1@example.org,Camille,Martin,ipst-cnam,31,individuel,,,,,es\n", encoding="utf-8")
    r = env.run("import", str(bad))
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-1].startswith(f"Erreur : {bad} : 1 erreur, rien n'a été importé")


def test_warnings_are_shown_and_do_not_stop_the_import(env):
    f = env.dir / "warn.csv"
    f.write_text(f"{HEADER}\n"
                 "A1,a1@example.org,Camille,Martin,ipst-cnam,34,individuel,,,,,\n"
                 "A2,a2@example.org,Léa,Roux,ipst-cnam,31,cpf,NFA001,2026-09-10,,,\n", encoding="utf-8")
    r = env.run("import", str(f))
    assert r.exit_code == 0
    assert r.stderr.splitlines() == [
        f"Attention : {f}:2 (department) : département 34 non desservi par Ipst-Cnam (Toulouse, Albi) ; "
        "il relève du centre Cnam Occitanie (Montpellier) (cnam-occitanie)",
        f"Attention : {f}:3 (cpf_validated) : apprenant CPF sans date de validation, l'échéance de confirmation "
        "ne sera pas calculée ; attendu : la date de validation du dossier CPF, AAAA-MM-JJ",
    ]
    assert "2 créés" in r.stdout and "2 avertissements" in r.stdout
    assert env.run("import", str(f), "--quiet", "--dry-run").stderr == ""


def test_dry_run_writes_nothing(env):
    roster = env.dir / "roster.csv"
    env.run("generate", "--count", "20", "-o", str(roster))
    r = env.run("import", "--dry-run", str(roster))
    assert r.exit_code == 0
    assert "20 créés" in r.stdout and "Simulation (--dry-run) : rien n'a été écrit." in r.stdout
    s = env.store()
    assert s.count_learners() == 0
    s.close()


def test_db_option_after_the_subcommand_and_before_it(env, tmp_path):
    roster = env.dir / "roster.csv"
    env.run("generate", "--count", "5", "-o", str(roster))
    other = tmp_path / "other.db"
    assert env.run("import", str(roster), "--db", str(other)).exit_code == 0
    s = open_store(str(other))
    assert s.count_learners() == 5
    s.close()
    third = tmp_path / "third.db"
    assert env.raw("learners", "--db", str(third), "import", str(roster)).exit_code == 0
    assert third.exists() and not env.db_path.exists()


def test_issue_token_prints_a_url_and_rotates(env):
    roster = env.dir / "roster.csv"
    env.run("generate", "--count", "10", "--seed", "1", "-o", str(roster))
    env.run("import", "-q", str(roster))
    first = env.run("issue-token", "2026-00004", "--base-url", "https://cal.example.org/")
    assert first.exit_code == 0, first.stderr
    url = first.stdout.strip()
    assert url.startswith("https://cal.example.org/feeds/personal/") and url.endswith(".ics")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 32
    assert "l'ancien ne fonctionne plus" in first.stderr
    s = env.store()
    assert s.learner_for_token(token).id == "2026-00004"
    second = env.run("issue-token", "2026-00004").stdout.strip()
    assert second.startswith("http://127.0.0.1:8000/feeds/personal/")
    assert s.learner_for_token(token) is None
    assert s.learner_for_token(second.rsplit("/", 1)[1].removesuffix(".ics")).id == "2026-00004"
    s.close()


def test_issue_token_for_everyone_writes_a_private_mail_merge_file(env):
    roster = env.dir / "roster.csv"
    env.run("generate", "--count", "25", "-o", str(roster))
    env.run("import", "-q", str(roster))
    urls = env.dir / "urls.csv"
    r = env.run("issue-token", "--all", "-o", str(urls), env={"CNAM_CALENDAR_BASE_URL": "https://c.example.org"})
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"écrit {urls} (25 liens")
    assert stat.S_IMODE(urls.stat().st_mode) == 0o600
    with urls.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [f"2026-{n:05d}" for n in range(1, 26)]
    s = env.store()
    for row in rows:
        assert row["url"].startswith("https://c.example.org/feeds/personal/")
        assert s.learner_for_token(row["url"].rsplit("/", 1)[1].removesuffix(".ics")).email == row["email"]
    s.close()


@pytest.mark.parametrize("args, message", [
    (("issue-token",), "donnez soit un identifiant, soit --all -o urls.csv"),
    (("issue-token", "A1", "--all", "-o", "x.csv"), "donnez soit un identifiant, soit --all -o urls.csv"),
    (("issue-token", "--all"), "ajoutez -o urls.csv"),
    (("issue-token", "A1", "-o", "x.csv"), "-o ne sert qu'avec --all"),
    (("issue-token", "A1", "--base-url", "cal.example.org"), "attendu : une adresse http(s)"),
    (("generate", "--count", "0", "-o", "x.csv"), "0"),
])
def test_bad_options_exit_2(env, args, message):
    r = env.run(*args)
    assert r.exit_code == 2
    assert message in r.stderr


def test_unknown_learner_and_unreachable_database(env):
    r = env.run("issue-token", "nobody")
    assert r.exit_code == 2  # no store yet: refused with the way out, and none created
    assert "base introuvable" in r.stderr and "cnam-calendar init" in r.stderr and not env.db_path.exists()
    assert env.raw("init", env={"CNAM_CALENDAR_DB": str(env.db_path)}).exit_code == 0
    r = env.run("issue-token", "nobody")
    assert r.exit_code == 2
    assert "apprenant inconnu « nobody »" in r.stderr and "cnam-calendar learners import" in r.stderr
    roster = env.dir / "roster.csv"
    env.run("generate", "--count", "3", "-o", str(roster))
    r = env.run("import", str(roster), "--db", "postgresql+psycopg://u:pw@127.0.0.1:9/x?connect_timeout=2")
    assert r.exit_code == 2
    assert "base inaccessible" in r.stderr and "pw" not in r.stderr
