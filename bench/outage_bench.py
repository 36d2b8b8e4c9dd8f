"""Outages under a real daemon sending a burst, many runs each: hangs, lost, duplicates, lateness after recovery.

    python bench/outage_bench.py                      # 10 runs of each scenario (~15 min)
    python bench/outage_bench.py --runs 3 --only restart,relay
    python bench/outage_bench.py --burst 3247 --lanes 4 --pg-outage 30 --relay-outage 10

Scenarios (tests/support/outages.py; the suite runs each once, tests/e2e/test_daemon_outages.py):

- ``restart``: a PostgreSQL server of our own (initdb + pg_ctl, free port) restarted with
  ``pg_ctl restart -m fast`` once a quarter of the burst is accepted;
- ``stop``: the same server stopped, kept down ``--pg-outage`` seconds (30), started again;
- ``relay``: the SMTP sink process SIGKILLed, down ``--relay-outage`` seconds (10), started again
  on its port (SQLite store).

Per run: hang (the daemon did not finish the burst within 5 minutes of the fault's end, or died),
lost, duplicates (bound: the lanes), tracebacks in the daemon's log, its outage lines (starts,
ends), ``late``: seconds from the fault's end to the first message accepted after it, ``tail``:
seconds from the fault's end to the last message, ``retried``: rows that needed more than one
attempt. Nothing is asserted on time; the script fails (exit 1) on a hang, a lost reminder,
duplicates above the lanes or a traceback.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.outages import burst_with_fault, kill_relay_for  # noqa: E402
from tests.support.pg_server import own_pg_server, unavailable  # noqa: E402


def one(scenario: str, args: argparse.Namespace, tmp: Path):
    if scenario == "relay":
        return burst_with_fault(f"sqlite:///{tmp / 'relay.db'}", tmp, lambda: lambda: None, n=args.burst,
                                lanes=args.lanes, relay=kill_relay_for(args.relay_outage))
    with own_pg_server() as pg:
        if scenario == "restart":
            def fault():
                pg.restart()
                return lambda: None
        else:
            def fault():
                pg.stop()
                time.sleep(args.pg_outage)  # the outage's length is the scenario
                return pg.start
        return burst_with_fault(pg.url, tmp, fault, n=args.burst, lanes=args.lanes, lease=args.lease)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--burst", type=int, default=3247)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--lease", type=int, default=120, help="seconds (the daemon's default)")
    parser.add_argument("--pg-outage", type=float, default=30.0)
    parser.add_argument("--relay-outage", type=float, default=10.0)
    parser.add_argument("--only", default="restart,stop,relay")
    args = parser.parse_args()
    scenarios = [s for s in args.only.split(",") if s]
    if any(s != "relay" for s in scenarios) and unavailable():
        print(f"PostgreSQL of our own impossible: {unavailable()}", file=sys.stderr)
        return 2
    print(f"burst {args.burst}, {args.lanes} lanes, lease {args.lease} s, {args.runs} runs each, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    bad = 0
    for scenario in scenarios:
        rows = []
        hangs = 0
        for i in range(args.runs):
            tmp = Path(tempfile.mkdtemp(prefix=f"outage-{scenario}-"))
            try:
                run = one(scenario, args, tmp)
            except AssertionError as err:  # the bounded wait ran out, or the daemon died: a hang
                hangs += 1
                print(f"  {scenario} run {i + 1}: HANG {err}")
                continue
            retried = sum(n for attempts, n in run.attempts.items() if attempts > 1)
            rows.append(run)
            starts, ends = run.outage_lines
            late = f"{run.resumed_after:.1f}" if run.resumed_after is not None else "-"
            print(f"  {scenario} run {i + 1}: lost {run.tally.lost}, duplicates {run.tally.duplicates}, "
                  f"tracebacks {run.tracebacks}, outage lines {starts}/{ends}, late {late} s, "
                  f"tail {run.finished_after:.1f} s, retried {retried}, exit {run.exit_status}", flush=True)
            if run.tally.lost or run.tally.duplicates > args.lanes or run.tracebacks or run.exit_status:
                bad += 1
        bad += hangs
        lates = [r.resumed_after for r in rows if r.resumed_after is not None]
        print(f"{scenario}: runs {args.runs}, hangs {hangs}, lost {sum(r.tally.lost for r in rows)}, "
              f"duplicates {[r.tally.duplicates for r in rows]} (bound {args.lanes}), "
              f"tracebacks {sum(r.tracebacks for r in rows)}, "
              f"late after recovery median {statistics.median(lates) if lates else float('nan'):.1f} s "
              f"max {max(lates, default=float('nan')):.1f} s, "
              f"tail median {statistics.median([r.finished_after for r in rows]) if rows else float('nan'):.1f} s, "
              f"retried rows {sum(sum(n for a, n in r.attempts.items() if a > 1) for r in rows)}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
