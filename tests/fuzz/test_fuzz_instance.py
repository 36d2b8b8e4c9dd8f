"""Mutated instance files (cnam-calendar.toml) through every command's reading of it (issue 17, point 5).

Known-bad values (a wrong type, out of range, an unknown key, a control character) are refused with
exit 2 and one French line naming the file, the line and the key; blind mutations of the shipped
example (characters replaced, inserted, lines dropped or doubled) give exit 0 or 2, never a traceback.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.cli.instance import SETTINGS, active
from cnam_calendar.cli.main import main
from tests.conftest import CALENDARS, REPO, invoke
from tests.support.fuzz import STATS, fuzz_settings

EXAMPLE = (REPO / "deploy" / "cnam-calendar.toml").read_text(encoding="utf-8")
CLEAN = {s.envvar: None for s in SETTINGS} | {"CNAM_CALENDAR_CONFIG": None}
KEYS = [s for s in active(main)]


def run_with(text: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cnam-calendar.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        old = Path.cwd()
        os.chdir(tmp)
        try:
            return invoke("--calendars", str(CALENDARS), "check", env=CLEAN)
        finally:
            os.chdir(old)


def _line(setting, value: str) -> str:
    table, _, key = setting.key.rpartition(".")
    return (f"[{table}]\n" if table else "") + f"{key} = {value}\n"


BAD_VALUES = {
    "int": st.one_of(st.integers(max_value=0), st.integers(min_value=70_000).map(str).map(repr),
                     st.just('"8000"'), st.just("true"), st.just("1.5")),
    "number": st.one_of(st.just('"2"'), st.just("false"), st.floats(max_value=0.01, allow_nan=False).map(str)),
    "bool": st.one_of(st.just('"oui"'), st.just("1"), st.just('"true"')),
    "text": st.one_of(st.just("12"), st.just('""'), st.just('"a\\u0007b"'), st.just("[1]")),
    "path": st.one_of(st.just("12"), st.just('""'), st.just('"x\\u0000y"'), st.just("{a = 1}")),
}


@fuzz_settings(40)
@given(st.sampled_from(KEYS).flatmap(lambda s: st.tuples(st.just(s), BAD_VALUES[s.kind])))
def test_a_known_bad_value_is_refused_naming_file_line_and_key(case):
    setting, value = case
    r = run_with(_line(setting, value))
    STATS["inputs"] += 1
    if r.exception and not isinstance(r.exception, SystemExit):
        STATS["tracebacks"] += 1
        raise r.exception
    if r.exit_code != 2:
        STATS["accepted"] += 1
    assert r.exit_code == 2, (setting.key, value, r.output)
    assert f"cnam-calendar.toml:{2 if '.' in setting.key else 1} ({setting.key})" in r.stderr, r.stderr


@fuzz_settings(60)
@given(st.lists(st.tuples(st.sampled_from(["replace", "insert", "drop", "double"]), st.integers(0, 10**6),
                          st.characters(blacklist_categories=("Cs",))), min_size=1, max_size=4))
def test_a_blind_mutation_is_read_or_refused_never_a_traceback(edits):
    text = EXAMPLE.replace("/etc/cnam-calendar/calendars", str(CALENDARS))
    for kind, where, char in edits:
        lines = text.splitlines(keepends=True)
        if kind == "replace" and text:
            i = where % len(text)
            text = text[:i] + char + text[i + 1:]
        elif kind == "insert":
            i = where % (len(text) + 1)
            text = text[:i] + char + text[i:]
        elif kind == "drop" and lines:
            del lines[where % len(lines)]
            text = "".join(lines)
        elif lines:
            i = where % len(lines)
            text = "".join(lines[:i + 1] + lines[i:])
    r = run_with(text)
    STATS["inputs"] += 1
    if r.exception and not isinstance(r.exception, SystemExit):
        STATS["tracebacks"] += 1
        raise r.exception
    assert r.exit_code in (0, 2), r.output
    if r.exit_code == 2:
        assert r.stderr.startswith("Erreur : ") and "Traceback" not in r.stderr
