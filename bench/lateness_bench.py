"""Benchmark of reminder lateness (issue 5, "How it is shown"): 10,000 reminders due at the same instant.

Run from the project root:

    python bench/lateness_bench.py                # 10,000 reminders, 1 lane then 4 lanes, SQLite; ~2-3 min
    python bench/lateness_bench.py --quick        # 2,000 reminders
    python bench/lateness_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test   # a fresh schema each

For each lane count: a fresh store, an aiosmtpd sink in its own process (tests/support/smtp_sink.py,
which writes each accepted Message-ID with the time it accepted it before answering 250) and the
real daemon, `python -m cnam_calendar.cli daemon --dispatch-every 0.2 --lanes L` (this work tree),
started on the empty store. Once it runs, the N reminders (the real planner's, bench/reminder_rows.py)
are written with `delivery.sync_plan`, all due at one wall-clock instant T a few seconds ahead;
the bench then waits for the sink to have them all and stops the daemon (SIGTERM).

Lateness of a reminder = the sink's acceptance time minus T (both `time.time()` on this machine).
Printed: p50, p99 and max for each lane count, and the baseline, the bare minimum: the time a
bare `smtplib` loop on one connection needs to push the same N messages (the bytes the daemon
sends, made beforehand, through `sendmail`) to a fresh sink. The line to quote reads
"p99 = x × the bare loop's time". The sink must have every reminder exactly once and the table
must say N sent (a mismatch raises). Nothing here is a test and nothing asserts on time.
"""

from __future__ import annotations

import argparse
import os
import platform
import smtplib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reminder_rows import (  # noqa: E402
    CALENDARS,
    ROOT,
    accepted,
    due_at,
    fresh_database,
    percentile,
    real_reminders,
    seed_due,
    stop_all,
)

from cnam_calendar.mail.compose import message_id, render  # noqa: E402
from cnam_calendar.store.database import open_store  # noqa: E402
from cnam_calendar.store.delivery import status_counts  # noqa: E402
from tests.support.smtp_sink import read_record, sink_process  # noqa: E402

SENDER = "rappels@cnam.test"


def bare_loop(plan: list, workdir: Path) -> float:
    """Seconds a bare smtplib loop on one connection takes to push the daemon's bytes (made beforehand)."""
    now = datetime.now(timezone.utc)
    wire = [render(r.payload, r.key, sender=SENDER, date=now) for r in plan]
    record = workdir / "bare.tsv"
    with sink_process(record) as port:
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.local") as smtp:
            for message in wire:
                smtp.sendmail(message.sender, list(message.recipients), message.data)
        elapsed = time.perf_counter() - start
    ids = Counter(mid for mid, _, _ in read_record(record))
    if ids != Counter({message_id(r.key): 1 for r in plan}):
        raise SystemExit(f"bare loop: the sink accepted {sum(ids.values())} messages of {len(plan)}: wrong result")
    return elapsed


def daemon_run(learners: list, reminders: list, lanes: int, db: str | None, workdir: Path, lead: float,
               timeout: float) -> list[float]:
    """Run the real daemon over N reminders due at one instant; return each one's lateness in seconds."""
    tag = f"lanes-{lanes}"
    record = workdir / f"{tag}.tsv"
    log = workdir / f"{tag}.log"
    with fresh_database(db, workdir, tag) as url:
        open_store(url).close()  # the schema, before the daemon opens it
        with sink_process(record) as port:
            cmd = [sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), "daemon", "--db", url,
                   "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--lanes", str(lanes),
                   "--dispatch-every", "0.2", "--from", SENDER]
            env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            env.pop("CNAM_CALENDAR_SMTP_PASSWORD", None)
            with open(log, "wb") as out:
                proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 60
                while b"plan " not in log.read_bytes():  # started, and its first planner run is over
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"the daemon did not start: {log.read_text(errors='replace')}")
                    time.sleep(0.05)
                due, plan = seed_due(url, learners, reminders, lead)
                deadline = time.monotonic() + lead + timeout
                while accepted(record) < len(plan):
                    if proc.poll() is not None:
                        raise SystemExit(f"the daemon exited ({proc.returncode}): {log.read_text(errors='replace')}")
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{accepted(record)} of {len(plan)} accepted after {timeout} s")
                    time.sleep(0.05)
            finally:
                stop_all([proc])
        store = open_store(url)
        try:
            counts = status_counts(store)
        finally:
            store.close()
    rows = read_record(record)
    ids = Counter(mid for mid, _, _ in rows)
    if ids != Counter({message_id(r.key): 1 for r in plan}) or counts["sent"] != len(plan):
        raise SystemExit(f"{tag}: the sink accepted {sum(ids.values())} ({len(ids)} distinct) of {len(plan)}, "
                         f"table {counts}: wrong result")
    return sorted(at - due.timestamp() for _, at, _ in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 reminders")
    parser.add_argument("-n", type=int, help="reminders due at once (default 10,000; 2,000 with --quick)")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 4], help="lane counts to run (default 1 4)")
    parser.add_argument("--db", metavar="URL", help="PostgreSQL URL (a fresh schema per run); default: a SQLite file")
    parser.add_argument("--lead", type=float, default=10.0,
                        help="seconds between writing the rows and their due instant (default 10)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds per run")
    args = parser.parse_args()
    n = args.n or (2000 if args.quick else 10_000)

    learners, reminders = real_reminders(n)
    backend = "SQLite file" if not args.db or args.db.startswith("sqlite") else "PostgreSQL (fresh schema)"
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; {n} real reminders "
          f"due at the same instant; real daemon process (--dispatch-every 0.2); sink in its own process; "
          f"table: {backend}")
    results: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="lateness-bench-") as tmp:
        workdir = Path(tmp)
        bare = bare_loop(due_at(reminders, datetime.now(timezone.utc)), workdir)
        print(f"  baseline: bare smtplib loop, 1 connection, {n} ready-made messages: {bare:.1f} s "
              f"({n / bare:.0f} msg/s)", flush=True)
        for lanes in args.lanes:
            results[lanes] = daemon_run(learners, reminders, lanes, args.db, workdir, args.lead, args.timeout)
            late = results[lanes]
            print(f"  daemon, {lanes} lane(s): last accepted {late[-1]:.1f} s after the due instant", flush=True)
    print()
    print(f"{'run':<22} {'p50 s':>7} {'p99 s':>7} {'max s':>7}   p99 / bare loop")
    for lanes, late in results.items():
        p50, p99 = percentile(late, 50), percentile(late, 99)
        print(f"{f'daemon, {lanes} lane(s)':<22} {p50:7.2f} {p99:7.2f} {late[-1]:7.2f}   {p99 / bare:.2f}x")
    print(f"{'bare smtplib loop':<22} {'':>7} {'':>7} {bare:7.2f}   (the time to push {n} messages, 1 connection)")
    print()
    for lanes, late in results.items():
        print(f"lateness {lanes} lane(s): p50 {percentile(late, 50):.2f} s, p99 {percentile(late, 99):.2f} s "
              f"= {percentile(late, 99) / bare:.2f} x the bare loop's {bare:.2f} s; lost 0, duplicated 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
