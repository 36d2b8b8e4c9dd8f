"""Mutated rule files and catalogues through check, build, explain and feed.

Two kinds of mutation. A *known-bad* one breaks the file in a way the test knows (a number out of its
range, a date out of the year, a control character, an empty required value, a non-ASCII year, deep
nesting, an unknown key…): every command must refuse it (exit 2; `check` 1 or 2). A *blind* one
(characters replaced, inserted, lines dropped or doubled) may or may not leave a sound file: the exit
status is 0, 1 or 2, never a traceback, and a build that refuses writes nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import traceback
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CALENDARS, invoke
from tests.support.fuzz import STATS, fuzz_settings

CENTRE = "ipst-cnam"
TOML = (CALENDARS / f"{CENTRE}.toml").read_text(encoding="utf-8")
UES = (CALENDARS / f"{CENTRE}.ues.csv").read_text(encoding="utf-8")
FIRST, LAST = date(2026, 9, 1), date(2027, 9, 30)  # academic year 2026-2027
CONTROL = st.sampled_from([*range(0, 32), *range(127, 160), 0x2028, 0x2029]).map(chr)

# --- known-bad mutations of the centre file --------------------------------------------------------------------

RANGES = {"cpf_working_days": (0, 30), "withdrawal_days": (1, 365), "apprenticeship_months": (1, 36)}


def _int_outside(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(max_value=low - 1, min_value=-(2**63)),
                     st.integers(min_value=high + 1, max_value=2**63 - 1)).map(str)


def _set(text: str, key: str, value: str) -> str:
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.split("=", 1)[0].strip() == key:
            lines[i] = f"{key} = {value}\n"
            return "".join(lines)
    raise AssertionError(key)


def _toml_string(text: str) -> str:
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\u{ord(c):04x}" for c in text) + '"'


def _outside_year() -> st.SearchStrategy[date]:
    return st.one_of(st.dates(max_value=FIRST - timedelta(days=1)), st.dates(min_value=LAST + timedelta(days=1)))


OVERRIDABLE = ["semester-1", "semester-2", "exam-winter", "exam-june", "exam-september", "registration-close-s1",
               "registration-close-s2", "add-drop-close", "cpf-latest-validation-s1", "cpf-latest-validation-s2"]


@st.composite
def known_bad_centre(draw: st.DrawFn) -> str:
    """A centre file wrong in a way this strategy knows."""
    kind = draw(st.sampled_from(["number", "float", "offsets", "override", "control", "empty", "year", "deep",
                                 "unknown", "type"]))
    text = TOML
    if kind == "number":
        key = draw(st.sampled_from(sorted(RANGES)))
        return _set(text, key, draw(st.one_of(_int_outside(*RANGES[key]), st.sampled_from(["nan", "inf", "-inf"]))))
    if kind == "float":
        key, low, high = draw(st.sampled_from([("per_ects", 0.5, 100.0), ("tolerance", 0.0, 0.99)]))
        bad = draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not low <= x <= high),
                             st.sampled_from([float("nan"), float("inf"), -float("inf")])))
        literal = {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(bad), repr(bad))
        return _set(text, key, literal)
    if kind == "offsets":
        good = st.integers(1, 365)
        bad = _int_outside(1, 365)
        values = draw(st.one_of(st.lists(good, min_size=11, max_size=30).map(lambda xs: [str(x) for x in xs]),
                                st.tuples(st.lists(good.map(str), max_size=4), bad).map(lambda t: [*t[0], t[1]])))
        return _set(text, draw(st.sampled_from(["offsets_days", "exam_offsets_days"])), "[" + ", ".join(values) + "]")
    if kind == "override":
        event = draw(st.sampled_from(OVERRIDABLE))
        day = draw(_outside_year())
        field = draw(st.sampled_from(["date", "start", "end"]))
        return text.replace("[years.2027]", f'overrides."{event}" = {{ {field} = {day.isoformat()} }}\n\n[years.2027]')
    if kind == "control":
        where = draw(st.sampled_from(["label", "name", "reason", "address", "department"]))
        bad = draw(st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]), max_size=8)) + draw(CONTROL)
        if where == "label":
            return text.replace('label = "Fermeture de fin d\'année"', f"label = {_toml_string(bad)}", 1)
        if where == "name":
            return _set(text, "name", _toml_string(bad))
        if where == "department":
            return text.replace('departments = ["', f'departments = [{_toml_string(bad)}, "', 1)
        if where == "reason":
            return text.replace("[years.2027]", f'overrides."semester-1" = {{ start = 2026-10-12, reason = '
                                f'{_toml_string(bad)} }}\n\n[years.2027]')
        return text.replace('[[sites]]\n', f"[[sites]]\naddress = {_toml_string(bad)}\n", 1)
    if kind == "empty":
        blank = draw(st.sampled_from(['""', '" "', '"   "']))
        where = draw(st.sampled_from(["id", "name", "closure-id", "closure-label", "site-id", "site-name"]))
        if where in ("id", "name"):
            return _set(text, where, blank)
        if where == "closure-id":
            return text.replace('id = "noel", start = 2026', f"id = {blank}, start = 2026", 1)
        if where == "closure-label":
            return text.replace('label = "Fermeture de fin d\'année"', f"label = {blank}", 1)
        lines = text.split("[[sites]]\n", 1)
        key = where.removeprefix("site-")
        head, rest = lines[0], lines[1].splitlines(keepends=True)
        rest = [f"{key} = {blank}\n" if line.split("=", 1)[0].strip() == key else line for line in rest]
        return head + "[[sites]]\n" + "".join(rest)
    if kind == "year":
        key = draw(st.one_of(
            st.text(st.characters(categories=["Nd", "No"]).filter(lambda c: c not in "0123456789"),
                    min_size=1, max_size=4),
            st.integers(max_value=1900).map(str), st.integers(min_value=2200).map(str),
            st.sampled_from(["²", "٢٠٢٧", "２０２７", "2027.0", "+2027", "0x7eb", " 2027"])))
        return text.replace("[years.2027]", f"[years.{_toml_string(key) if not key.isascii() else repr(key)}]")
    if kind == "deep":
        depth = draw(st.integers(1, 3000))
        return text.replace("departments =", "deep = " + "[" * depth + "]" * depth + "\ndepartments =", 1)
    if kind == "unknown":
        key = draw(st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(
            lambda k: k not in ("id", "name", "timezone", "holiday_subdivision", "departments", "sites", "contact",
                                "faq_url", "rules", "reminders", "years")))
        return text.replace("departments =", f"{key} = 1\ndepartments =", 1)
    key = draw(st.sampled_from(["cpf_working_days", "withdrawal_days", "per_ects", "name", "timezone"]))
    value = draw(st.sampled_from(['"3"', "[1]", "{ a = 1 }", "true", "2026-01-01"]).filter(
        lambda v: not (key in ("name", "timezone") and v.startswith('"'))))
    return _set(text, key, value)


# --- blind mutations ------------------------------------------------------------------------------------------

@st.composite
def blind(draw: st.DrawFn, text: str) -> str:
    """Return ``text`` with a few random edits: replaced, inserted or deleted characters, dropped or doubled lines."""
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "drop-line", "double-line"]))
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        if op in ("replace", "insert"):
            piece = draw(st.one_of(st.text(max_size=4), st.sampled_from(["=", '"', "[", "]", ",", "\n", "0", "9",
                                                                         "-", ":", "#", "\\", "²", "\x00"])))
            text = text[:i] + piece + text[i + (op == "replace"):]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)):]
        else:
            lines = text.splitlines(keepends=True)
            j = draw(st.integers(0, len(lines) - 1))
            lines[j:j + 1] = [] if op == "drop-line" else [lines[j], lines[j]]
            text = "".join(lines)
    return text


# --- running the commands -------------------------------------------------------------------------------------

def _calendars(directory: Path, toml: str, ues: str | None) -> Path:
    calendars = directory / "calendars"
    calendars.mkdir()
    (calendars / f"{CENTRE}.toml").write_text(toml, encoding="utf-8", errors="surrogatepass")
    if ues is not None:
        (calendars / f"{CENTRE}.ues.csv").write_text(ues, encoding="utf-8", errors="surrogatepass")
    return calendars


def _no_traceback(result, args) -> None:  # noqa: ANN001 (click Result)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    if crashed or "Traceback" in result.output or result.exit_code not in (0, 1, 2):
        STATS["tracebacks"] += 1
        detail = "".join(traceback.format_exception(result.exception)) if crashed else result.output
        raise AssertionError(f"{args}: exit {result.exit_code}\n{detail}")


def run_all(toml: str, ues: str | None) -> dict[str, int]:
    """Run check, build, explain and feed on the files; return each exit status (no traceback, ever)."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        calendars = _calendars(directory, toml, ues)
        out, feed = directory / "out", directory / "feed.ics"
        commands = {
            "check": ["check"],
            "build": ["build", "--year", "2026", "--out", str(out)],
            "explain": ["explain", "--centre", CENTRE, "--year", "2026"],
            "feed": ["feed", "--centre", CENTRE, "--year", "2026", *(["--ue", "NFA031"] if ues else []), "-o",
                     str(feed)],
        }
        codes = {}
        for name, args in commands.items():
            result = invoke("--calendars", str(calendars), *args)
            _no_traceback(result, args)
            codes[name] = result.exit_code
            if result.exit_code == 2:
                assert "Erreur : " in result.stderr and result.stdout == "", (args, result.output)
        assert (codes["build"] == 0) == out.exists(), "a refused build wrote something"
        assert (codes["feed"] == 0) == feed.exists(), "a refused feed wrote something"
        return codes


