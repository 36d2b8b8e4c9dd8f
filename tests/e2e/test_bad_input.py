"""Bad input never crashes and never slips through: one regression test per defect of issue 12.

Each test feeds the real command (or the real running server) the input that crashed it or that it
accepted, and checks the French message that names the file and key or line, exit status 2 (HTTP 4xx),
no traceback and nothing written.
"""

from __future__ import annotations

import csv
import io
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cnam_calendar.inputs.roster import COLUMNS
from cnam_calendar.store.database import open_store
from tests.conftest import CALENDARS
from tests.contract.test_store import db_url  # noqa: F401 (the SQLite and PostgreSQL fixture)
from tests.support.server import run_command, running_server

ROW = "{id},{email},{first},{last},ipst-cnam,31,individuel,NFA031,2026-09-10,,,fr\n"
HEADER = ",".join(COLUMNS) + "\n"


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_command(cwd, CALENDARS, *args)


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Exception" not in text, text


# --- 1. 500s anyone could trigger; ASCII years only; a clean server log -------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    cwd = tmp_path_factory.mktemp("site")
    (cwd / "learners.csv").write_text(HEADER + ROW.format(id="A1", email="a1@example.org", first="Léa",
                                                          last="Roux"), encoding="utf-8")
    assert cli(cwd, "learners", "import", "learners.csv", "-q").returncode == 0
    token = cli(cwd, "learners", "issue-token", "A1").stdout.strip().rsplit("/", 1)[1].removesuffix(".ics")
    log = cwd / "serve.log"
    with running_server(["--calendars", str(CALENDARS)], cwd=cwd, log=log) as base:
        yield base, token, log
    no_traceback(log.read_text())


@pytest.mark.parametrize("value", ["gzip;q=abc", "gzip;q=0x1", "gzip;q=0.0.0", "*;q=abc", "gzip;q=", "gzip;q=nan",
                                   "gzip;q=1e3", "gzip;;;q=1", ";q=1,", "gzip;q=2"])
def test_odd_accept_encoding_is_no_500_on_any_feed(site, value: str) -> None:
    base, token, _ = site
    for path in ("/feeds/ipst-cnam/2026.ics", "/feeds/ipst-cnam/2026/ue/NFA031.ics", f"/feeds/personal/{token}.ics"):
        r = httpx.get(base + path, headers={"Accept-Encoding": value}, timeout=30)
        assert r.status_code == 200, (path, value, r.text)
        assert "Content-Encoding" not in r.headers or r.headers["Content-Encoding"] == "gzip"


def test_accept_encoding_weights() -> None:
    from cnam_calendar.web.app import accepted_codings

    assert accepted_codings("gzip;q=abc, br") == {"gzip": 0.0, "br": 1.0}
    assert accepted_codings("deflate, gzip;q=0.5") == {"deflate": 1.0, "gzip": 0.5}
    assert accepted_codings("*;q=0, gzip") == {"*": 0.0, "gzip": 1.0}
    assert accepted_codings("") == {}


