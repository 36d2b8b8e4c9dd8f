"""Benchmark of the daemon's peak memory (issue 5, "How it is shown"): 50,000 learners planned over a year.

Run from the project root:

    python bench/daemon_memory_bench.py                 # 50,000 learners, SQLite file; a few minutes
    python bench/daemon_memory_bench.py --quick         # 5,000 learners
    python bench/daemon_memory_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test   # fresh schema
    python bench/daemon_memory_bench.py --trace         # also where the planner's memory goes (tracemalloc)

Setup (not measured): `generate_learners(N, seed 1, both centres, year 2026)` imported into a
fresh store. Then two child processes, each started from scratch (`python this-file --child …`),
so that each peak is its own:

- baseline: import the package (`cnam_calendar.mail.daemon`, which pulls in the engine, the store,
  the mailer and APScheduler's callers) and load the N learners from the store (`Store.learners()`);
- planner: the same, then `Daemon.plan()` with a fixed clock (1 September 2026, 08:00 UTC): every
  reminder of academic year 2026-2027 planned and written into the delivery table, as the daemon
  does at start and every night.

Peak memory is the child's peak resident set (`os.wait4` → ``ru_maxrss``). Printed: rows planned,
seconds, peak MB of each child and the ratio planner / baseline. The planner must have written
as many rows as the table then holds (a mismatch raises). With --trace the planner child runs
under tracemalloc and prints its peak traced memory and the biggest allocation sites.
Nothing here is a test and nothing asserts on memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reminder_rows import CALENDARS, ROOT, fresh_database  # noqa: E402

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)  # start of academic year 2026-2027


def child(mode: str, url: str, trace: bool, calendars: Path = CALENDARS) -> None:
    """Run in the child process: print one JSON line with what was done."""
    if trace:
        import tracemalloc

        tracemalloc.start(10)
    start = time.perf_counter()
    from cnam_calendar.inputs.config import load_centres
    from cnam_calendar.mail.daemon import Daemon
    from cnam_calendar.mail.smtp import Mailer
    from cnam_calendar.store.database import open_store
    from cnam_calendar.store.delivery import status_counts

    store = open_store(url, clock=lambda: NOW)
    out: dict[str, object] = {"mode": mode}
    if mode == "baseline":
        out["learners"] = len(store.learners())
    elif not trace:
        mailer = Mailer("127.0.0.1", 25, local_hostname="bench.local")  # never connects: plan sends nothing
        daemon = Daemon(store, mailer, load_centres(calendars), lambda: NOW, "rappels@cnam.test", owner="bench")
        report = daemon.plan()
        if report is None:
            raise SystemExit("the planner lock was held by another process: wrong result")
    else:  # Daemon.plan's two steps, with a look at what the plan holds between them
        import tracemalloc

        from cnam_calendar.mail.daemon import plan_all
        from cnam_calendar.store.delivery import sync_plan

        reminders = plan_all(store, load_centres(calendars), 2026)
        out["plan_mb"] = tracemalloc.get_traced_memory()[0] / 2**20
        out["top"] = [f"{s.size / 2**20:8.1f} MB  {s.count:>9} blocks  {s.traceback[0]}"
                      for s in tracemalloc.take_snapshot().statistics("lineno")[:10]]
        report = sync_plan(store, reminders, NOW, years=[2026])
        del reminders
    if mode == "planner":
        out["created"] = report.created
        out["skipped"] = report.skipped
        out["rows"] = sum(status_counts(store).values())
    out["seconds"] = time.perf_counter() - start
    if trace:
        import tracemalloc

        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    store.close()
    print(json.dumps(out), flush=True)


def run_child(mode: str, url: str, trace: bool = False, calendars: Path = CALENDARS) -> tuple[dict, float]:
    """Run one child; return (its JSON line, its peak RSS in MB)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--url", url, "--calendars", str(calendars)]
    if trace:
        cmd.append("--trace")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} child failed with status {proc.returncode}: {output}")
    return json.loads(output.strip().splitlines()[-1]), usage.ru_maxrss / 1024  # KB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 learners")
    parser.add_argument("-n", type=int, help="learners (default 50,000; 5,000 with --quick)")
    parser.add_argument("--db", metavar="URL", help="PostgreSQL URL (a fresh schema); default: a SQLite file")
    parser.add_argument("--trace", action="store_true", help="also run the planner under tracemalloc")
    parser.add_argument("--child", choices=["baseline", "planner"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--calendars", type=Path, default=CALENDARS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.trace, args.calendars)
        return 0
    n = args.n or (5000 if args.quick else 50_000)

    from cnam_calendar.inputs.catalogue import load_catalogue
    from cnam_calendar.inputs.config import load_centres
    from cnam_calendar.inputs.roster import generate_learners
    from cnam_calendar.store.database import open_store

    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp, \
            fresh_database(args.db, Path(tmp), "memory") as url:
        centres = load_centres(CALENDARS)
        codes = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
        store = open_store(url)
        try:
            store.import_learners(generate_learners(n, 1, centres, codes, 2026))
        finally:
            store.close()
        backend = "SQLite file" if not args.db or args.db.startswith("sqlite") else "PostgreSQL (fresh schema)"
        print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; {n} generated "
              f"learners (seed 1, year 2026) in a {backend}; each measurement in a fresh child process")
        base, base_mb = run_child("baseline", url)
        if base["learners"] != n:
            raise SystemExit(f"baseline loaded {base['learners']} learners of {n}: wrong result")
        plan, plan_mb = run_child("planner", url)
        if plan["rows"] != plan["created"] or plan["created"] == 0:
            raise SystemExit(f"planner wrote {plan['created']} rows, the table holds {plan['rows']}: wrong result")
        print()
        print(f"{'child':<42} {'seconds':>8} {'peak MB':>8}")
        print(f"{'baseline: import + load the learners':<42} {base['seconds']:8.1f} {base_mb:8.0f}")
        print(f"{'planner: Daemon.plan, a whole year':<42} {plan['seconds']:8.1f} {plan_mb:8.0f}")
        print()
        print(f"rows planned: {plan['created']} ({plan['created'] / n:.1f} per learner; "
              f"{plan['skipped']} already past not written)")
        print(f"ratio planner peak / baseline peak: {plan_mb / base_mb:.1f}x ({plan_mb:.0f} MB vs {base_mb:.0f} MB); "
              f"{(plan_mb - base_mb) * 1024 / plan['created']:.2f} KB per planned row above the baseline")
        if args.trace:
            with fresh_database(args.db, Path(tmp), "memory-trace") as url2:
                store = open_store(url2)
                try:
                    store.import_learners(generate_learners(n, 1, centres, codes, 2026))
                finally:
                    store.close()
                traced, _ = run_child("planner", url2, trace=True)
            print(f"\ntracemalloc, planner child: peak traced {traced['traced_peak_mb']:.0f} MB; the plan alone "
                  f"(plan_all's list, before sync_plan) {traced['plan_mb']:.0f} MB, largest sites then:")
            for line in traced["top"]:
                print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
