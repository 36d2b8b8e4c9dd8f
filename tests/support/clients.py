"""Real calendar clients nobody here wrote, run on our feeds: what each one shows, in one shape.

- vdirsyncer (``http`` storage → filesystem storage) and khal, from PyPI, in a virtualenv of their own
  (``CNAM_CLIENTS_VENV``, default /opt/cnam-clients) so their pins never meet the project's;
- Mozilla ical.js (Thunderbird's parser), npm package installed in ``CNAM_ICALJS_DIR`` (default
  /opt/cnam-icaljs), run with node;
- libical (Evolution's engine) through Debian's gir1.2-ical-3.0 and python3-gi, run with the system
  interpreter ``CNAM_SYSTEM_PYTHON`` (default /usr/bin/python3): the project's venv has no gi.

`.ci/run` installs all three. Without one, a test skips with the way to install it; with ``CI``
set (non-empty) it fails instead.

Every engine's output is reduced to `Shown` tuples: (calendar, summary, start, end), where an
all-day start/end is an ISO date (end inclusive, as people read it) and a timed one the local
wall-clock time ``YYYY-MM-DDTHH:MM`` in the centre's zone, plus the UTC instant when the engine
gives one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLIENTS_VENV = Path(os.environ.get("CNAM_CLIENTS_VENV", "/opt/cnam-clients"))
ICALJS_DIR = Path(os.environ.get("CNAM_ICALJS_DIR", "/opt/cnam-icaljs"))
SYSTEM_PYTHON = os.environ.get("CNAM_SYSTEM_PYTHON", "/usr/bin/python3")
INSTALL = "run .ci/run, or install it as .ci/run does"


def _missing(what: str) -> None:
    reason = f"{what} ({INSTALL})"
    if os.environ.get("CI", "").strip():
        pytest.fail(reason + " — CI is set, so this is a failure, not a skip", pytrace=False)
    pytest.skip(reason)


def require_vdirsyncer_khal() -> tuple[Path, Path]:
    """Return the vdirsyncer and khal executables, or skip (fail in CI)."""
    vdirsyncer, khal = CLIENTS_VENV / "bin" / "vdirsyncer", CLIENTS_VENV / "bin" / "khal"
    if not (vdirsyncer.exists() and khal.exists()):
        _missing(f"vdirsyncer and khal not found in {CLIENTS_VENV} (CNAM_CLIENTS_VENV)")
    return vdirsyncer, khal


def require_icaljs() -> tuple[str, Path]:
    """Return node and ical.js's module file, or skip (fail in CI)."""
    node = shutil.which("node")
    library = ICALJS_DIR / "node_modules" / "ical.js" / "dist" / "ical.js"
    if node is None or not library.exists():
        _missing(f"node or the npm package ical.js not found (node: {node}, {library}; CNAM_ICALJS_DIR)")
    assert node is not None
    return node, library


def require_libical() -> str:
    """Return the system interpreter that imports libical's GObject bindings, or skip (fail in CI)."""
    probe = "import gi; gi.require_version('ICalGLib', '3.0'); from gi.repository import ICalGLib"
    ok = Path(SYSTEM_PYTHON).exists() and subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True,
                                                         timeout=60).returncode == 0
    if not ok:
        _missing(f"libical for Python not found ({SYSTEM_PYTHON} with python3-gi and gir1.2-ical-3.0)")
    return SYSTEM_PYTHON


@dataclass(frozen=True, order=True)
class Shown:
    """One occurrence as a client shows it."""

    calendar: str
    summary: str
    start: str
    end: str
    utc: int | None = None  # the start's instant, when the engine says it (timed occurrences)


def _when(value: Mapping, *, end: bool) -> str:
    if "date" in value:
        day = date.fromisoformat(value["date"])
        return (day - timedelta(days=1)).isoformat() if end else day.isoformat()  # DTEND is exclusive
    return value["local"]


def _shown(dump: Mapping[str, Mapping], names: Mapping[str, str], *, with_utc: bool) -> dict[str, list[Shown]]:
    out: dict[str, list[Shown]] = {name: [] for name in names.values()}
    for path, found in dump.items():
        name = names[path]
        for event in found["events"]:
            for start, end in event["occurrences"]:
                utc = start.get("utc") if with_utc else None
                out[name].append(Shown(name, event["summary"], _when(start, end=False), _when(end, end=True), utc))
    return out


