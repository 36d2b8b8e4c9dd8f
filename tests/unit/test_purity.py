"""The PURE modules never touch files, the clock, the environment, the network or a database.

Checked two ways: their source (ast: imports and calls) and a fresh interpreter that imports
them and lists what got loaded.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(importlib.util.find_spec("cnam_calendar").origin).parent
# every module of the pure floors (rules/, text/), by dotted name below the package
PURE = tuple(sorted(f"{p.parent.name}.{p.stem}" for floor in ("rules", "text")
                   for p in (PACKAGE / floor).glob("*.py") if p.stem != "__init__"))
# package modules a pure module may import: the other pure ones and the error tree
ALLOWED_INTERNAL = set(PURE)
# The planner turns a local 09:00 into an instant: the time-zone database is reference data read
# through zoneinfo (read-only, and injectable with ``zone=``), as a holiday calendar is.
ALLOWED_EXTERNAL = {"rules.reminders": {"zoneinfo"}}
PACKAGES = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
FORBIDDEN_MODULES = {
    "sqlalchemy", "click", "apscheduler", "smtplib", "socket", "ssl", "http", "urllib", "requests", "httpx",
    "aiosmtpd", "asyncio", "os", "sys", "io", "pathlib", "shutil", "tempfile", "subprocess", "sqlite3",
    "time", "random", "secrets", "uuid", "tomllib", "holidays", "icalendar", "zoneinfo", "logging",
    "threading", "multiprocessing", "glob", "fileinput", "builtins", "importlib",
}
FORBIDDEN_CALLS = {"open", "input", "print", "eval", "exec", "__import__", "breakpoint"}
CLOCK_ATTRIBUTES = {"now", "today", "utcnow", "monotonic", "perf_counter", "getenv", "environ", "putenv"}


def _tree(name: str) -> ast.Module:
    path = PACKAGE / (name.replace(".", "/") + ".py")
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Return (external top-level modules, internal modules as dotted names below the package) imported."""
    external, internal = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, rest = alias.name.partition(".")
                (internal if top == "cnam_calendar" else external).add(rest or top)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports are not used in the package; count them as internal
                internal.update(f"{node.module}.{a.name}" if node.module else a.name for a in node.names)
            elif node.module:
                top, _, rest = node.module.partition(".")
                if top != "cnam_calendar":
                    external.add(top)
                elif rest in PACKAGES:  # from cnam_calendar.rules import sources
                    internal.update(f"{rest}.{a.name}" for a in node.names)
                else:
                    internal.add(rest or "__init__")
    return external, internal


@pytest.mark.parametrize("name", PURE)
def test_pure_module_imports(name: str) -> None:
    external, internal = _imports(_tree(name))
    forbidden = FORBIDDEN_MODULES - ALLOWED_EXTERNAL.get(name, set())
    assert not external & forbidden, f"{name}.py imports {sorted(external & forbidden)}"
    assert internal <= ALLOWED_INTERNAL, f"{name}.py imports impure package modules {sorted(internal - ALLOWED_INTERNAL)}"


@pytest.mark.parametrize("name", PURE)
def test_pure_module_calls(name: str) -> None:
    bad = []
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            bad.append(f"line {node.lineno}: {node.func.id}()")
        if isinstance(node, ast.Attribute) and node.attr in CLOCK_ATTRIBUTES:
            bad.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr in ("read_text", "read_bytes", "write_text", "write_bytes"):
            bad.append(f"line {node.lineno}: .{node.attr}")
    assert not bad, f"{name}.py reads the world: {bad}"


def test_the_checker_catches_what_it_should() -> None:
    """The ast checks are not vacuous: a module doing I/O is caught."""
    sample = ast.parse("import os\nfrom datetime import datetime\nfrom cnam_calendar.cli import main\n"
                       "x = datetime.now()\nopen('f')\ny = os.environ['HOME']\n")
    external, internal = _imports(sample)
    assert "os" in external and "cli.main" in internal, internal
    attrs = {n.attr for n in ast.walk(sample) if isinstance(n, ast.Attribute)}
    assert {"now", "environ"} <= attrs & CLOCK_ATTRIBUTES


def test_errors_module_imports_nothing_from_the_package() -> None:
    _, internal = _imports(_tree("rules.errors"))
    assert internal == set()


def test_importing_the_pure_modules_loads_no_io_library() -> None:
    code = (
        "import json, sys\n"
        + "".join(f"import cnam_calendar.{m}\n" for m in PURE)
        + "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(proc.stdout))
    heavy = {"sqlalchemy", "click", "apscheduler", "smtplib", "holidays", "icalendar", "aiosmtpd", "tomllib"}
    assert not {m.split(".")[0] for m in loaded} & heavy
    assert not {m for m in loaded if m.startswith("cnam_calendar.")} - {f"cnam_calendar.{m}" for m in
                                                                         ALLOWED_INTERNAL | {"rules", "text"}}
