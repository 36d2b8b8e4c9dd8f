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

PURE = ("dates", "model", "engine", "i18n", "sources", "checks")
PACKAGE = Path(importlib.util.find_spec("cnam_calendar").origin).parent
# package modules a pure module may import: the other pure ones and the error tree
ALLOWED_INTERNAL = {*PURE, "errors"}
FORBIDDEN_MODULES = {
    "sqlalchemy", "click", "apscheduler", "smtplib", "socket", "ssl", "http", "urllib", "requests", "httpx",
    "aiosmtpd", "asyncio", "os", "sys", "io", "pathlib", "shutil", "tempfile", "subprocess", "sqlite3",
    "time", "random", "secrets", "uuid", "tomllib", "holidays", "icalendar", "zoneinfo", "logging",
    "threading", "multiprocessing", "glob", "fileinput", "builtins", "importlib",
}
FORBIDDEN_CALLS = {"open", "input", "print", "eval", "exec", "__import__", "breakpoint"}
CLOCK_ATTRIBUTES = {"now", "today", "utcnow", "monotonic", "perf_counter", "getenv", "environ", "putenv"}


def _tree(name: str) -> ast.Module:
    path = PACKAGE / f"{name}.py"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Return (external top-level modules, internal package modules) imported anywhere in the tree."""
    external, internal = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                (internal if top == "cnam_calendar" else external).add(
                    alias.name.split(".")[1] if top == "cnam_calendar" and "." in alias.name else top)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from .x import y
                if node.module:
                    internal.add(node.module.split(".")[0])
                else:
                    internal.update(alias.name for alias in node.names)
            elif node.module:
                top = node.module.split(".")[0]
                if top == "cnam_calendar":
                    internal.add(node.module.split(".")[1] if "." in node.module else "__init__")
                else:
                    external.add(top)
    return external, internal


@pytest.mark.parametrize("name", PURE)
def test_pure_module_imports(name: str) -> None:
    external, internal = _imports(_tree(name))
    assert not external & FORBIDDEN_MODULES, f"{name}.py imports {sorted(external & FORBIDDEN_MODULES)}"
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
    sample = ast.parse("import os\nfrom datetime import datetime\nfrom ..cli import main\n"
                       "x = datetime.now()\nopen('f')\ny = os.environ['HOME']\n")
    external, internal = _imports(sample)
    assert "os" in external and "cli" in internal
    attrs = {n.attr for n in ast.walk(sample) if isinstance(n, ast.Attribute)}
    assert {"now", "environ"} <= attrs & CLOCK_ATTRIBUTES


def test_errors_module_imports_nothing_from_the_package() -> None:
    _, internal = _imports(_tree("errors"))
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
                                                                         ALLOWED_INTERNAL}
