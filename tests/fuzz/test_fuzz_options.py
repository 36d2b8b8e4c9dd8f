"""Bad option, argument and environment values for every command of the real `main`.

Property: the exit status is 0, 1 or 2 and there is no traceback; a value the option's own rule
refuses (a year that is not four ASCII digits in range, a date that is not AAAA-MM-JJ in range, an
integer out of its range or not in ASCII digits, a value not among the choices) gives exit 2 with a
French message. `serve` and `daemon` get a store that is a directory, so that they stop before
listening or sending: what is fuzzed is every option up to there.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path

import click
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cnam_calendar.cli.main import main
from cnam_calendar.cli.types import AcademicYear, Decimal, Integer, IsoDate, PublishedYear
from cnam_calendar.rules.checks import DATE_MAX, DATE_MIN, PUBLISHED_MAX, PUBLISHED_MIN, parse_year
from tests.conftest import CALENDARS, FIXED_NOW
from tests.fuzz.test_fuzz_rosters import GOOD
from tests.support.fuzz import STATS, fuzz_settings


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, (*path, name)))
        else:
            found[(*path, name)] = command
    return found


COMMANDS = _commands(main)
# what each command needs to get past its required options (values the fuzzed one then replaces)
BASE = {
    ("build",): ["--year", "2026", "--out", "out"], ("explain",): ["--centre", "ipst-cnam", "--year", "2026"],
    ("deadline",): ["withdrawal", "--from", "2026-10-01"], ("check",): [],
    ("feed",): ["--centre", "ipst-cnam", "--year", "2026", "-o", "f.ics"], ("serve",): [], ("daemon",): [],
    ("learners", "import"): ["r.csv"], ("learners", "generate"): ["--count", "3", "-o", "g.csv"],
    ("learners", "issue-token"): ["A1"], ("learners", "show"): ["A1"], ("learners", "feeds"): ["--out", "feeds"],
    ("learners", "invite"): ["A1"],
    ("reminders", "plan"): [], ("reminders", "preview"): ["KEY"], ("reminders", "status"): [],
    ("reminders", "failures"): [],
    ("reminders", "opt-out"): ["A1"], ("init",): [],
    ("year", "new"): ["--centre", "ipst-cnam", "--year", "2026"], ("diff",): ["--centre", "ipst-cnam", "--year", "2026"],
    ("staff", "add"): ["a@example.org", "--centre", "ipst-cnam", "--role", "viewer", "--no-password"],
    ("staff", "reset"): ["a@example.org", "--password-stdin"], ("staff", "list"): [],
    ("staff", "remove"): ["a@example.org"], ("staff", "journal"): [],
}
ENV = ("CNAM_CALENDAR_CALENDARS", "CNAM_CALENDAR_DB", "CNAM_CALENDAR_BASE_URL", "SOURCE_DATE_EPOCH",
       "CNAM_CALENDAR_SMTP_PASSWORD", "CNAM_CALENDAR_ADMIN_PROXY_HEADER", "CNAM_CALENDAR_ADMIN_TRUSTED_PROXIES",
       "CNAM_CALENDAR_CONFIG", "CNAM_CALENDAR_SERVE_PORT", "CNAM_CALENDAR_DAEMON_LANES", "CNAM_CALENDAR_SMTP_STARTTLS")
NEVER_STARTS = {("serve",), ("daemon",)}

NASTY = st.one_of(
    st.text(st.characters(codec="utf-8", blacklist_characters="\x00"), max_size=24),
    st.sampled_from(["", "-", "--", "²", "٢٠٢٦", "２０２６", "9" * 40, "-1", "0", "1e9", "nan", "inf", "0x10", " 5",
                     "2026-02-30", "0001-01-01", "9999-12-31", "2026-W44-4", "20261029", "a" * 5000, "/", ".",
                     "../../x", "x\ny", "\x1b[31m", "%s%n", "http://[::1", "https://", "fr,en", "text ", "--help",
                     "ipst-cnam\x07", "65536", "1_000"]),
)


def _known_bad(param: click.Parameter, value: str) -> bool:
    """Tell whether the option's own rule refuses ``value`` (None of our business when it has no rule)."""
    kind = param.type
    if isinstance(kind, PublishedYear):
        year = parse_year(value)
        return year is None or not PUBLISHED_MIN <= year <= PUBLISHED_MAX
    if isinstance(kind, AcademicYear):
        return parse_year(value) is None
    if isinstance(kind, IsoDate):
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            return True
        try:
            from datetime import date

            return not DATE_MIN <= date.fromisoformat(value) <= DATE_MAX
        except ValueError:
            return True
    if isinstance(kind, Integer):
        if not re.fullmatch(r"-?[0-9]{1,18}", value):
            return True
        return (kind.min is not None and int(value) < kind.min) or (kind.max is not None and int(value) > kind.max)
    if isinstance(kind, Decimal):
        if not re.fullmatch(r"[0-9]{1,9}(?:\.[0-9]{1,9})?", value):
            return True
        return not kind.min <= float(value) <= kind.max
    if isinstance(kind, click.Choice):
        return value not in kind.choices
    return False