def test_gzip_still_served_when_asked_properly(site) -> None:
    base, _, _ = site
    r = httpx.get(base + "/feeds/ipst-cnam/2026.ics", headers={"Accept-Encoding": "gzip;q=0.8"}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert r.text.startswith("BEGIN:VCALENDAR")  # httpx decompressed it


@pytest.mark.parametrize("path,status", [
    ("/feeds/ipst-cnam/%C2%B2.ics", 404), ("/overview/ipst-cnam/%C2%B2", 404), ("/?year=%E2%91%A0", 400),
    ("/feeds/ipst-cnam/%D9%A2%D9%A0%D9%A2%D9%A6.ics", 404),  # ٢٠٢٦: Arabic-Indic digits are not a year
    ("/feeds/ipst-cnam/%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96/ue/NFA031.ics", 404),  # fullwidth ２０２６
])
def test_only_ascii_digits_are_a_year(site, path: str, status: int) -> None:
    base, _, _ = site
    assert httpx.get(base + path, timeout=30).status_code == status


def _raw(base: str, data: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        received = b""
        try:
            while chunk := s.recv(65536):
                received += chunk
        except TimeoutError:
            pass
    return received


def test_malformed_chunked_bodies_leave_no_traceback_in_the_log(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path, log=log) as base:
        for target in (b"/", b"/feeds/ipst-cnam/2026.ics", b"/nowhere"):
            for body in (b"zz\r\nabc\r\n0\r\n\r\n", b"5\r\nabc\r\n0\r\n\r\n", b"3\r\nabc\r\nQQ\r\n\r\n"):
                answer = _raw(base, b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              + body)
                assert answer.startswith(b"HTTP/1.1 4"), answer[:80]
        assert httpx.get(base + "/healthz", timeout=10).status_code == 200
    text = log.read_text()
    assert "Invalid HTTP request received." in text  # uvicorn still says what happened, once, without a traceback
    no_traceback(text)


# --- 2. a UE removed from the catalogue: its feed publishes its events as cancelled ---------------------------

def test_removed_ue_feed_is_published_cancelled_until_past(run_cli, calendars_copy, tmp_path: Path) -> None:
    calendars = calendars_copy()
    catalogue = calendars / "ipst-cnam.ues.csv"
    out = tmp_path / "out"
    r = run_cli("--calendars", str(calendars), "build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out))
    assert r.exit_code == 0, r.output
    feed = out / "ipst-cnam" / "2026" / "ue" / "NFA031.ics"
    before = feed.read_text()
    assert "STATUS:CANCELLED" not in before
    catalogue.write_text("".join(line for line in catalogue.read_text().splitlines(keepends=True)
                                 if not line.startswith("NFA031,")))
    r = run_cli("--calendars", str(calendars), "build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out))
    assert r.exit_code == 0, r.output
    after = feed.read_text()
    assert after != before
    assert after.count("BEGIN:VEVENT") == before.count("BEGIN:VEVENT") == after.count("STATUS:CANCELLED")
    assert "SUMMARY:[ANNULÉ] NFA031" in after
    # served as such, not a 404 that leaves subscribers with their last copy
    with running_server(["--calendars", str(calendars)], cwd=tmp_path, extra=["--out", str(out)]) as base:
        r = httpx.get(base + "/feeds/ipst-cnam/2026/ue/NFA031.ics", timeout=30)
        assert r.status_code == 200 and r.text.count("STATUS:CANCELLED") == after.count("STATUS:CANCELLED")
        assert httpx.get(base + "/feeds/ipst-cnam/2026/ue/NOPE99.ics", timeout=30).status_code == 404
    # once their dates are past, a rebuild publishes nothing more for them
    r = run_cli("--calendars", str(calendars), "build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(out),
                clock=__import__("datetime").datetime(2027, 10, 1, 9, tzinfo=__import__("datetime").timezone.utc))
    assert r.exit_code == 0 and f"écrit {feed}" not in r.stdout


# --- 3. formula injection -----------------------------------------------------------------------------------

EVIL = ['=HYPERLINK("http://evil.example","clic")', "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)"]


def test_urls_csv_neutralises_formulas(run_cli, tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i, evil in enumerate(EVIL):
        writer.writerow([f"E{i}", f"e{i}@example.org", evil, evil, "ipst-cnam", "31", "individuel", "", "", "", "", ""])
    roster.write_text(text.getvalue(), encoding="utf-8")
    db = str(tmp_path / "l.db")
    assert run_cli("--calendars", str(CALENDARS), "learners", "import", str(roster), "--db", db).exit_code == 0
    urls = tmp_path / "urls.csv"
    r = run_cli("--calendars", str(CALENDARS), "learners", "issue-token", "--all", "-o", str(urls), "--db", db)
    assert r.exit_code == 0, r.output
    cells = [cell for row in csv.reader(urls.open(encoding="utf-8")) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + EVIL[0] in cells and "'" + EVIL[1] in cells


def test_every_csv_writer_goes_through_the_neutraliser() -> None:
    package = Path(__file__).resolve().parents[2] / "cnam_calendar"
    writers = [p.relative_to(package).as_posix() for p in package.rglob("*.py")
               if "csv.writer(" in p.read_text() or "DictWriter(" in p.read_text()]
    assert writers == ["inputs/csv_out.py"]


# --- 4. control characters ----------------------------------------------------------------------------------

@pytest.mark.parametrize("char,name", [("\x00", "U+0000 (NUL)"), ("\x1b", "U+001B (ESC)"), ("\x07", "U+0007 (BEL)"),
                                       ("\x08", "U+0008"), ("\x7f", "U+007F (DEL)"), ("\u2028", "U+2028")])
def test_control_characters_in_a_roster_are_refused_with_line_and_column(run_cli, tmp_path: Path, char, name):
    roster = tmp_path / "r.csv"
    roster.write_text(HEADER + ROW.format(id="A1", email="a1@example.org", first="Léa", last="Roux")
                      + ROW.format(id="A2", email="a2@example.org", first=f"Jean{char}ne", last="Roux"),
                      encoding="utf-8")
    r = run_cli("--calendars", str(CALENDARS), "learners", "import", str(roster), "--db", str(tmp_path / "l.db"))
    assert r.exit_code == 2
    assert f"{roster}:3 (first_name) : caractère de contrôle {name}" in r.stderr and "en position 5" in r.stderr


def test_nul_in_a_roster_is_refused_with_its_line_on_sqlite_and_postgresql(run_cli, tmp_path: Path,
                                                                           db_url: str) -> None:  # noqa: F811
    roster = tmp_path / "r.csv"
    roster.write_text(HEADER + ROW.format(id="A1", email="a1@example.org", first="Léa", last="Ro\x00ux"),
                      encoding="utf-8")
    r = run_cli("--calendars", str(CALENDARS), "learners", "import", str(roster), "--db", db_url)
    assert r.exit_code == 2
    assert f"{roster}:2 (last_name) : caractère de contrôle U+0000 (NUL) en position 3" in r.stderr
    store = open_store(db_url)
    try:
        assert store.count_learners() == 0
    finally:
        store.close()


def test_control_characters_in_a_ue_title_are_refused(run_cli, calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.ues.csv": lambda t: t.replace("Programmation avec Java",
                                                                         "Programmation\x1b[2J avec Java")})
    r = run_cli("--calendars", str(calendars), "feed", "--centre", "ipst-cnam", "--year", "2026")
    assert r.exit_code == 2 and r.stdout == ""
    assert "ipst-cnam.ues.csv:2 (title) : caractère de contrôle U+001B (ESC) en position 14" in r.stderr


def test_control_characters_in_a_rule_file_string_are_refused(run_cli, calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.toml": lambda t: t.replace('label = "Fermeture de fin d\'année"',
                                                                      'label = "Fermeture\\u0007"', 1)})
    r = run_cli("--calendars", str(calendars), "check")
    assert r.exit_code == 1  # a problem check names in a file it could read
    assert "ipst-cnam.toml : years.2026.closures[0].label : caractère de contrôle U+0007 (BEL)" in r.stdout


# --- 5. tracebacks operators hit ----------------------------------------------------------------------------

def test_db_that_is_a_csv_file_or_a_directory(run_cli, tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text(HEADER + ROW.format(id="A1", email="a1@example.org", first="Léa", last="Roux"), encoding="utf-8")
    before = roster.read_bytes()
    r = run_cli("--calendars", str(CALENDARS), "learners", "import", str(roster), "--db", str(roster))
    assert r.exit_code == 2 and "n'est pas une base SQLite" in r.stderr and str(roster) in r.stderr
    assert roster.read_bytes() == before
    r = run_cli("--calendars", str(CALENDARS), "learners", "import", str(roster), "--db", str(tmp_path))
    assert r.exit_code == 2 and "c'est un dossier" in r.stderr


def test_learner_of_a_removed_centre(run_cli, calendars_copy, tmp_path: Path) -> None:
    calendars = calendars_copy()
    roster = tmp_path / "r.csv"
    roster.write_text(HEADER + ROW.format(id="A1", email="a1@example.org", first="Léa", last="Roux")
                      + ROW.format(id="B1", email="b1@example.org", first="Léo", last="Roux").replace(
                          "ipst-cnam,31,individuel,NFA031", "cnam-occitanie,34,individuel,"), encoding="utf-8")
    db = ["--db", str(tmp_path / "l.db")]
    assert run_cli("--calendars", str(calendars), "learners", "import", str(roster), *db).exit_code == 0
    (calendars / "ipst-cnam.toml").unlink()
    r = run_cli("--calendars", str(calendars), "learners", "show", "A1", *db)
    assert r.exit_code == 2 and "aucun fichier ipst-cnam.toml" in r.stderr
    no_traceback(r.output)
    out = tmp_path / "feeds"
    r = run_cli("--calendars", str(calendars), "learners", "feeds", "--out", str(out), *db)
    assert r.exit_code == 0, r.output
    assert len(list(out.glob("*.ics"))) == 1
    assert f"écrit 1 flux personnel dans {out}" in r.stdout
    assert "1 apprenant du centre « ipst-cnam » sans flux" in r.stderr


# --- 6. every command that publishes validates as build does ------------------------------------------------

BAD_SCHEDULES = {
    "closure ending before it starts": lambda t: t.replace("start = 2026-12-19, end = 2027-01-03",
                                                           "start = 2027-01-03, end = 2026-12-19"),
    "closure in 2030": lambda t: t.replace("start = 2026-12-19, end = 2027-01-03",
                                           "start = 2030-12-19, end = 2030-12-23"),
    "exam-june in 2030": lambda t: t.replace("[years.2027]", 'overrides."exam-june" = { start = 2030-06-01, '
                                             'end = 2030-06-30 }\n\n[years.2027]'),
}


@pytest.mark.parametrize("name", sorted(BAD_SCHEDULES))
def test_feed_explain_and_build_refuse_the_same_years(run_cli, calendars_copy, tmp_path: Path, name: str) -> None:
    calendars = calendars_copy({"ipst-cnam.toml": BAD_SCHEDULES[name]})
    base = ("--calendars", str(calendars))
    results = {
        "build": run_cli(*base, "build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(tmp_path / "o")),
        "feed": run_cli(*base, "feed", "--centre", "ipst-cnam", "--year", "2026", "-o", str(tmp_path / "f.ics")),
        "explain": run_cli(*base, "explain", "--centre", "ipst-cnam", "--year", "2026"),
    }
    errors = {cmd: r.stderr for cmd, r in results.items()}
    assert {cmd: r.exit_code for cmd, r in results.items()} == {"build": 2, "feed": 2, "explain": 2}, errors
    assert errors["feed"] == errors["build"] == errors["explain"]
    assert "ipst-cnam.toml" in errors["feed"]
    assert not (tmp_path / "o").exists() and not (tmp_path / "f.ics").exists()


# --- 7 and 10. numbers and dates out of range; every message names the file and key ------------------------

OUT_OF_RANGE = {
    "override 0027": ('# overrides."add-drop-close" = { date = 2027-02-26',
                      'overrides."add-drop-close" = { date = 0027-02-26',
                      "years.2026.overrides.add-drop-close.date : date 0027-02-26 hors de l'année",
                      "entre le 2026-09-01 et le 2027-09-30"),
    "override 0001": ('# overrides."add-drop-close" = { date = 2027-02-26',
                      'overrides."add-drop-close" = { date = 0001-01-01',
                      "years.2026.overrides.add-drop-close.date : date 0001-01-01", "2027-09-30"),
    "registration close 2020": ("[years.2027]", 'overrides."registration-close-s1" = { date = 2020-10-01 }\n[years.2027]',
                                "years.2026.overrides.registration-close-s1.date : date 2020-10-01", "2026-09-01"),
    "cpf validation 2031": ("[years.2027]", 'overrides."cpf-latest-validation-s2" = { date = 2031-01-01 }\n[years.2027]',
                            "years.2026.overrides.cpf-latest-validation-s2.date : date 2031-01-01", "2026-09-01"),
    "semester in year 1": ('# overrides."semester-1" = { start = 2026-10-05',
                           'overrides."semester-1" = { start = 0001-10-05',
                           "years.2026.overrides.semester-1.start : date 0001-10-05", "2027-09-30"),
    "semester in 9999": ('# overrides."semester-1" = { start = 2026-10-05',
                         'overrides."semester-1" = { start = 9999-10-05',
                         "years.2026.overrides.semester-1.start : date 9999-10-05", "2027-09-30"),
    "withdrawal_days": ("withdrawal_days = 10", "withdrawal_days = 1000000000",
                        "rules.withdrawal_days : valeur 1000000000 hors des bornes", "de 1 à 365"),
    "apprenticeship_months": ("apprenticeship_months = 3", "apprenticeship_months = 1000000000",
                              "rules.apprenticeship_months : valeur 1000000000 hors des bornes", "de 1 à 36"),
    "cpf_working_days": ("cpf_working_days = 3", "cpf_working_days = 1000000000",
                         "rules.cpf_working_days : valeur 1000000000 hors des bornes", "de 1 à 30"),
    "offsets": ("offsets_days = [7, 1]", "offsets_days = [1000000000]", "reminders.offsets_days : valeur",
                "de 1 à 365"),
    "per_ects nan": ("per_ects = 8.0", "per_ects = nan", "rules.hours.per_ects : valeur nan hors des bornes",
                     "de 0,5 à 100"),
    "per_ects inf": ("per_ects = 8.0", "per_ects = inf", "rules.hours.per_ects : valeur inf", "de 0,5 à 100"),
    "tolerance": ("tolerance = 0.10", "tolerance = -inf", "rules.hours.tolerance", "de 0 à 0.99"),
    "year ²": ("[years.2027]", '[years."²"]', "years.² : année invalide", "de 1901 à 2199"),
    "year ٢٠٢٧": ("[years.2027]", '[years."٢٠٢٧"]', "years.٢٠٢٧ : année invalide", "de 1901 à 2199"),
    "deep array": ("departments =", "deep = " + "[" * 2000 + "]" * 2000 + "\ndepartments =",
                   "TOML invalide : listes ou tables imbriquées trop profondément", "attendu"),
    # 8. empty required values
    "empty id": ('id = "ipst-cnam"', 'id = ""', "ipst-cnam.toml : id : valeur vide", "un texte non vide"),
    "empty name": ('\nname = "', '\nname = "" #', "ipst-cnam.toml : name : valeur vide", "un texte non vide"),
    "blank closure id": ('id = "noel", start = 2026', 'id = " ", start = 2026',
                         "years.2026.closures[0].id : valeur vide", "un texte non vide"),
    "empty closure label": ('label = "Fermeture de fin d\'année" }]\n', 'label = "" }]\n',
                            "closures[0].label : valeur vide", "un texte non vide"),
}


@pytest.mark.parametrize("name", sorted(OUT_OF_RANGE))
def test_out_of_range_and_empty_values_are_refused_naming_file_and_key(run_cli, calendars_copy, name: str) -> None:
    old, new, message, expected = OUT_OF_RANGE[name]
    calendars = calendars_copy({"ipst-cnam.toml": lambda t: _replace_once(t, old, new)}, catalogues=False)
    for args in (("check",), ("deadline", "withdrawal", "--from", "2026-10-01", "--centre", "ipst-cnam"),
                 ("build", "--year", "2026", "--out", str(calendars.parent / "out"))):
        r = run_cli("--calendars", str(calendars), *args)
        # check lists the problems of a file it could read on stdout, status 1; the others refuse, status 2
        listed = args == ("check",) and name != "deep array"  # too deep to read: not TOML for tomllib
        assert r.exit_code == (1 if listed else 2), (args, r.output)
        said = r.stdout if listed else r.stderr
        assert f"ipst-cnam.toml : {message}" in said or message in said, r.output
        assert expected in said
        no_traceback(r.output)
    assert not (calendars.parent / "out").exists()


def _replace_once(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_empty_site_name_is_refused(run_cli, calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.toml": lambda t: t.replace('name = "Toulouse', 'name = "', 1)
                                if 'name = "Toulouse' in t else pytest.fail("no Toulouse site")}, catalogues=False)
    r = run_cli("--calendars", str(calendars), "check")
    assert r.exit_code == 1 and "sites[0].name : valeur vide" in r.stdout, r.output


@pytest.mark.parametrize("origin", ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"])
def test_deadline_from_outside_the_supported_dates(run_cli, origin: str) -> None:
    r = run_cli("deadline", "withdrawal", "--from", origin)
    assert r.exit_code == 2
    assert f"{origin} hors des dates prises en charge ; attendu : entre le 2000-01-01 et le 2100-12-31" in r.stderr


@pytest.mark.parametrize("origin", ["2026-W44-4", "20261029", "٢٠٢٦-١٠-٢٩", "2026-10-29T00:00"])
def test_deadline_from_is_only_aaaa_mm_jj(run_cli, origin: str) -> None:
    r = run_cli("deadline", "withdrawal", "--from", origin)
    assert r.exit_code == 2 and "n'est pas une date valide ; attendu : AAAA-MM-JJ" in r.stderr


ENGLISH = ("Usage:", "Error:", "Try '", "for help", "No such", "Missing", "Invalid value", "is not one of",
           "does not exist", "requires an argument", "Got unexpected", "is not a valid", "Show this message")


@pytest.mark.parametrize("args", [
    ("bogus",), ("build", "--yeer", "2026"), ("build", "--year"), ("explain", "--centre", "x"),
    ("explain", "--centre", "ipst-cnam", "--year", "2026", "--format", "xml"), ("deadline", "nope", "--from", "x"),
    ("deadline", "withdrawal"), ("feed", "--centre", "ipst-cnam", "--year", "²"), ("serve", "--port", "٨٠٠٠"),
    ("serve", "--port", "0"), ("learners", "bogus"), ("learners", "import"), ("learners", "generate", "--count", "x"),
    ("learners", "show"), ("reminders", "plan", "--from", "demain"), ("reminders", "nope"), ("daemon", "--lanes", "x"),
    ("check", "extra"), ("--calendars",), ("build", "--help"), ("learners", "--help"),
])
def test_click_speaks_french(run_cli, args: tuple[str, ...]) -> None:
    r = run_cli(*args)
    assert r.exit_code in (0, 2), r.output
    for word in ENGLISH:
        assert word not in r.output, (word, r.output)
    if r.exit_code == 2:
        assert "Erreur : " in r.stderr
        assert "Utilisation :" not in r.stderr or "Aide : « cnam-calendar" in r.stderr


def test_every_message_of_click_has_its_french_text() -> None:
    import ast

    import click

    from cnam_calendar.cli import click_fr

    missing = []
    for name in click_fr.MODULES:
        tree = ast.parse(Path(click.__file__).with_name(f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "ngettext"):
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    table = click_fr.MESSAGES if node.func.id == "_" else click_fr.PLURALS
                    if first.value not in table and not first.value.startswith("Could not determine") \
                            and "declaration" not in first.value and "same flag" not in first.value \
                            and not first.value.startswith("No options defined"):  # programming errors
                        missing.append(first.value)
    assert not missing, missing


# --- 9. security headers -------------------------------------------------------------------------------------

def test_security_headers_on_pages_and_feeds(site) -> None:
    base, token, _ = site
    for path in ("/", "/?centre=ipst-cnam", "/overview/ipst-cnam/2026", "/feeds/ipst-cnam/2026.ics", "/healthz",
                 "/nowhere", f"/feeds/personal/{token}.ics"):
        r = httpx.get(base + path, timeout=30)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["X-Frame-Options"] == "DENY", path
        policy = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, path
        expected = "no-referrer" if "/personal/" in path else "strict-origin-when-cross-origin"
        assert r.headers["Referrer-Policy"] == expected, path
    page = httpx.get(base + "/?centre=ipst-cnam&year=2026", timeout=30)
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in page.headers["Content-Security-Policy"]
    assert 'rel="noopener noreferrer"' in page.text
    assert 'target="_blank"' not in page.text or page.text.count('target="_blank"') <= page.text.count("noopener")


def test_learners_feeds_reads_the_build_it_is_given(run_cli, calendars_copy, tmp_path: Path) -> None:
    """`learners feeds --built` (or the instance's ``output``): the SEQUENCE of a moved event is the build's."""
    calendars = calendars_copy()
    roster = tmp_path / "r.csv"
    roster.write_text(HEADER + ROW.format(id="A1", email="a1@example.org", first="Léa", last="Roux"), encoding="utf-8")
    db = ["--db", str(tmp_path / "l.db")]
    assert run_cli("--calendars", str(calendars), "learners", "import", str(roster), *db).exit_code == 0
    built = tmp_path / "built"
    for day in ("", "2027-02-24"):
        if day:
            path = calendars / "ipst-cnam.toml"
            path.write_text(path.read_text().replace(
                "[years.2026]\n", f'[years.2026]\noverrides."add-drop-close" = {{ date = {day}, reason = "test" }}\n', 1))
        r = run_cli("--calendars", str(calendars), "build", "--centre", "ipst-cnam", "--year", "2026", "--out", str(built))
        assert r.exit_code == 0, r.output
    feeds = tmp_path / "feeds"
    r = run_cli("--calendars", str(calendars), "learners", "feeds", "--year", "2026", "--built", str(built),
                "--out", str(feeds), *db)
    assert r.exit_code == 0, r.output
    [feed] = feeds.glob("*.ics")
    [event] = [e for e in feed.read_text().split("BEGIN:VEVENT")[1:] if "UID:add-drop-close.ipst-cnam.2026@" in e]
    assert "SEQUENCE:1" in event  # moved once since the first build, as the centre's feed says
