"""The layer contracts of pyproject.toml ([tool.importlinter]) hold: `lint-imports` run on the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    command = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
                          env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(ROOT)})


def test_every_layer_contract_is_kept() -> None:
    done = _lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_the_contracts_catch_an_upward_import(tmp_path: Path) -> None:
    """Not vacuous: a rules module importing the store breaks the floors contract."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "cnam_calendar", copy / "cnam_calendar")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    dates = copy / "cnam_calendar" / "rules" / "dates.py"
    dates.write_text(dates.read_text() + "\nfrom cnam_calendar.store import database  # noqa\n")
    exe = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(exe) if exe.exists() else "lint-imports"], cwd=copy, capture_output=True, text=True,
                          timeout=300, check=False, env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(copy)})
    assert done.returncode == 1
    assert "cnam_calendar.rules.dates -> cnam_calendar.store.database" in done.stdout