def icaljs(files: Mapping[str, Path]) -> tuple[dict[str, list[Shown]], dict]:
    """Run ical.js on ``files`` ({name: path}); return what it shows per name, and its raw dump per name."""
    node, library = require_icaljs()
    paths = {str(p): name for name, p in files.items()}
    run = subprocess.run([node, str(HERE / "icaljs_dump.mjs"), str(library), *paths], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    dump = json.loads(run.stdout)
    return _shown(dump, paths, with_utc=True), {paths[p]: v for p, v in dump.items()}


def libical(files: Mapping[str, Path]) -> tuple[dict[str, list[Shown]], dict]:
    """Run libical on ``files``; return what it shows per name, and its raw dump (errors, iTIP check) per name."""
    python = require_libical()
    paths = {str(p): name for name, p in files.items()}
    run = subprocess.run([python, str(HERE / "libical_dump.py"), *paths], capture_output=True, text=True,
                         timeout=300, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"})
    assert run.returncode == 0, run.stderr
    dump = json.loads(run.stdout)
    return _shown(dump, paths, with_utc=True), {paths[p]: v for p, v in dump.items()}


def vdirsyncer_khal(urls: Mapping[str, str], work: Path, first: date, last: date,
                    zone: str = "Europe/Paris") -> dict[str, list[Shown]]:
    """Subscribe vdirsyncer's http storage to each URL ({name: url}), sync, and list with khal from first to last.

    Names must be identifiers (they name vdirsyncer pairs and khal calendars).
    """
    vdirsyncer, khal = require_vdirsyncer_khal()
    config = [f'[general]\nstatus_path = "{work / "status"}/"\n']
    khal_conf = ["[calendars]"]
    for name, url in urls.items():
        folder = work / "calendars" / name
        folder.mkdir(parents=True, exist_ok=True)
        config.append(f'[pair {name}]\na = "{name}_remote"\nb = "{name}_local"\ncollections = null\n'
                      f'conflict_resolution = "a wins"\n\n[storage {name}_remote]\ntype = "http"\nurl = "{url}"\n\n'
                      f'[storage {name}_local]\ntype = "filesystem"\npath = "{folder}/"\nfileext = ".ics"\n')
        khal_conf.append(f"[[{name}]]\npath = {folder}/")
    khal_conf.append(f"[locale]\nlocal_timezone = {zone}\ndefault_timezone = {zone}\ntimeformat = %H:%M\n"
                     "dateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\ndatetimeformat = %Y-%m-%dT%H:%M\n"
                     f"longdatetimeformat = %Y-%m-%dT%H:%M\n[sqlite]\npath = {work / 'khal.db'}\n")
    (work / "vdirsyncer.conf").write_text("\n".join(config), encoding="utf-8")
    (work / "khal.conf").write_text("\n".join(khal_conf), encoding="utf-8")
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": zone}
    for step in (["discover"], ["sync"]):
        run = subprocess.run([str(vdirsyncer), "-c", str(work / "vdirsyncer.conf"), *step], capture_output=True,
                             text=True, timeout=300, env=env, input="")
        assert run.returncode == 0, (step, run.stdout, run.stderr)
    days = (last - first).days + 1
    run = subprocess.run([str(khal), "-c", str(work / "khal.conf"), "list", "--day-format", "",
                          "--format", "{calendar}\t{title}\t{start}\t{end}\t{all-day}",
                          first.isoformat(), f"{days}d"], capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    out: dict[str, list[Shown]] = {name: [] for name in urls}
    seen: set[Shown] = set()
    for line in run.stdout.splitlines():
        if not line.strip():
            continue
        calendar, summary, start, end, _ = line.split("\t")
        shown = Shown(calendar, summary, start, end)
        if shown not in seen:  # khal lists an event spanning several days on each of them
            seen.add(shown)
            out[calendar].append(shown)
    return out


def counted(items: Iterable[Shown]) -> dict[Shown, int]:
    """Return a multiset of occurrences (a client could show one twice)."""
    found: dict[Shown, int] = {}
    for item in items:
        found[item] = found.get(item, 0) + 1
    return found
