"""Shared fixtures: where the calendars are, a fixed clock, a CLI runner, the test centres."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cnam_calendar.cli.main import main
from cnam_calendar.inputs.config import load_centre
from cnam_calendar.rules.model import Centre
from tests.support.french import assert_french

pytest_plugins = ["tests.support.mutation"]  # a no-op outside `mutmut run`

REPO = Path(__file__).resolve().parents[1]
CALENDARS = REPO / "calendars"  # the shipped centre files
DATA = Path(__file__).resolve().parent / "data"
TEST_CALENDARS = DATA / "calendars"  # cnam-grand-est: holiday subdivision 57 (Alsace-Moselle)
INVALID = DATA / "invalid"  # one bad centre file per mistake a person can make

# Monday 23 November 2026, 09:00 UTC: inside academic year 2026-2027.
FIXED_NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
# 2026-01-01T00:00:00Z, the SOURCE_DATE_EPOCH of the golden builds.
EPOCH = 1767225600

Clock = Callable[[], datetime]


def as_clock(clock: datetime | Clock) -> Clock:
    """Accept an aware datetime or a clock function and return a clock function."""
    if isinstance(clock, datetime):
        assert clock.tzinfo is not None, "the CLI clock must be aware"
        return lambda: clock
    return clock


def invoke(*args: str, clock: datetime | Clock = FIXED_NOW, epoch: int | None = None,
           env: dict[str, str | None] | None = None) -> Result:
    """Run ``cnam-calendar ARGS`` in-process with an injected clock; SOURCE_DATE_EPOCH only when given."""
    environment: dict[str, str | None] = {
        "SOURCE_DATE_EPOCH": None if epoch is None else str(epoch),
        "CNAM_CALENDAR_CALENDARS": None,
    }
    environment.update(env or {})
    runner = CliRunner(env=environment)
    result = runner.invoke(main, list(args), obj={"clock": as_clock(clock)}, catch_exceptions=True)
    if result.exit_code not in (0, None) and result.stderr.strip() and "--lang" not in args:
        assert_french(result.stderr)  # every error path the tests exercise says it in French
    return result


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., Result]:
    """Return ``run_cli(*args, clock=..., epoch=..., env=...)`` → click Result (exit_code, stdout, stderr)."""
    return invoke


@pytest.fixture
def clock() -> Clock:
    """A clock stopped at FIXED_NOW."""
    return lambda: FIXED_NOW


@pytest.fixture(scope="session")
def calendars_dir() -> Path:
    """The repository's calendars/ directory."""
    return CALENDARS


@pytest.fixture(scope="session")
def test_calendars_dir() -> Path:
    """The directory holding the test-only Alsace-Moselle centre."""
    return TEST_CALENDARS


@pytest.fixture(scope="session")
def ipst() -> Centre:
    return load_centre(CALENDARS / "ipst-cnam.toml")


@pytest.fixture(scope="session")
def occitanie() -> Centre:
    return load_centre(CALENDARS / "cnam-occitanie.toml")


@pytest.fixture(scope="session")
def grand_est() -> Centre:
    """A centre with holiday_subdivision = "57" (Good Friday and 26 December are holidays)."""
    centre = load_centre(TEST_CALENDARS / "cnam-grand-est.toml")
    assert centre.holiday_subdivision == "57"
    return centre


@pytest.fixture
def calendars_copy(tmp_path: Path) -> Callable[..., Path]:
    """Return ``copy(edit=None, name="calendars")``: a writable copy of calendars/.

    ``edit`` maps a file name to a function text → text applied to the copy; ``catalogues=False``
    leaves the UE catalogues (*.ues.csv) out, for tests of the institutional feed only (faster).
    """

    def copy(edit: dict[str, Callable[[str], str]] | None = None, name: str = "calendars",
             catalogues: bool = True) -> Path:
        target = tmp_path / name
        target.mkdir()
        for path in sorted(CALENDARS.iterdir()):
            if path.is_file() and (catalogues or path.suffix == ".toml"):
                shutil.copy(path, target / path.name)
        for file_name, fn in (edit or {}).items():
            p = target / file_name
            before = p.read_text(encoding="utf-8")
            after = fn(before)
            assert after != before, f"the edit of {file_name} changed nothing"
            p.write_text(after, encoding="utf-8")
        return target

    return copy


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ANN001 (pytest hook)
    """In a pytest-xdist worker: hand this worker's fuzz figures to the controller (summed in pytest_testnodedown)."""
    from tests.support.fuzz import STATS

    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["fuzz_stats"] = dict(STATS)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001 (pytest-xdist hook, called in the controller)
    from tests.support.fuzz import STATS

    STATS.update(getattr(node, "workeroutput", {}).get("fuzz_stats", {}))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001 (pytest hook)
    """Print the fuzz figures (inputs tried, tracebacks, bad inputs accepted, 5xx) when fuzz tests ran."""
    from tests.support.fuzz import PROFILE, summary

    text = summary()
    if text:
        terminalreporter.section(f"fuzz (profil {PROFILE})")
        terminalreporter.write_line(text)
