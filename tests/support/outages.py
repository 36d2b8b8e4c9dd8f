"""Outages under a real daemon sending a burst: the database restarted or stopped, the relay killed.

Each scenario seeds a burst of reminders all due now, runs `cnam-calendar daemon` (a process of its
own, tests/support/daemons.py) against the SMTP sink process, injects its fault once the burst is
under way, ends it, then waits (a bounded poll: a daemon that never finishes is a hang) until every
reminder is sent. It returns the tally and what the daemon logged. Used by
tests/e2e/test_daemon_outages.py (once each) and bench/outage_bench.py (many runs).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries
from tests.support.daemons import Tally, accepted, count, seed_burst, sent_rows, start_daemon, stop, wait_until
from tests.support.smtp_sink import end_process, read_record, start_sink_process

OUTAGE_STARTS = re.compile(r"est indisponible : ")
OUTAGE_ENDS = re.compile(r"est de nouveau disponible après ")
FINISH_TIMEOUT = 300.0  # seconds a daemon gets to finish the burst after the fault: past it, a hang


@dataclass(frozen=True)
class Run:
    """What one scenario run came to."""

    tally: Tally
    log: str
    exit_status: int
    recovered_at: float  # epoch seconds when the fault ended (server started again, relay back)
    resumed_after: float | None  # seconds from then to the first message accepted after it
    finished_after: float  # seconds from then to the last message accepted
    attempts: dict[int, int]  # attempts → rows

    @property
    def outage_lines(self) -> tuple[int, int]:
        """Return how many outage lines the daemon logged: (starts, ends)."""
        return len(OUTAGE_STARTS.findall(self.log)), len(OUTAGE_ENDS.findall(self.log))

    @property
    def tracebacks(self) -> int:
        return self.log.count("Traceback")


def _timing(record: Path, recovered_at: float) -> tuple[float | None, float]:
    times = sorted(at for _, at, _ in read_record(record))
    after = [t for t in times if t >= recovered_at]
    return (after[0] - recovered_at if after else None), (times[-1] - recovered_at if times else 0.0)


def burst_with_fault(url: str, tmp: Path, fault: Callable[[], Callable[[], None]], *, n: int, lanes: int = 4,
                     lease: int = 120, at: float = 0.25, sink_args: tuple[str, ...] = (),
                     relay: Callable[[subprocess.Popen[str], int, Path], subprocess.Popen[str]] | None = None) -> Run:
    """Send a burst of N through a daemon; once AT of it is accepted, call FAULT(), then what it returned.

    FAULT starts the outage and returns the function that ends it (both run in this thread, the
    daemon going on meanwhile). RELAY, when given, is the fault itself on the sink process:
    RELAY(sink, port, record) ends it and returns the new sink.
    """
    keys = seed_burst(url, n, datetime.now(timezone.utc))
    record = tmp / "accepted.tsv"
    log = tmp / "daemon.log"
    sink, port = start_sink_process(record, *sink_args)
    daemon = start_daemon(url, port, log, lanes=lanes, lease=lease)
    try:
        wait_until(lambda: accepted(record) >= int(n * at), FINISH_TIMEOUT, "the burst under way", (daemon,))
        if relay is not None:
            sink = relay(sink, port, record)
        else:
            fault()()
        recovered_at = time.time()
        wait_until(lambda: sent_rows(url) >= n, FINISH_TIMEOUT, "every reminder sent after the outage", (daemon,),
                   every=0.25)
    finally:
        status = stop(daemon)
        end_process(sink)
    tally = count(url, keys, record)
    store = open_store(url, migrate=False)
    try:
        attempts: dict[int, int] = {}
        for d in list_deliveries(store):
            attempts[d.attempts] = attempts.get(d.attempts, 0) + 1
    finally:
        store.close()
    resumed, finished = _timing(record, recovered_at)
    return Run(tally, log.read_text(encoding="utf-8", errors="replace"), status, recovered_at, resumed, finished,
               attempts)


def kill_relay_for(seconds: float, *sink_args: str) -> Callable[[subprocess.Popen[str], int, Path],
                                                              subprocess.Popen[str]]:
    """Return the RELAY fault: SIGKILL the sink, wait SECONDS, start another one on the same port."""
    def relay(sink: subprocess.Popen[str], port: int, record: Path) -> subprocess.Popen[str]:
        sink.send_signal(signal.SIGKILL)
        sink.wait()
        time.sleep(seconds)  # the outage itself: its length is the scenario, nothing is measured by it
        new, _ = start_sink_process(record, *sink_args, port=port)
        return new
    return relay