@st.composite
def invocation(draw: st.DrawFn) -> tuple[list[str], dict[str, str], bool, bool]:
    """Return (arguments, environment, whether a value is one its option refuses, whether it may start)."""
    path = draw(st.sampled_from(sorted(COMMANDS)))
    command = COMMANDS[path]
    params = [p for p in command.params if not (isinstance(p, click.Option) and p.name in ("help",))]
    if path in NEVER_STARTS:
        params = [p for p in params if p.name != "db"]
    args = list(BASE[path])
    before: list[str] = []
    env: dict[str, str] = {}
    bad = False
    what = draw(st.sampled_from(["option", "env", "global"]))
    if what == "option" and params:
        param = draw(st.sampled_from(params))
        value = draw(NASTY)
        if isinstance(param, click.Argument):
            positional = [a for a in args if not a.startswith("-")]
            args = [value if a == positional[0] else a for a in args] if positional else [*args, value]
        elif isinstance(param, click.Option) and param.is_flag:
            args.append(param.opts[0])
        else:
            if path == ("learners", "generate") and param.name == "count" and value.isdigit() \
                    and 1000 < int(value) <= 1_000_000:
                value = "1000001"  # a valid huge roster is slow, not wrong
            args += [param.opts[0], value]
            bad = _known_bad(param, value) and not value.startswith("-")  # "-x" may read as an option
    elif what == "env":
        name = draw(st.sampled_from([e for e in ENV if not (path in NEVER_STARTS and e == "CNAM_CALENDAR_DB")]))
        env[name] = draw(NASTY)
    else:
        before = draw(st.sampled_from([["--calendars", draw(NASTY)], [draw(NASTY)], ["--version"]]))
    return [*before, *path, *args], env, bad, path not in NEVER_STARTS


@contextmanager
def _workspace():
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "r.csv").write_text(GOOD, encoding="utf-8")
        (directory / "store-is-a-directory").mkdir()
        shutil.copytree(CALENDARS, directory / "calendars")  # `year new` writes there, never in the repository
        yield directory


@fuzz_settings(150)
@given(invocation())
def test_bad_options_and_environment_never_crash(case) -> None:  # noqa: ANN001 (hypothesis tuple)
    full, env, bad, may_start = case
    STATS["inputs"] += 1
    STATS["options"] += 1
    with _workspace() as directory:
        environment: dict[str, str | None] = {e: None for e in ENV}
        environment["CNAM_CALENDAR_CALENDARS"] = str(directory / "calendars")
        environment["CNAM_CALENDAR_DB"] = str(directory / ("l.db" if may_start else "store-is-a-directory"))
        environment.update(env)
        if any(v is not None and "\x00" in v for v in environment.values()):
            return  # no environment can hold a NUL
        previous = Path.cwd()
        os.chdir(directory)
        try:
            runner = CliRunner(env=environment)
            result = runner.invoke(main, full, obj={"clock": lambda: FIXED_NOW}, catch_exceptions=True)
        finally:
            os.chdir(previous)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    if crashed or "Traceback" in result.output or result.exit_code not in (0, 1, 2):
        STATS["tracebacks"] += 1
        detail = "".join(traceback.format_exception(result.exception)) if crashed else result.output
        raise AssertionError(f"{full} {env}: exit {result.exit_code}\n{detail}")
    if bad and result.exit_code != 2:
        STATS["accepted"] += 1
        raise AssertionError(f"{full}: a value its option refuses was accepted ({result.exit_code})")
    if result.exit_code == 2:
        assert "Erreur : " in result.stderr and "Error:" not in result.output, result.output