def _refused(codes: dict[str, int], what: str, exempt: tuple[str, ...] = ()) -> None:
    accepted = [name for name, code in codes.items()
                if name not in exempt and (code == 0 if name == "check" else code != 2)]
    if accepted:
        STATS["accepted"] += 1
        raise AssertionError(f"{what} accepted by {accepted}: {codes}")


@fuzz_settings(60)
@given(known_bad_centre())
def test_known_bad_centre_files_are_refused_by_every_command(toml: str) -> None:
    STATS["inputs"] += 1
    STATS["rule_files"] += 1
    _refused(run_all(toml, None), "a wrong centre file")


@fuzz_settings(50)
@given(blind(TOML))
def test_blindly_mutated_centre_files_never_crash(toml: str) -> None:
    STATS["inputs"] += 1
    STATS["rule_files"] += 1
    codes = run_all(toml, None)
    assert codes["build"] == codes["feed"] == codes["explain"], f"one validation path: {codes}"


# --- catalogues -----------------------------------------------------------------------------------------------

UE_LINES = UES.splitlines(keepends=True)
COLUMNS = UE_LINES[0].strip().split(",")
ROW = next(line for line in UE_LINES if line.startswith("NFA031,")).strip().split(",")


@st.composite
def known_bad_catalogue(draw: st.DrawFn) -> str:
    """The shipped catalogue with NFA031's row broken in a way this strategy knows."""
    row = list(ROW)
    column = draw(st.sampled_from(["title", "ects", "weekday", "start", "end", "code", "semester", "modality",
                                   "site", "room"]))
    i = COLUMNS.index(column)
    if column == "ects":
        row[i] = draw(st.one_of(st.sampled_from(["0", "-4", "61", "1e3", "nan", "inf", "٦", "６", "6.", "quatre"]),
                                st.integers(min_value=61).map(str)))
    elif column in ("start", "end"):
        row[i] = draw(st.sampled_from(["25:00", "18:60", "١٨:٣٠", "18h3", "midi", "-1:00", "18:30:99"]))
    elif column == "weekday":
        row[i] = draw(st.sampled_from(["dimanche", "lundii", "1", "", "mardi mercredi"]))
    elif column == "code":
        row[i] = draw(st.sampled_from(["", "nfa 031", "NFA031!", "ÉCO1", "-"]))
    elif column in ("semester", "modality"):
        row[i] = draw(st.sampled_from(["", "S3", "annuel", "magistral"]))
    elif column == "site":
        row[i] = draw(st.sampled_from(["paris", "tolouse"]))
    else:
        # inside the cell: a cell's surrounding blanks (a leading tab, say) are trimmed, not refused
        row[i] = "a" + draw(st.text(st.characters(categories=["L", "Zs"]), max_size=6)) + draw(CONTROL) + "x"
        if column == "title" and not draw(st.booleans()):
            row[i] = draw(st.sampled_from(["", " "]))
    cell = [f'"{c}"' if any(ch in c for ch in ',"\n\r') else c for c in (c.replace('"', '""') for c in row)]
    return "".join(line if not line.startswith("NFA031,") else ",".join(cell) + "\n" for line in UE_LINES)


@fuzz_settings(40)
@given(known_bad_catalogue())
def test_known_bad_catalogues_are_refused_by_every_command(ues: str) -> None:
    STATS["inputs"] += 1
    STATS["catalogues"] += 1
    _refused(run_all(TOML, ues), "a wrong catalogue", exempt=("explain",))  # explain reads no catalogue


@fuzz_settings(40)
@given(blind(UES))
def test_blindly_mutated_catalogues_never_crash(ues: str) -> None:
    STATS["inputs"] += 1
    STATS["catalogues"] += 1
    run_all(TOML, ues)


# --- a few through the installed command, in a real process ----------------------------------------------------

@fuzz_settings(4)
@given(st.one_of(known_bad_centre(), blind(TOML)))
def test_through_a_real_process(toml: str) -> None:
    STATS["inputs"] += 1
    STATS["rule_files"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        calendars = _calendars(Path(tmp), toml, None)
        for args in (["check"], ["build", "--year", "2026", "--out", str(Path(tmp) / "out")]):
            proc = subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(calendars), *args],
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode not in (0, 1, 2) or "Traceback" in proc.stderr:
                STATS["tracebacks"] += 1
                raise AssertionError(f"{args}: {proc.returncode}\n{proc.stderr}")
