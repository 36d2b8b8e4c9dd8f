"""The `cnam-calendar` program as pip installed it: every command and group answers.

The CLI tests run ``cnam_calendar.cli.main.main`` in-process; nothing in the tests registers a command
on it, so a group dropped from ``cli.py`` fails here and in its own tests.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

COMMANDS = {"build", "check", "daemon", "deadline", "diff", "explain", "feed", "init", "learners", "reminders", "serve", "staff",
            "year"}
SUBCOMMANDS = {
    "learners": {"feeds", "generate", "import", "invite", "issue-token", "show"},
    "reminders": {"failures", "opt-out", "plan", "preview", "status"},
    "staff": {"add", "journal", "list", "remove", "reset"},
    "year": {"new"},
}


def _script() -> Path:
    path = Path(sys.executable).parent / "cnam-calendar"
    assert path.exists(), f"{path} absent : installez le projet (pip install -e '.[test]')"
    return path


def _listed(help_text: str) -> set[str]:
    """The command names of a --help page (the lines under « Commandes », the CLI speaks French)."""
    lines = help_text.split("Commandes", 1)[1].splitlines()[1:]
    return {line.split()[0] for line in lines if line.startswith("  ") and line.strip()}


def test_the_console_script_entry_point_is_the_cli_main_with_every_group() -> None:
    (point,) = entry_points(group="console_scripts", name="cnam-calendar")
    assert point.value == "cnam_calendar.cli:main"
    main = point.load()
    assert set(main.commands) == COMMANDS
    for group, names in SUBCOMMANDS.items():
        assert set(main.commands[group].commands) == names


def test_the_installed_program_lists_every_command() -> None:
    done = subprocess.run([str(_script()), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert _listed(done.stdout) == COMMANDS


@pytest.mark.parametrize("group", sorted(SUBCOMMANDS))
def test_the_installed_program_runs_each_group(group: str) -> None:
    done = subprocess.run([str(_script()), group, "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "No such command" not in done.stderr
    assert _listed(done.stdout) == SUBCOMMANDS[group]
