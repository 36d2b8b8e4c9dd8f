"""`cnam-calendar staff …` as an administrator uses it: accounts, roles, resets, the journal, bad input.

Bad input is one French line on stderr and exit status 2, with nothing written to the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result

from cnam_calendar.store import audit
from cnam_calendar.store import staff as staff_store
from cnam_calendar.store.database import open_store
from tests.conftest import CALENDARS, invoke

PASSWORD = "une phrase de passe assez longue"


def run(db: Path, *args: str, stdin: str | None = None) -> Result:
    from click.testing import CliRunner

    from cnam_calendar.cli.main import main

    runner = CliRunner(env={"CNAM_CALENDAR_CALENDARS": None, "CNAM_CALENDAR_DB": None})
    return runner.invoke(main, ["--calendars", str(CALENDARS), "staff", *args[:1], "--db", str(db), *args[1:]],
                         input=stdin, catch_exceptions=True)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store made as the operator makes it first (`cnam-calendar init`): staff commands create none."""
    path = tmp_path / "staff.db"
    open_store(str(path)).close()
    return path


def one_french_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Erreur : ") and "Traceback" not in result.output
    return lines[0]


def test_add_list_reset_remove_and_the_journal(db: Path) -> None:
    added = run(db, "add", "Camille.Martin@example.org", "--centre", "ipst-cnam", "--role", "editor",
                "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert added.stdout == "camille.martin@example.org : éditeur à ipst-cnam.\n"
    assert run(db, "add", "camille.martin@example.org", "--centre", "cnam-occitanie", "--role", "viewer"
               ).stdout == "camille.martin@example.org : lecteur à cnam-occitanie.\n"  # an account: no password asked
    assert run(db, "add", "camille.martin@example.org", "--centre", "ipst-cnam", "--role", "editor"
               ).stdout == "camille.martin@example.org est déjà éditeur à ipst-cnam : rien n'a changé.\n"
    assert run(db, "add", "cas@example.org", "--centre", "ipst-cnam", "--role", "viewer", "--no-password"
               ).exit_code == 0
    assert run(db, "list").stdout == (
        "camille.martin@example.org : cnam-occitanie (lecteur), ipst-cnam (éditeur)\n"
        "cas@example.org [mandataire seulement] : ipst-cnam (lecteur)\n"
        "2 comptes.\n")
    reset = run(db, "reset", "camille.martin@example.org", "--password-stdin", stdin="un tout nouveau mot de passe\n")
    assert reset.exit_code == 0 and "sessions ouvertes sont fermées" in reset.stdout
    removed = run(db, "remove", "camille.martin@example.org", "--centre", "cnam-occitanie")
    assert removed.stdout == "camille.martin@example.org : rôle retiré à cnam-occitanie.\n"
    store = open_store(str(db))
    try:
        member = staff_store.member(store, "camille.martin@example.org")
        assert member is not None and dict(member.roles) == {"ipst-cnam": "editor"}
        assert staff_store.sign_in(store, member.email, "un tout nouveau mot de passe", "192.0.2.1").member
        assert [e.action for e in audit.entries(store)] == [
            "staff-remove", "staff-reset", "staff-add", "staff-add", "staff-add", "staff-add"]
    finally:
        store.close()
    journal = run(db, "journal")
    assert journal.exit_code == 0
    lines = journal.stdout.splitlines()
    assert len(lines) == 6
    assert lines[0].endswith("compte : supprimé [cnam-occitanie] : camille.martin@example.org : lecteur → ∅")
    assert lines[-1].endswith("compte : rôle donné [ipst-cnam] : camille.martin@example.org : éditeur")
    assert " cli:" in lines[0]


def test_the_password_is_asked_twice_on_the_terminal(db: Path) -> None:
    done = run(db, "add", "a@example.org", "--centre", "ipst-cnam", "--role", "viewer",
               stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output  # not echoed
    store = open_store(str(db))
    try:
        assert staff_store.sign_in(store, "a@example.org", PASSWORD, "192.0.2.1").member is not None
    finally:
        store.close()


@pytest.mark.parametrize(("args", "stdin", "expected"), [
    (("add", "pas-une-adresse", "--centre", "ipst-cnam", "--role", "editor"), None,
     "Erreur : EMAIL : adresse e-mail invalide « pas-une-adresse » (attendu : une adresse comme prenom.nom@lecnam.net)"),
    (("add", "a@example.org", "--centre", "ipst", "--role", "editor"), None,
     "Erreur : --centre ipst : centre inconnu « ipst » (vouliez-vous dire « ipst-cnam » ? attendu : un de "
     "cnam-occitanie, ipst-cnam)"),
    (("add", "a@example.org", "--centre", "ipst-cnam", "--role", "editeur"), None,
     "Erreur : --role editeur : rôle inconnu « editeur » (vouliez-vous dire « editor » ? attendu : editor (modifie "
     "les fichiers du centre) ou viewer (les consulte))"),
    (("add", "a@example.org", "--centre", "ipst-cnam", "--role", "viewer", "--password-stdin"), "court\n",
     "Erreur : --password-stdin : mot de passe trop court (5 caractères ; attendu : au moins 12) (choisissez une "
     "phrase de passe plus longue)"),
    (("add", "a@example.org", "--centre", "ipst-cnam", "--role", "viewer", "--password-stdin", "--no-password"), None,
     "Erreur : --no-password : --password-stdin et --no-password s'excluent (gardez l'une des deux options)"),
    (("reset", "personne@example.org", "--password-stdin"), PASSWORD + "\n", "compte inconnu « personne@example.org »"),
    (("remove", "personne@example.org"), None, "compte inconnu « personne@example.org »"),
    (("reset", "@@", "--password-stdin"), PASSWORD + "\n", "adresse e-mail invalide « @@ »"),
], ids=["bad-email", "unknown-centre", "bad-role", "short-password", "two-password-options", "reset-unknown",
        "remove-unknown", "reset-bad-email"])
def test_bad_input_is_one_french_line_and_exit_2_with_nothing_written(db: Path, args: tuple[str, ...],
                                                                      stdin: str | None, expected: str) -> None:
    line = one_french_line(run(db, *args, stdin=stdin))
    assert expected in line
    if db.exists():
        store = open_store(str(db))
        try:
            assert staff_store.members(store) == [] and audit.entries(store) == []
        finally:
            store.close()


@pytest.mark.parametrize(("extra", "expected"), [
    (("--admin-trusted-proxy", "10.0.0.300"), "Erreur : --admin-trusted-proxy : adresse de mandataire invalide "
                                               "« 10.0.0.300 » (attendu : une adresse IP ou un bloc CIDR"),
    (("--admin-proxy-header", "X-Remote-User"), "Erreur : --admin-proxy-header : --admin-proxy-header X-Remote-User "
                                                "sans --admin-trusted-proxy"),
    (("--admin-proxy-header", "X Remote", "--admin-trusted-proxy", "127.0.0.1"),
     "Erreur : --admin-proxy-header : nom d'en-tête invalide « X Remote »"),
], ids=["bad-address", "header-without-proxy", "bad-header-name"])
def test_serve_refuses_a_bad_proxy_setting_in_one_line(tmp_path: Path, extra: tuple[str, ...], expected: str) -> None:
    open_store(str(tmp_path / "s.db")).close()  # the store exists: the proxy setting is what is wrong
    result = invoke("--calendars", str(CALENDARS), "serve", "--db", str(tmp_path / "s.db"), "--port", "1", *extra,
                    env={"CNAM_CALENDAR_ADMIN_PROXY_HEADER": None, "CNAM_CALENDAR_ADMIN_TRUSTED_PROXIES": None})
    assert expected in one_french_line(result)
