"""Real daemon processes against a real SMTP sink process: a burst of due reminders, kills, the tally.

Used by the crash and failover tests (tests/e2e/test_daemon_crash.py) and by bench/crash_bench.py::

    keys = seed_burst(url, 10_000, due_at=datetime.now(timezone.utc))
    with sink_process(record) as port:
        proc = start_daemon(url, port, log, lanes=4)
        wait_until(lambda: accepted(record) >= 3000, 120, "the burst")
        proc.kill()
        ...
    tally = count(url, keys, record)   # lost, duplicates, sent but never accepted

The burst's learners belong to a centre that has no rule file (``burst-test``): the daemon's own
planner gives them nothing, so only the seeded rows are in play. Their event UIDs are of
academic year 2090, which no planner run of these years touches.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.roster import generate_learners
from cnam_calendar.mail.compose import message_id
from cnam_calendar.mail.daemon import plan_all
from cnam_calendar.rules.model import Learner
from cnam_calendar.rules.reminders import Reminder
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries, sync_plan

ROOT = Path(__file__).resolve().parents[2]
CALENDARS = ROOT / "calendars"
BURST_CENTRE = "burst-test"
PARIS = ZoneInfo("Europe/Paris")


@functools.cache
def _template_json() -> str:
    from cnam_calendar.inputs.catalogue import load_catalogue

    centres = load_centres(CALENDARS)
    catalogues = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    store = open_store("sqlite://")
    try:
        store.import_learners(generate_learners(1, 3, centres, catalogues, 2026))
        return json.dumps(plan_all(store, centres, 2026)[0].payload)
    finally:
        store.close()


def template_payload() -> dict:
    """A fresh copy of a payload written by the real planner (one generated learner), to adjust."""
    return json.loads(_template_json())


def seed_burst(url: str, n: int, due_at: datetime, *, learners: int = 200) -> list[str]:
    """Write ``n`` reminders all due at ``due_at`` (expiring a day later) into the store; return their keys."""
    store = open_store(url)
    try:
        ids = [f"B{i:04d}" for i in range(learners)]
        store.import_learners([Learner(i, f"{i.lower()}@example.org", "Camille", "Martin", BURST_CENTRE, "31",
                                       "individuel") for i in ids])
        target = date(2090, 12, 1)
        expires = due_at + timedelta(days=1)
        plan = []
        for k in range(n):
            learner = ids[k % learners]
            uid = f"burst-{k}.{BURST_CENTRE}.2090@cnam-calendar"
            key = f"{learner}/{uid}/J-1/{target.isoformat()}"
            payload = template_payload()
            payload.update({"key": key, "offset_days": 1, "date": target.isoformat()})
            payload["learner"].update({"id": learner, "email": f"{learner.lower()}@example.org"})
            payload["event"].update({"id": f"burst-{k}", "uid": uid})
            local = due_at.astimezone(PARIS)
            plan.append(Reminder(key, learner, uid, f"burst-{k}", "deadline", 1, target, None, local,
                                 due_at.astimezone(timezone.utc), expires, 2090, payload))
        report = sync_plan(store, plan, due_at - timedelta(minutes=1))
        assert report.created == n, report
        return [r.key for r in plan]
    finally:
        store.close()


def daemon_env() -> dict[str, str]:
    """The environment of a daemon process: this work tree first on the path, no SMTP password."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("CNAM_CALENDAR_SMTP_PASSWORD", None)
    return env


def daemon_cmd(url: str, port: int, *, lanes: int = 4, lease: int = 120, dispatch_every: float = 0.2) -> list[str]:
    """The command line of ``cnam-calendar daemon`` against the sink on ``port``."""
    return [sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), "daemon", "--db", url,
            "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--lanes", str(lanes),
            "--lease-seconds", str(lease), "--dispatch-every", str(dispatch_every), "--from", "rappels@cnam.test"]


def start_daemon(url: str, port: int, log: Path, **options: float) -> subprocess.Popen:
    """Start ``cnam-calendar daemon`` (this work tree) in its own process, its output in ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(daemon_cmd(url, port, **options), cwd=log.parent, env=daemon_env(), stdout=out,
                                stderr=subprocess.STDOUT)


_ACCEPTED: dict[str, tuple[int, int, int]] = {}  # record → (inode, bytes read, lines): each poll reads what is new


def accepted(record: Path) -> int:
    """Return how many messages the sink process has accepted so far (reading only what was appended since)."""
    try:
        with open(record, "rb") as f:
            inode = os.fstat(f.fileno()).st_ino
            seen_inode, offset, lines = _ACCEPTED.get(str(record), (inode, 0, 0))
            if seen_inode != inode:
                offset, lines = 0, 0
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return 0
    _ACCEPTED[str(record)] = (inode, offset + len(data), lines + data.count(b"\n"))
    return lines + data.count(b"\n")


def accepted_ids(record: Path) -> Counter[str]:
    """Return how many times the sink accepted each Message-ID."""
    with open(record, encoding="utf-8") as f:
        return Counter(line.split("\t", 1)[0] for line in f if line.endswith("\n"))


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               procs: tuple[subprocess.Popen, ...] = (), every: float = 0.01) -> None:
    """Poll ``condition`` (every 10 ms) until it holds; fail after ``timeout`` s or when a process died.

    A condition that reads the store (``sent_rows``) polls less often (``every=0.25``): a query of
    the whole table every 10 ms takes CPU from the daemons it waits for.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"waiting for {what}: a daemon exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waiting for {what}: still not done after {timeout:.0f} s")
        time.sleep(every)


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM the process and wait for it; return its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@dataclass(frozen=True)
class Tally:
    """What a burst came to: the table against what the SMTP server accepted."""

    seeded: int
    sent_rows: int
    lost: int  # seeded reminders the server never accepted
    duplicates: int  # accepted messages beyond the first of each Message-ID
    sent_not_accepted: int  # rows marked sent whose message the server never accepted
    statuses: dict[str, int]


def count(url: str, keys: list[str], record: Path) -> Tally:
    """Compare the delivery table with the sink's record for the seeded ``keys``."""
    got = accepted_ids(record)
    wanted = {message_id(k): k for k in keys}
    store = open_store(url)
    try:
        rows = [d for d in list_deliveries(store) if d.key in set(keys)]
    finally:
        store.close()
    statuses = Counter(d.status for d in rows)
    sent = [d for d in rows if d.status == "sent"]
    return Tally(
        seeded=len(keys),
        sent_rows=len(sent),
        lost=sum(1 for mid in wanted if got[mid] == 0),
        duplicates=sum(n - 1 for mid, n in got.items() if mid in wanted and n > 1),
        sent_not_accepted=sum(1 for d in sent if got[message_id(d.key)] == 0),
        statuses=dict(statuses),
    )


def sent_rows(url: str, prefix: str = "") -> int:
    """Return how many rows of the table (whose key starts with ``prefix``) are sent: poll it with ``every=0.25``."""
    from sqlalchemy import func, select

    from cnam_calendar.store.database import reminder_deliveries_table as t

    store = open_store(url, migrate=False)
    try:
        with store.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(t).where(
                t.c.status == "sent", t.c.key.startswith(prefix))) or 0)
    finally:
        store.close()

