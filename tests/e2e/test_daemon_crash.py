"""Crash, failover and stall of real daemon processes, against a real SMTP sink in its own process.

A burst of reminders all due now is seeded in the store; `cnam-calendar daemon` processes send it.
The sink writes each accepted Message-ID to a file before it answers 250, so after any kill the
tally is exact: lost (seeded, never accepted), duplicates (accepted twice), and rows marked sent
whose message the server never accepted. The bound on duplicates is the messages in flight: one
per lane of the killed daemon.

PostgreSQL tests use the server on 127.0.0.1:5432 (each its own schema); they skip unless it
answers, and fail in CI (any non-empty CI) when it does not.
"""

from __future__ import annotations

import random
import signal
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.contract.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)
from tests.support.daemons import (
    accepted,
    count,
    daemon_cmd,
    daemon_env,
    seed_burst,
    sent_rows,
    start_daemon,
    stop,
    wait_until,
)
from tests.support.smtp_sink import sink_process

LANES = 4
rng = random.Random(20261123)


def test_sigkill_in_the_middle_of_a_burst_of_10000_loses_nothing(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    n = 10_000
    keys = seed_burst(url, n, datetime.now(timezone.utc))
    record = tmp_path / "accepted.tsv"
    kill_at = rng.randrange(n // 20, n * 8 // 10)
    with sink_process(record) as port:
        first = start_daemon(url, port, tmp_path / "daemon-1.log", lanes=LANES)
        try:
            wait_until(lambda: accepted(record) >= kill_at, 300, f"{kill_at} messages accepted", (first,))
        finally:
            first.kill()
            first.wait()
        at_kill = accepted(record)
        second = start_daemon(url, port, tmp_path / "daemon-2.log", lanes=LANES)
        try:
            wait_until(lambda: sent_rows(url) >= n, 300, "every reminder sent after the restart", (second,), every=0.25)
        finally:
            assert stop(second) == 0, (tmp_path / "daemon-2.log").read_text()
    tally = count(url, keys, record)
    log = (tmp_path / "daemon-2.log").read_text()
    assert "repris" in log  # the restarted daemon took back the rows the killed one held
    assert tally.lost == 0, tally
    assert tally.sent_not_accepted == 0, tally
    assert tally.statuses == {"sent": n}, tally
    assert tally.duplicates <= LANES, (tally, f"killed after {at_kill} accepted")


def test_a_second_daemon_on_one_sqlite_file_refuses_to_start(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'one.db'}"
    seed_burst(url, 1, datetime.now(timezone.utc))
    record = tmp_path / "accepted.tsv"
    with sink_process(record) as port:
        first = start_daemon(url, port, tmp_path / "first.log", lanes=1)
        try:
            wait_until(lambda: accepted(record) >= 1, 60, "the first daemon at work", (first,))
            second = subprocess.run(daemon_cmd(url, port, lanes=1), capture_output=True, text=True, timeout=60,
                                    cwd=tmp_path, env=daemon_env())
        finally:
            assert stop(first) == 0
    assert second.returncode == 2, second.stderr
    assert "un autre démon cnam-calendar utilise déjà cette base SQLite" in second.stderr
    assert "Traceback" not in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1


def _pg_only(db_url: str) -> None:  # noqa: F811
    if not db_url.startswith("postgresql"):
        pytest.skip("plusieurs démons sur une même base : PostgreSQL seulement (SQLite : un démon par fichier)")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_failover_one_of_two_daemons_killed_mid_burst_the_other_finishes(db_url, tmp_path: Path):  # noqa: F811
    _pg_only(db_url)
    n = 4000
    keys = seed_burst(db_url, n, datetime.now(timezone.utc))
    record = tmp_path / "accepted.tsv"
    kill_at = rng.randrange(n // 10, n // 2)
    with sink_process(record) as port:
        a = start_daemon(db_url, port, tmp_path / "a.log", lanes=LANES, lease=3)
        b = start_daemon(db_url, port, tmp_path / "b.log", lanes=LANES, lease=3)
        try:
            wait_until(lambda: accepted(record) >= kill_at, 300, f"{kill_at} messages accepted", (a, b))
            a.kill()
            a.wait()
            wait_until(lambda: sent_rows(db_url) >= n, 300, "the survivor finishing the burst", (b,), every=0.25)
        finally:
            a.kill()
            assert stop(b) == 0, (tmp_path / "b.log").read_text()
    tally = count(db_url, keys, record)
    assert tally.lost == 0, tally
    assert tally.sent_not_accepted == 0, tally
    assert tally.statuses == {"sent": n}, tally
    assert tally.duplicates <= LANES, tally


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_daemon_frozen_past_its_lease_sends_and_marks_nothing_more_when_resumed(db_url, tmp_path: Path):  # noqa: F811
    _pg_only(db_url)
    n = 3000
    keys = seed_burst(db_url, n, datetime.now(timezone.utc))
    record = tmp_path / "accepted.tsv"
    with sink_process(record, "--delay", "0.002") as port:
        a = start_daemon(db_url, port, tmp_path / "a.log", lanes=2, lease=3)
        b = start_daemon(db_url, port, tmp_path / "b.log", lanes=2, lease=3)
        try:
            wait_until(lambda: accepted(record) >= n // 5, 300, "the burst under way", (a, b))
            a.send_signal(signal.SIGSTOP)
            frozen_at = accepted(record)
            wait_until(lambda: sent_rows(db_url) >= n, 300, "the other daemon taking over", (b,), every=0.25)
            a.send_signal(signal.SIGCONT)
        finally:
            a.send_signal(signal.SIGCONT)
            assert stop(a) == 0, (tmp_path / "a.log").read_text()
            assert stop(b) == 0, (tmp_path / "b.log").read_text()
    tally = count(db_url, keys, record)
    assert tally.lost == 0 and tally.sent_not_accepted == 0, tally
    assert tally.statuses == {"sent": n}, tally
    # what A had on the wire when it froze may go twice; nothing else of its batch
    assert tally.duplicates <= 2, (tally, f"frozen after {frozen_at} accepted")
