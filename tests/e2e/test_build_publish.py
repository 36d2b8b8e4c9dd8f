"""`cnam-calendar build --out`: each centre-year published whole or not at all, on a full disk, after a kill.

The full-disk tests mount a small tmpfs (root only; skipped with the reason otherwise, failed
under CI=true) and run the real command.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cnam_calendar.ical.publish import exchange
from tests.support.tmpfs import fill, small_tmpfs

ROOT = Path(__file__).resolve().parents[2]
EPOCH = "1767225600"


def build(out: Path, *years: str, epoch: str = EPOCH, calendars: Path = ROOT / "calendars"
          ) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(calendars), "build",
           "--out", str(out), *(a for y in years for a in ("--year", y))]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SOURCE_DATE_EPOCH": epoch})


def snapshot(out: Path, *, aside: bool = True) -> dict[str, str]:
    """Every file under OUT with the hash of its bytes (without ASIDE, only what is published)."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()
            and (aside or not any(part.startswith(".") and part != ".manifest.json" for part in p.relative_to(out).parts))}


def _one_full_disk_line(r: subprocess.CompletedProcess[str], disk: Path) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    [line] = r.stderr.strip().splitlines()
    assert f"disque plein ({disk})" in line, line
    return line


def test_a_first_build_on_a_full_disk_publishes_nothing_and_names_the_disk():
    with small_tmpfs("4m") as disk:
        out = disk / "out"
        filler = fill(disk)
        r = build(out, "2026")
        line = _one_full_disk_line(r, disk)
        assert "rien n'a été publié" in line and "ipst-cnam 2026" in line
        assert r.stdout == ""  # nothing announced as written
        left = snapshot(out) if out.exists() else {}
        assert left == {}, left
        assert not any(p.name.startswith(".") for p in out.rglob("*")) if out.exists() else True
        filler.unlink()


def renamed_centres(tmp_path: Path) -> Path:
    """A copy of calendars/ where each centre has another name: every file of a rebuild changes."""
    copy = tmp_path / "calendars"
    shutil.copytree(ROOT / "calendars", copy)
    for toml in copy.glob("*.toml"):
        toml.write_text(toml.read_text(encoding="utf-8").replace('name = "', 'name = "Nouveau ', 1), encoding="utf-8")
    return copy


def test_a_rebuild_on_a_nearly_full_disk_leaves_the_published_years_exactly_as_they_were(tmp_path: Path):
    renamed = renamed_centres(tmp_path)
    with small_tmpfs("4m") as disk:
        out = disk / "out"
        assert build(out, "2026").returncode == 0
        before = snapshot(out)
        assert sum(1 for name in before if name.startswith("ipst-cnam/2026/")) > 30
        filler = fill(disk, leave=300_000)  # room for part of one centre-year, not for two
        r = build(out, "2026", calendars=renamed)  # every file would change
        _one_full_disk_line(r, disk)
        assert snapshot(out) == before  # both centre-years whole, as they were; no staging left
        filler.unlink()
        r = build(out, "2026", calendars=renamed)
        assert r.returncode == 0, r.stderr
        after = snapshot(out, aside=False)
        assert set(after) == set(before)
        assert all(after[name] != before[name] for name in before if name.endswith(".ics"))  # all new
        assert sorted(p.name for p in (out / "ipst-cnam").iterdir()) == ["2026"]  # nothing aside


def test_what_a_killed_build_leaves_is_cleaned_by_the_next_one(tmp_path: Path):
    out = tmp_path / "out"
    assert build(out, "2026", "2027").returncode == 0
    before = snapshot(out)
    centre = out / "ipst-cnam"
    # killed while writing aside: a half-written staging directory, and a temporary file of the
    # per-file writes of earlier versions
    (centre / ".2026.new" / "ue").mkdir(parents=True)
    (centre / ".2026.new" / "calendar.ics").write_bytes(b"BEGIN:VCALENDAR\r\n")
    (centre / "2026" / ".calendar.ics.x1y2.tmp").write_bytes(b"BEGIN:VCAL")
    (centre / "2026" / "ue" / ".NFA001.ics.a.tmp").write_bytes(b"")
    # killed between the two renames of a switch (file systems without an atomic exchange): the
    # complete old year aside, the new one staged, no year in place
    os.rename(centre / "2027", centre / ".2027.old")
    (centre / ".2027.new").mkdir()
    r = build(out, "2026", "2027")
    assert r.returncode == 0, r.stderr
    assert snapshot(out, aside=False) == before  # same inputs and stamp: the same bytes, the 2027 manifest kept its history
    assert sorted(p.name for p in centre.iterdir()) == ["2026", "2027"]
    assert not list(out.rglob("*.tmp"))


def test_readers_always_find_a_complete_year_while_it_is_rebuilt(tmp_path: Path):
    out = tmp_path / "out"
    renamed = renamed_centres(tmp_path)
    assert build(out, "2026").returncode == 0
    year = out / "ipst-cnam" / "2026"
    if not exchange(year, year):  # swapping a path with itself: a no-op, tells whether the system can exchange
        pytest.skip("renameat2(RENAME_EXCHANGE) indisponible ici : la bascule laisse un instant sans année")
    files = sorted(str(p.relative_to(year)) for p in year.rglob("*") if p.is_file())
    seen: set[bytes] = set()
    missing: list[str] = []
    torn: list[str] = []
    stop = threading.Event()

    def read() -> None:
        # what serve and a static web server do: open files by their path, one after the other
        while not stop.is_set():
            for rel in files:
                try:
                    data = (year / rel).read_bytes()
                except FileNotFoundError as err:
                    missing.append(str(err))
                    continue
                if rel.endswith(".ics"):
                    if not data.endswith(b"END:VCALENDAR\r\n"):
                        torn.append(rel)
                    seen.update(name for name in (b"NAME:Nouveau Ipst", b"NAME:Ipst") if name in data)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for calendars in (renamed, ROOT / "calendars", renamed):
            assert build(out, "2026", calendars=calendars).returncode == 0
    finally:
        stop.set()
        reader.join()
    assert not missing, missing[:3]
    assert not torn, torn[:3]
    assert seen == {b"NAME:Nouveau Ipst", b"NAME:Ipst"}  # the reader did read across the switches
