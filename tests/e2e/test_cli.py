"""`cnam-calendar` as scripts use it: the installed command (subprocess) and click's runner (the rest).

Every bad input gets exit status 2, one error line naming the file and the key or line and
what is expected, no traceback, and nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import click
import pytest

from cnam_calendar import service
from cnam_calendar.cli.main import main

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
GOLDEN_ICS = REPO / "tests" / "golden" / "ipst-cnam-2026.ics"
EPOCH = 1767225600
# The program pip installed beside this interpreter, not whichever `cnam-calendar` PATH finds first
# (another checkout's, a global one): the suite tests this checkout.
_SCRIPT = Path(sys.executable).parent / "cnam-calendar"
EXE = str(_SCRIPT) if _SCRIPT.exists() else None


def _subprocess(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    assert EXE, f"{_SCRIPT} absent : installez le projet dans cet environnement (pip install -e '.[test]')"
    environment = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "CNAM_CALENDAR_CALENDARS")}
    environment.update(env or {})
    return subprocess.run([EXE, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=60)


# --- the installed command -------------------------------------------------------------------------------

def test_installed_command_help() -> None:
    proc = _subprocess("--help")
    assert proc.returncode == 0
    for command in ("build", "explain", "deadline", "check"):
        assert command in proc.stdout


def test_installed_build_reproduces_the_golden_feed(tmp_path: Path) -> None:
    proc = _subprocess("--calendars", "calendars", "build", "--centre", "ipst-cnam", "--year", "2026",
                       "--out", str(tmp_path), env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    assert proc.returncode == 0, proc.stderr
    written = tmp_path / "ipst-cnam" / "2026" / "calendar.ics"
    assert str(written) in proc.stdout
    assert written.read_bytes() == GOLDEN_ICS.read_bytes()


def test_installed_deadline_json() -> None:
    proc = _subprocess("deadline", "withdrawal", "--from", "2026-12-15", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["deadline"] == "2026-12-28"
    assert any("Noël" in step for step in doc["explanation"])


def test_installed_bad_toml_exits_2_without_traceback(tmp_path: Path) -> None:
    calendars = tmp_path / "calendars"
    calendars.mkdir()
    shutil.copy(DATA / "invalid" / "malformed-toml.toml", calendars)
    proc = _subprocess("--calendars", str(calendars), "build", "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "malformed-toml.toml" in proc.stderr and "ligne 2, colonne" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_installed_command_honours_the_environment_variable() -> None:
    proc = _subprocess("deadline", "withdrawal", "--from", "2028-12-16", "--centre", "cnam-grand-est",
                       "--format", "json", env={"CNAM_CALENDAR_CALENDARS": str(DATA / "calendars")})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["deadline"] == "2028-12-27"  # Tue 26 Dec is Saint-Étienne in Moselle


# --- build -----------------------------------------------------------------------------------------------

def _written(result) -> list[Path]:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    paths = [Path(line.split(" ", 1)[1]) for line in lines if line.startswith("écrit ")]
    assert paths, result.output
    return paths


def _files_on_disk(out: Path) -> set[Path]:
    """Every file build wrote, but its hidden bookkeeping (the manifest)."""
    return {p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}


def test_build_default_is_every_centre_current_year(tmp_path: Path, run_cli, calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(calendars_dir), "build", "--out", str(tmp_path),
                     clock=datetime(2026, 11, 23, 10, tzinfo=timezone.utc))
    assert result.exit_code == 0, result.output
    written = _written(result)
    assert set(written) == _files_on_disk(tmp_path)
    assert {p.relative_to(tmp_path).parts[:2] for p in written} == {("ipst-cnam", "2026"), ("cnam-occitanie", "2026")}
    assert all(p.exists() for p in written)


@pytest.mark.parametrize(("clock", "year"), [
    pytest.param(datetime(2027, 8, 31, 12, tzinfo=timezone.utc), 2026, id="august-still-previous-year"),
    pytest.param(datetime(2027, 9, 1, 12, tzinfo=timezone.utc), 2027, id="september-starts-a-new-year"),
    pytest.param(datetime(2027, 1, 15, 12, tzinfo=timezone.utc), 2026, id="january-belongs-to-the-year-before"),
    # 22:30 UTC on 31 August is 00:30 on 1 September in Paris, the centres' time zone
    pytest.param(datetime(2027, 8, 31, 22, 30, tzinfo=timezone.utc), 2027, id="year-changes-at-paris-midnight"),
])
def test_build_default_year(clock: datetime, year: int, tmp_path: Path, run_cli, calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(calendars_dir), "build", "--centre", "ipst-cnam", "--out", str(tmp_path),
                     clock=clock)
    assert result.exit_code == 0, result.output
    assert {p.relative_to(tmp_path).parts[:2] for p in _written(result)} == {("ipst-cnam", str(year))}


def test_build_centre_and_repeated_year(tmp_path: Path, run_cli, calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(calendars_dir), "build", "--centre", "cnam-occitanie",
                     "--year", "2027", "--year", "2028", "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    written = _written(result)
    assert {p.relative_to(tmp_path / "site").parts[:2] for p in written} == {
        ("cnam-occitanie", "2027"), ("cnam-occitanie", "2028")}
    assert set(written) == _files_on_disk(tmp_path / "site")
    assert not (tmp_path / "site" / "ipst-cnam").exists()


def test_build_two_centres_named(tmp_path: Path, run_cli, calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(calendars_dir), "build", "--centre", "ipst-cnam", "--centre",
                     "cnam-occitanie", "--year", "2028", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert {p.parts[-3] for p in _written(result)} >= {"ipst-cnam", "cnam-occitanie"}


# --- explain ---------------------------------------------------------------------------------------------

def test_explain_json_lists_every_event(run_cli, calendars_dir: Path, ipst) -> None:
    result = run_cli("--calendars", str(calendars_dir), "explain", "--centre", "ipst-cnam", "--year", "2026",
                     "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert isinstance(doc, list)
    sched = service.schedule(ipst, 2026)
    assert [o["id"] for o in doc] == [e.id for e in sched.events]
    for obj in doc:
        assert {"id", "title", "start", "end", "explanation"} <= set(obj)
        assert date.fromisoformat(obj["start"]) <= date.fromisoformat(obj["end"])
        assert isinstance(obj["explanation"], list) and all(isinstance(s, str) for s in obj["explanation"])
    by_id = {o["id"]: o for o in doc}
    assert (by_id["semester-1"]["start"], by_id["semester-1"]["end"]) == ("2026-10-12", "2027-01-16")  # inclusive
    assert by_id["holiday-2026-11-11"]["title"] == "Armistice"


def test_explain_one_event_json(run_cli, calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(calendars_dir), "explain", "--centre", "ipst-cnam", "--year", "2027",
                     "add-drop-close", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc) == 1
    assert doc[0]["id"] == "add-drop-close"
    assert doc[0]["start"] == doc[0]["end"] == "2028-02-29"
    assert any("bissextile" in step for step in doc[0]["explanation"])


def test_explain_one_event_text(run_cli, calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(calendars_dir), "explain", "--centre", "ipst-cnam", "--year", "2026",
                     "exam-winter")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("exam-winter")
    assert "18 janvier 2027" in result.stdout and "13 février 2027" in result.stdout
    assert "Source" in result.stdout
    assert "semester-1 " not in result.stdout


def test_explain_names_an_override(run_cli, calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.toml": lambda t: t.replace(
        '# overrides."semester-1" = { start = 2026-10-05', 'overrides."semester-1" = { start = 2026-10-05')})
    result = run_cli("--calendars", str(calendars), "explain", "--centre", "ipst-cnam", "--year", "2026",
                     "--format", "json")
    assert result.exit_code == 0, result.output
    by_id = {o["id"]: o for o in json.loads(result.stdout)}
    assert by_id["semester-1"]["start"] == "2026-10-05"
    assert any("Date fixée par le centre" in s for s in by_id["semester-1"]["explanation"])
    assert by_id["registration-close-s1"]["start"] == "2026-10-04"
    assert by_id["cpf-latest-validation-s1"]["start"] == "2026-09-29"


def test_explain_alsace_moselle_through_environment(run_cli, test_calendars_dir: Path) -> None:
    result = run_cli("explain", "--centre", "cnam-grand-est", "--year", "2026", "holiday-2026-12-26",
                     "--format", "json", env={"CNAM_CALENDAR_CALENDARS": str(test_calendars_dir)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["title"] == "Saint-Étienne"


def test_calendars_option_wins_over_environment(run_cli, calendars_dir: Path, test_calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(calendars_dir), "explain", "--centre", "ipst-cnam", "--year", "2026",
                     "semester-1", env={"CNAM_CALENDAR_CALENDARS": str(test_calendars_dir)})
    assert result.exit_code == 0, result.output


# --- deadline --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("rule", "origin", "expected"), [
    pytest.param("cpf-confirmation", "2026-11-09", "2026-11-13", id="cpf-over-armistice"),
    pytest.param("withdrawal", "2026-11-01", "2026-11-12", id="withdrawal-ends-armistice"),
    pytest.param("apprenticeship-contract", "2027-11-30", "2028-02-29", id="apprenticeship-leap-day"),
])
def test_deadline_json(rule: str, origin: str, expected: str, run_cli) -> None:
    result = run_cli("deadline", rule, "--from", origin, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"rule", "from", "deadline", "explanation"} <= set(doc)
    assert (doc["rule"], doc["from"], doc["deadline"]) == (rule, origin, expected)
    assert isinstance(doc["explanation"], list) and all(isinstance(s, str) for s in doc["explanation"])


def test_deadline_text_names_the_holiday(run_cli) -> None:
    result = run_cli("deadline", "cpf-confirmation", "--from", "2026-11-09")
    assert result.exit_code == 0, result.output
    assert "2026-11-13" in result.stdout and "Armistice" in result.stdout and "Source" in result.stdout


def test_deadline_with_a_centre(run_cli, test_calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(test_calendars_dir), "deadline", "cpf-confirmation", "--from", "2026-04-02",
                     "--centre", "cnam-grand-est", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["deadline"] == "2026-04-09"
    assert any("Vendredi saint" in s for s in doc["explanation"])


# --- check -----------------------------------------------------------------------------------------------

def test_check_shipped_calendars(run_cli, calendars_dir: Path) -> None:
    result = run_cli("--calendars", str(calendars_dir), "check")
    assert result.exit_code == 0, result.output
    assert "Problème" not in result.output


def test_check_lists_every_problem(run_cli, calendars_copy) -> None:
    def edit(text: str) -> str:
        # an override that ends semester 1 before it starts (2026)…
        text = text.replace('# overrides."semester-1" = { start = 2026-10-05, reason = "rentrée avancée, vote du '
                            'conseil du 12 mai" }',
                            'overrides."semester-1" = { start = 2026-10-05, end = 2026-09-20, reason = "erreur" }')
        # …and a 2027 closure that falls in academic year 2028-2029
        return text.replace('closures = [{ id = "noel", start = 2027-12-18, end = 2028-01-02',
                            'closures = [{ id = "noel", start = 2028-12-18, end = 2029-01-02')

    calendars = calendars_copy({"ipst-cnam.toml": edit})
    result = run_cli("--calendars", str(calendars), "check")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    problems = [line for line in result.output.splitlines() if line.startswith("Problème")]
    assert len(problems) == 2, result.output
    inverted = [p for p in problems if "semester-1" in p]
    outside = [p for p in problems if "closure-noel" in p]
    assert inverted and "2026-09-20" in inverted[0] and "ipst-cnam.toml" in inverted[0]
    assert outside and "2027-2028" in outside[0] and "2028-12-18" in outside[0]
    # only the broken centre is named
    assert "cnam-occitanie" not in "\n".join(problems)
    # --centre restricts the check
    only = run_cli("--calendars", str(calendars), "check", "--centre", "cnam-occitanie")
    assert only.exit_code == 0, only.output


# --- bad input -------------------------------------------------------------------------------------------

def _assert_bad_input(result, out: Path, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith(("Erreur", "Error"))]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    assert not out.exists() or not any(out.iterdir()), "nothing is written on bad input"


def _calendars_with(tmp_path: Path, invalid: str) -> Path:
    calendars = tmp_path / "calendars"
    calendars.mkdir()
    shutil.copy(DATA / "invalid" / f"{invalid}.toml", calendars)
    return calendars


@pytest.mark.parametrize(("invalid", "fragments"), [
    pytest.param("malformed-toml", ["malformed-toml.toml", "ligne 2, colonne", "TOML invalide"], id="malformed-toml-names-line"),
    pytest.param("unknown-key", ["unknown-key.toml", "rules.cpf_workng_days", "cpf_working_days"],
                 id="unknown-key-suggests-the-right-one"),
    pytest.param("unknown-top-key", ["unknown-top-key.toml", "semster_1"], id="unknown-top-level-key"),
    pytest.param("wrong-type", ["wrong-type.toml", "rules.withdrawal_days", "dix", "entier"], id="wrong-type"),
    pytest.param("impossible-date", ["impossible-date.toml", "ligne 5, colonne", "AAAA-MM-JJ"], id="impossible-date-30-feb"),
    pytest.param("unknown-override", ["unknown-override.toml", "semster-1", "semester-1"],
                 id="unknown-override-event-id"),
    pytest.param("unknown-subdivision", ["unknown-subdivision.toml", "holiday_subdivision", "99"],
                 id="unknown-holiday-subdivision"),
])
def test_bad_centre_file(invalid: str, fragments: list[str], tmp_path: Path, run_cli) -> None:
    calendars = _calendars_with(tmp_path, invalid)
    out = tmp_path / "out"
    result = run_cli("--calendars", str(calendars), "build", "--out", str(out))
    _assert_bad_input(result, out, *fragments)
    # the same message from every command that reads the files
    explained = run_cli("--calendars", str(calendars), "explain", "--centre", invalid, "--year", "2026")
    assert explained.exit_code == 2, explained.output
    assert fragments[1] in explained.output and "Traceback" not in explained.output
    # check: 2 for a file it cannot read (not TOML), 1 for the problems it names in a file it could read (README)
    checked = run_cli("--calendars", str(calendars), "check")
    unreadable = invalid in ("malformed-toml", "impossible-date")
    assert checked.exit_code == (2 if unreadable else 1), checked.output
    assert fragments[1] in checked.output and "Traceback" not in checked.output
    assert (checked.stdout.startswith("Problème : ") if not unreadable
            else checked.stderr.startswith("Erreur : ") and checked.stdout == ""), checked.output


@pytest.mark.parametrize(("args", "fragments"), [
    pytest.param(["build", "--centre", "ipst-cnma"], ["ipst-cnma", "ipst-cnam"], id="unknown-centre"),
    pytest.param(["build", "--year", "20x6"], ["--year", "20x6", "AAAA"], id="bad-year"),
    pytest.param(["build", "--year", "26"], ["--year", "26"], id="two-digit-year"),
    pytest.param(["explain", "--centre", "nope", "--year", "2026"], ["nope"], id="explain-unknown-centre"),
    pytest.param(["explain", "--centre", "ipst-cnam", "--year", "2026", "semster-1"], ["semster-1", "semester-1"],
                 id="explain-unknown-event"),
    pytest.param(["deadline", "foo", "--from", "2026-10-01"], ["foo", "cpf-confirmation"], id="unknown-rule"),
    pytest.param(["deadline", "withdrawal", "--from", "2026-13-01"], ["--from", "2026-13-01", "AAAA-MM-JJ"],
                 id="malformed-from-month-13"),
    pytest.param(["deadline", "withdrawal", "--from", "2026-02-30"], ["2026-02-30", "AAAA-MM-JJ"],
                 id="impossible-from-30-feb"),
    pytest.param(["deadline", "withdrawal"], ["--from"], id="missing-from"),
    pytest.param(["deadline", "withdrawal", "--from", "2026-10-01", "--centre", "nope"], ["nope"],
                 id="deadline-unknown-centre"),
    pytest.param(["check", "--centre", "nope"], ["nope"], id="check-unknown-centre"),
])
def test_bad_command_line(args: list[str], fragments: list[str], tmp_path: Path, run_cli,
                          calendars_dir: Path) -> None:
    out = tmp_path / "out"
    extra = ["--out", str(out)] if args[0] == "build" else []
    result = run_cli("--calendars", str(calendars_dir), *args, *extra)
    _assert_bad_input(result, out, *fragments)


def test_missing_calendars_directory(tmp_path: Path, run_cli) -> None:
    out = tmp_path / "out"
    result = run_cli("--calendars", str(tmp_path / "nowhere"), "build", "--out", str(out))
    _assert_bad_input(result, out, "nowhere")


def test_bad_source_date_epoch(tmp_path: Path, run_cli, calendars_dir: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("--calendars", str(calendars_dir), "build", "--out", str(out),
                     env={"SOURCE_DATE_EPOCH": "yesterday"})
    _assert_bad_input(result, out, "SOURCE_DATE_EPOCH", "yesterday")


@pytest.mark.parametrize(("override", "fragments"), [
    pytest.param('overrides."semester-1" = { start = 2026-10-05, end = 2026-09-20, reason = "erreur" }',
                 ["semester-1", "2026-09-20"], id="build-refuses-inverted-semester"),
    pytest.param('overrides."exam-june" = { start = 2027-06-30, end = 2027-06-01 }',
                 ["exam-june"], id="build-refuses-inverted-exam-session"),
])
def test_build_refuses_an_unsound_schedule(override: str, fragments: list[str], tmp_path: Path, run_cli,
                                           calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.toml": lambda t: t.replace(
        '# overrides."semester-1" = { start = 2026-10-05, reason = "rentrée avancée, vote du conseil du 12 mai" }',
        override)})
    out = tmp_path / "out"
    result = run_cli("--calendars", str(calendars), "build", "--year", "2026", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for fragment in fragments:
        assert fragment in result.output
    assert not out.exists() or not any(out.iterdir()), "nothing is written when a schedule is unsound"


def test_build_refuses_a_closure_outside_the_year(tmp_path: Path, run_cli, calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.toml": lambda t: t.replace(
        'closures = [{ id = "noel", start = 2026-12-19, end = 2027-01-03',
        'closures = [{ id = "noel", start = 2027-12-19, end = 2028-01-03')})
    out = tmp_path / "out"
    result = run_cli("--calendars", str(calendars), "build", "--year", "2026", "--out", str(out))
    _assert_bad_input(result, out, "closure-noel")


def test_bad_input_leaves_a_previous_build_untouched(tmp_path: Path, run_cli, calendars_copy) -> None:
    calendars = calendars_copy()
    out = tmp_path / "out"
    assert run_cli("--calendars", str(calendars), "build", "--year", "2026", "--out", str(out)).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    path = calendars / "ipst-cnam.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("withdrawal_days = 10", 'withdrawal_days = "dix"'),
                    encoding="utf-8")
    result = run_cli("--calendars", str(calendars), "build", "--year", "2026", "--out", str(out))
    assert result.exit_code == 2
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


# --- help ------------------------------------------------------------------------------------------------

def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
        else:
            found.append((*prefix, name))
    return found


def test_every_command_is_there() -> None:
    assert {"build", "explain", "deadline", "check"} <= set(main.commands)


@pytest.mark.parametrize("path", [pytest.param(p, id=" ".join(p) or "main") for p in _commands(main)])
def test_help_everywhere(path: tuple[str, ...], run_cli) -> None:
    for flag in ("--help", "-h"):
        result = run_cli(*path, flag)
        assert result.exit_code == 0, result.output
        assert "Utilisation :" in result.stdout
        assert len(result.stdout.splitlines()) > 3


def test_every_option_of_the_issue_is_documented(run_cli) -> None:
    expected = {"build": ["--centre", "--year", "--out"], "explain": ["--centre", "--year", "--format", "EVENT_ID"],
                "deadline": ["--from", "--centre", "--format", "cpf-confirmation"], "check": ["--centre"]}
    for command, words in expected.items():
        text = run_cli(command, "--help").stdout
        for word in words:
            assert word in text, (command, word)
    assert "CNAM_CALENDAR_CALENDARS" in run_cli("--help").stdout


def test_a_centre_file_whose_id_is_not_its_name_is_refused(calendars_copy, run_cli) -> None:
    copy = calendars_copy({"ipst-cnam.toml": lambda t: t.replace('id = "ipst-cnam"', 'id = "ipst"', 1)},
                          catalogues=False)
    result = run_cli("--calendars", str(copy), "check")
    assert result.exit_code != 0
    assert "« ipst » ne correspond pas au nom du fichier" in result.output
    assert "attendu : « ipst-cnam »" in result.output
