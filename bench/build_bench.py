"""Benchmark of a centre-year build with a synthetic catalogue of 300 UEs (issue 3, "How it is shown").

Run from the project root:

    python bench/build_bench.py              # best of 3 repeats (~20 s)
    python bench/build_bench.py --repeats 5   # ~35 s

One centre-year (ipst-cnam 2026) and 300 generated UEs (SYN001…SYN300: S1, S2 and annual, Monday
to Saturday, evening times, the centre's sites, a few FOAD), measured three ways, each the best of
N repeats with time.perf_counter:

1. ours, in memory: build.render_centre_year → calendar.ics + 300 ue/<CODE>.ics as bytes;
2. ours, to disk: build.build(...) into a fresh temporary directory, as `cnam-calendar build`
   does it (check of the schedule, .ics files, index.html, manifest, atomic writes with fsync);
3. baseline, a bare icalendar loop producing the same events: for each UE one icalendar.Event
   with RRULE + EXDATE (TZID) and its two all-day exam events, plus the institutional events,
   each calendar serialised with to_ical() and written with a plain write_bytes(). Its inputs
   (session dates, skipped dates, exam windows) are computed before the timing, so it measures
   the iCal writing alone (no VTIMEZONE, DESCRIPTION, SEQUENCE tracking, HTML or fsync).

Prints time, bytes written and files for each, and the ratios ours / bare loop. The script fails
only on a wrong result (e.g. a mismatch in the number of events), never on time.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

from cnam_calendar.ical import build
from cnam_calendar.inputs import config
from cnam_calendar.rules.model import UE
from cnam_calendar.rules.sessions import exam_events, ue_sessions
from cnam_calendar.service import schedule
from cnam_calendar.web.overview import render_overview

CENTRE = "ipst-cnam"
YEAR = 2026
N_UES = 300
STAMP = datetime(2026, 1, 1, tzinfo=timezone.utc)
TODAY = date(2026, 1, 1)
SEMESTERS = ("S1", "S2", "annual")
MODALITIES = ("cours du soir", "co-modal", "hybride", "cours du soir", "en ligne planifié")
STARTS = (dtime(17, 45), dtime(18, 0), dtime(18, 15), dtime(18, 30), dtime(19, 0))
LENGTHS = (timedelta(hours=2), timedelta(hours=2, minutes=30), timedelta(hours=3), timedelta(hours=3, minutes=45))
ECTS = (4, 6, 8, 12)


def synthetic_catalogue(sites: list[str], n: int = N_UES) -> tuple[UE, ...]:
    """Generate ``n`` UEs deterministically: mixed semesters, Monday–Saturday evenings, every site, 1 in 15 FOAD."""
    ues = []
    for i in range(1, n + 1):
        semester = SEMESTERS[i % 3]
        if i % 15 == 0:
            ues.append(UE(code=f"SYN{i:03d}", title=f"UE synthétique {i} (à distance)", ects=ECTS[i % 4],
                          semester=semester, modality="FOAD"))
            continue
        modality = MODALITIES[i % len(MODALITIES)]
        start = STARTS[i % len(STARTS)]
        end = (datetime.combine(date.min, start) + LENGTHS[(i // 3) % len(LENGTHS)]).time()
        online = modality == "en ligne planifié"
        ues.append(UE(code=f"SYN{i:03d}", title=f"UE synthétique {i} : méthodes et pratique", ects=ECTS[i % 4],
                      semester=semester, modality=modality, site="" if online else sites[i % len(sites)],
                      weekday=(i * 5) % 6, start=start, end=end, room="" if online else f"S-{100 + i % 40}"))
    return tuple(ues)


def best_of(repeats: int, fn):
    """Return (best seconds, last result) of ``repeats`` calls of ``fn``."""
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def disk_usage(root: Path) -> tuple[int, int, int]:
    """Return (bytes of every file, number of files, bytes of the .ics files) under ``root``."""
    files = [p for p in root.rglob("*") if p.is_file()]
    return (sum(p.stat().st_size for p in files), len(files),
            sum(p.stat().st_size for p in files if p.suffix == ".ics"))


def baseline_inputs(sched, catalogue):
    """Everything the bare loop needs, computed outside the timing: plain tuples of dates and strings."""
    tz = ZoneInfo(sched.centre.timezone)
    sites = {s.id: s.name for s in sched.centre.sites}
    institutional = [(f"{e.id}@bare", e.title, e.start, e.end + timedelta(days=1)) for e in sched.events]
    per_ue = []
    for ue in catalogue:
        s = ue_sessions(ue, sched)
        exams = [(f"{e.id}@bare", e.title, e.start, e.end + timedelta(days=1)) for e in exam_events(ue, sched)]
        session = None
        if ue.timed and s.first is not None and s.last is not None:
            location = ", ".join(p for p in (sites.get(ue.site, ue.site), f"salle {ue.room}" if ue.room else "") if p)
            session = (
                f"ue-{ue.code}-sessions@bare", f"{ue.code} — {ue.title} (cours)",
                datetime.combine(s.first, ue.start, tz), datetime.combine(s.first, ue.end, tz),
                datetime.combine(s.last, ue.start, tz).astimezone(timezone.utc),
                [datetime.combine(d, ue.start, tz) for d, _ in s.skipped], location or None,
            )
        per_ue.append((ue.code, session, exams))
    return institutional, per_ue


def bare_loop(institutional, per_ue, out: Path | None) -> tuple[int, int, int]:
    """Write calendar.ics and ue/<CODE>.ics with a plain icalendar loop; return (bytes, files, events)."""

    def calendar(events) -> bytes:
        cal = icalendar.Calendar()
        cal.add("PRODID", "-//bare//loop//FR")
        cal.add("VERSION", "2.0")
        for ev in events:
            cal.add_component(ev)
        return cal.to_ical()

    def all_day(uid, summary, start, end) -> icalendar.Event:
        ev = icalendar.Event()
        ev.add("UID", uid)
        ev.add("DTSTAMP", STAMP)
        ev.add("SUMMARY", summary)
        ev.add("DTSTART", start)
        ev.add("DTEND", end)
        ev.add("TRANSP", "TRANSPARENT")
        return ev

    outputs: dict[str, bytes] = {}
    n_events = len(institutional)
    outputs["calendar.ics"] = calendar(all_day(*row) for row in institutional)
    for code, session, exams in per_ue:
        events = [all_day(*row) for row in exams]
        if session is not None:
            uid, summary, start, end, until, exdates, location = session
            ev = icalendar.Event()
            ev.add("UID", uid)
            ev.add("DTSTAMP", STAMP)
            ev.add("SUMMARY", summary)
            ev.add("DTSTART", start)
            ev.add("DTEND", end)
            ev.add("RRULE", {"FREQ": "WEEKLY", "UNTIL": until})
            if exdates:
                ev.add("EXDATE", exdates)
            if location:
                ev.add("LOCATION", location)
            events.insert(0, ev)
        n_events += len(events)
        outputs[f"ue/{code}.ics"] = calendar(events)
    if out is not None:
        (out / "ue").mkdir(parents=True, exist_ok=True)
        for rel, data in outputs.items():
            (out / rel).write_bytes(data)
    return sum(map(len, outputs.values())), len(outputs), n_events


def count_events(files: dict[str, bytes]) -> int:
    return sum(data.count(b"BEGIN:VEVENT") for data in files.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats per measurement (best is kept)")
    args = parser.parse_args()
    repeats = max(1, args.repeats)

    centre = next(c for c in config.load_centres("calendars") if c.id == CENTRE)
    catalogue = synthetic_catalogue([s.id for s in centre.sites])
    sched = schedule(centre, YEAR)
    timed = sum(u.timed for u in catalogue)
    print(f"cnam-calendar build bench — Python {platform.python_version()}, icalendar {icalendar.__version__}, "
          f"{platform.machine()}")
    print(f"{centre.id} {sched.label}: {len(catalogue)} synthetic UEs ({timed} timed, {len(catalogue) - timed} FOAD), "
          f"{len(sched.events)} institutional events; best of {repeats}")
    print()

    # 1. ours, in memory
    t_render, (files, _) = best_of(repeats, lambda: build.render_centre_year(sched, catalogue, {}, STAMP, TODAY))
    render_bytes, render_events = sum(map(len, files.values())), count_events(files)

    # 2. ours, to disk: a fresh directory each repeat (no manifest from a previous run)
    with tempfile.TemporaryDirectory(prefix="cnam-build-bench-") as tmp:
        runs = iter(range(repeats))

        def to_disk() -> Path:
            out = Path(tmp) / f"ours-{next(runs)}"
            build.build([centre], [YEAR], out, STAMP, TODAY, catalogues={centre.id: catalogue},
                        overview=render_overview)
            return out

        t_build, out = best_of(repeats, to_disk)
        disk_bytes, disk_files, disk_ics = disk_usage(out)

        # 3. baseline: inputs outside the timing, then the bare loop in memory and to disk
        institutional, per_ue = baseline_inputs(sched, catalogue)
        t_bare_mem, (bare_bytes, bare_files, bare_events) = best_of(
            repeats, lambda: bare_loop(institutional, per_ue, None))
        bare_runs = iter(range(repeats))

        def bare_to_disk() -> Path:
            out = Path(tmp) / f"bare-{next(bare_runs)}"
            bare_loop(institutional, per_ue, out)
            return out

        t_bare_disk, bare_out = best_of(repeats, bare_to_disk)
        bare_disk_bytes, bare_disk_files, _ = disk_usage(bare_out)

    if bare_events != render_events or bare_files != len(files):
        print(f"MISMATCH: ours {render_events} events in {len(files)} files, "
              f"bare loop {bare_events} events in {bare_files} files", file=sys.stderr)
        return 1
    sessions = sum(len(ue_sessions(u, sched).dates) for u in catalogue)

    print(f"events: {render_events} VEVENTs ({timed} weekly series = {sessions} sessions, "
          f"{2 * len(catalogue)} UE exams, {len(sched.events)} institutional) in {len(files)} .ics files")
    print()
    print(f"{'':44} {'time':>10} {'bytes':>12} {'files':>6}")
    print(f"{'ours  render_centre_year (memory)':44} {t_render * 1000:8.1f} ms {render_bytes:12,} {len(files):6}")
    print(f"{'ours  build.build to disk (+html, manifest)':44} {t_build * 1000:8.1f} ms {disk_bytes:12,} "
          f"{disk_files:6}   (.ics: {disk_ics:,} bytes)")
    print(f"{'bare  icalendar loop (memory)':44} {t_bare_mem * 1000:8.1f} ms {bare_bytes:12,} {bare_files:6}")
    print(f"{'bare  icalendar loop to disk':44} {t_bare_disk * 1000:8.1f} ms {bare_disk_bytes:12,} "
          f"{bare_disk_files:6}")
    print()
    print(f"largest per-UE feed: {max(len(v) for k, v in files.items() if k.startswith('ue/')):,} bytes; "
          f"calendar.ics: {len(files['calendar.ics']):,} bytes")
    print(f"ratio render/bare (memory): {t_render / t_bare_mem:.2f}x")
    print(f"ratio build/bare (to disk): {t_build / t_bare_disk:.2f}x")
    print(f"ratio bytes ours/bare (.ics): {disk_ics / bare_disk_bytes:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
