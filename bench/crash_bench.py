"""Crash runs of the reminder daemon (issue 5): lost and duplicated messages over several SIGKILLs.

Run from the project root:

    python bench/crash_bench.py                 # 5 runs of 10,000 reminders on SQLite
    python bench/crash_bench.py --runs 2 --n 2000
    python bench/crash_bench.py --pg            # failover runs too: two daemons on PostgreSQL, one killed

Each run: a fresh store with N reminders all due now, a real SMTP sink in its own process
(recording each accepted Message-ID before it answers 250), the real `cnam-calendar daemon`
with --lanes L killed with SIGKILL after a random number of accepted messages, then restarted
(SQLite) or left to the other daemon (PostgreSQL, lease 3 s) until every row is sent. Printed per
run: where it was killed, lost (never accepted), duplicates (accepted twice), rows marked sent
that the server never accepted, seconds. Lost and sent-not-accepted must be 0 and duplicates at
most the lanes in flight: a run that breaks this raises. Nothing here is timed against a target.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.support.daemons import accepted, count, seed_burst, sent_rows, start_daemon, stop, wait_until  # noqa: E402
from tests.support.smtp_sink import sink_process  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def sqlite_run(directory: Path, n: int, lanes: int, rng: random.Random) -> tuple[int, object, float]:
    url = f"sqlite:///{directory / 'crash.db'}"
    keys = seed_burst(url, n, datetime.now(timezone.utc))
    record = directory / "accepted.tsv"
    kill_at = rng.randrange(n // 20, n * 8 // 10)
    started = time.perf_counter()
    with sink_process(record) as port:
        first = start_daemon(url, port, directory / "daemon-1.log", lanes=lanes)
        wait_until(lambda: accepted(record) >= kill_at, 600, "the kill point", (first,))
        first.kill()
        first.wait()
        at_kill = accepted(record)
        second = start_daemon(url, port, directory / "daemon-2.log", lanes=lanes)
        wait_until(lambda: sent_rows(url) >= n, 600, "every reminder sent", (second,))
        stop(second)
    return at_kill, count(url, keys, record), time.perf_counter() - started


def pg_run(directory: Path, n: int, lanes: int, rng: random.Random) -> tuple[int, object, float]:
    schema = f"crash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        keys = seed_burst(url, n, datetime.now(timezone.utc))
        record = directory / "accepted.tsv"
        kill_at = rng.randrange(n // 10, n // 2)
        started = time.perf_counter()
        with sink_process(record) as port:
            a = start_daemon(url, port, directory / "a.log", lanes=lanes, lease=3)
            b = start_daemon(url, port, directory / "b.log", lanes=lanes, lease=3)
            wait_until(lambda: accepted(record) >= kill_at, 600, "the kill point", (a, b))
            a.kill()
            a.wait()
            at_kill = accepted(record)
            wait_until(lambda: sent_rows(url) >= n, 600, "the survivor finishing", (b,))
            stop(b)
        return at_kill, count(url, keys, record), time.perf_counter() - started
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--n", type=int, default=10_000, help="reminders due at once (default 10,000)")
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg", action="store_true", help="also failover runs on PostgreSQL at 127.0.0.1:5432")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    kinds = [("sqlite kill+restart", sqlite_run)] + ([("pg failover", pg_run)] if args.pg else [])
    worst = 0
    for label, run in kinds:
        dups = []
        for i in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="crash-bench-") as d:
                at_kill, tally, seconds = run(Path(d), args.n, args.lanes, rng)
            print(f"{label} run {i + 1}: killed after {at_kill} accepted; lost {tally.lost}, duplicates "
                  f"{tally.duplicates}, sent-not-accepted {tally.sent_not_accepted}; {seconds:.1f} s", flush=True)
            if tally.lost or tally.sent_not_accepted or tally.duplicates > args.lanes:
                raise SystemExit(f"FAILED: {tally}")
            dups.append(tally.duplicates)
            worst = max(worst, tally.duplicates)
        print(f"{label}: {args.runs} runs of {args.n:,}, lanes {args.lanes}: lost 0, duplicates per run {dups} "
              f"(bound: {args.lanes})")
    print(f"worst duplicates {worst} <= lanes {args.lanes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
