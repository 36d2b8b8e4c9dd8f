"""A missing part skips on a laptop and fails in CI, whatever non-empty value ``CI`` has.

Each case runs pytest on a real test of the suite in a child process, with the part made
unreachable (PostgreSQL on a closed port, no Chromium on PATH, playwright hidden).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.support.ci import in_ci, skip_or_fail

PG_TEST = "tests/contract/test_store.py::test_open_store_brings_the_schema_to_head_and_reopening_is_harmless[postgresql]"
CHROMIUM_TEST = "tests/e2e/test_overview_browser.py"
PLAYWRIGHT_TEST = "tests/e2e/test_subscribe_browser.py"


def _pytest(target: str, ci: str | None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        environment["CI"] = ci
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-x", target],
                          cwd=REPO, env=environment, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(("value", "expected"), [
    ("true", True), ("1", True), ("yes", True), ("True", True), ("woodpecker", True),
    ("", False), ("  ", False), (None, False),
])
def test_any_non_empty_ci_is_ci(value: str | None, expected: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_skip_or_fail_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="pas de serveur"):
        skip_or_fail("pas de serveur")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="pas de serveur"):
        skip_or_fail("pas de serveur")


CLOSED_PG = "postgresql+psycopg://postgres@127.0.0.1:1/test"


@pytest.mark.parametrize("ci", ["1", "yes"])
def test_postgresql_down_fails_in_ci(ci: str) -> None:
    done = _pytest(PG_TEST, ci, CNAM_CALENDAR_TEST_PG=CLOSED_PG)
    assert done.returncode == 1, done.stdout
    assert "1 failed" in done.stdout and "PostgreSQL injoignable" in done.stdout


def test_postgresql_down_skips_with_its_reason_outside_ci() -> None:
    done = _pytest(PG_TEST, None, CNAM_CALENDAR_TEST_PG=CLOSED_PG)
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout and "PostgreSQL injoignable" in done.stdout


def test_chromium_missing_fails_in_ci() -> None:
    done = _pytest(CHROMIUM_TEST, "1", PATH="/nonexistent", CHROMIUM="")
    assert done.returncode == 1, done.stdout
    assert "headless Chromium not found" in done.stdout


def test_playwright_missing_fails_in_ci(tmp_path) -> None:
    hide = tmp_path / "hide"
    (hide / "playwright").mkdir(parents=True)
    (hide / "playwright" / "__init__.py").write_text("raise ImportError('playwright caché pour le test')\n")
    done = _pytest(PLAYWRIGHT_TEST, "1", PYTHONPATH=str(hide))
    assert done.returncode in (1, 2), done.stdout
    assert "playwright" in done.stdout and "échec" in done.stdout
    assert "skipped" not in done.stdout
