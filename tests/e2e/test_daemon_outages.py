"""The daemon survives its infrastructure: its database restarted or stopped, its disk full, its relay killed.

Real parts only: a PostgreSQL server of the test's own (initdb + pg_ctl on a free port, restarted
and stopped under the daemon), a tmpfs filled to the last byte, the SMTP sink process killed and
started again on its port. Each scenario runs once here; bench/outage_bench.py runs them many times.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.support import daemons
from tests.support.outages import burst_with_fault, kill_relay_for
from tests.support.pg_server import own_pg_server
from tests.support.smtp_sink import sink_process
from tests.support.tmpfs import fill, small_tmpfs

LANES = 4


def _clean(run, *, outages: int | None = 1) -> None:
    assert run.exit_status == 0, run.log[-3000:]
    assert run.tracebacks == 0, run.log[-5000:]
    assert run.tally.lost == 0 and run.tally.sent_not_accepted == 0, run.tally
    assert run.tally.statuses == {"sent": run.tally.seeded}, run.tally
    assert run.tally.duplicates <= LANES, run.tally
    starts, ends = run.outage_lines
    if outages is None:  # a restart may fall between two statements of the daemon: then nothing to say
        assert starts == ends <= 1, run.log[-3000:]
    else:
        assert (starts, ends) == (outages, outages), run.log[-3000:]


def test_postgresql_restarted_fast_mid_burst_the_daemon_finishes_it(tmp_path: Path):
    with own_pg_server() as pg:
        def restart():
            pg.restart()  # pg_ctl restart -m fast: every session of the daemon is cut
            return lambda: None
        run = burst_with_fault(pg.url, tmp_path, restart, n=3000, lanes=LANES)
    _clean(run, outages=None)


def test_postgresql_stopped_30_s_mid_burst_one_line_then_the_daemon_finishes_without_waiting_for_leases(
        tmp_path: Path):
    # a lease of 10 minutes: rows a dispatch cut short and kept leased would make the poll below
    # (its 5 minutes are a hang detector) fail; they are given back as soon as the server answers
    with own_pg_server() as pg:
        def outage():
            pg.stop()
            # the daemon notices (a bounded poll on its log), then the server stays down 30 s in all
            daemons.wait_until(lambda: "est indisponible" in (tmp_path / "daemon.log").read_text(), 60,
                               "the outage line")
            time.sleep(30)  # the outage's length: the scenario, nothing is measured by it
            return pg.start
        run = burst_with_fault(pg.url, tmp_path, outage, n=3000, lanes=LANES, lease=600)
    _clean(run)
    assert "base est indisponible" in run.log and "base est de nouveau disponible" in run.log
    assert run.tally.duplicates == 0, run.tally  # it survived: every outcome it had was recorded afterwards


def test_relay_killed_10_s_charges_no_attempt_to_the_waiting_reminders(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'relay.db'}"
    run = burst_with_fault(url, tmp_path, lambda: lambda: None, n=3000, lanes=LANES,
                           relay=kill_relay_for(10))
    _clean(run)
    assert "relais SMTP 127.0.0.1:" in run.log
    # every reminder went out on its first attempt, those on the wire when the relay died too:
    # their connection was lost, then the relay could not be reached; the relay's failure
    assert run.attempts == {1: run.tally.seeded}, run.attempts


def _truncate_wal(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_daemon_started_on_a_full_disk_says_so_in_one_line_and_exits_2(tmp_path: Path):
    with small_tmpfs("16m") as disk:
        url = f"sqlite:///{disk / 'store.db'}"
        daemons.seed_burst(url, 20, datetime.now(timezone.utc))
        _truncate_wal(disk / "store.db")
        filler = fill(disk)
        with sink_process(tmp_path / "accepted.tsv") as port:
            r = subprocess.run(daemons.daemon_cmd(url, port, lanes=1), capture_output=True, text=True, timeout=120,
                               cwd=tmp_path, env=daemons.daemon_env())
        filler.unlink()
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    [line] = r.stderr.strip().splitlines()
    assert "disque plein" in line and str(disk) in line, line
    assert "vérifiez l'adresse" not in line


def test_a_daemon_whose_disk_fills_up_says_so_once_and_sends_everything_once_there_is_room(tmp_path: Path):
    n = 500
    with small_tmpfs("32m") as disk:
        db = disk / "store.db"
        url = f"sqlite:///{db}"
        due = datetime.now(timezone.utc) + timedelta(seconds=20)  # due once the disk is full
        keys = daemons.seed_burst(url, n, due)
        record = tmp_path / "accepted.tsv"
        log = tmp_path / "daemon.log"
        with sink_process(record) as port:
            daemon = daemons.start_daemon(url, port, log, lanes=LANES)
            try:
                daemons.wait_until(lambda: "démon " in log.read_text(), 60, "the daemon started", (daemon,))
                _truncate_wal(db)  # the log file holds no room a write could reuse
                filler = fill(disk)
                daemons.wait_until(lambda: "disque plein" in log.read_text(), 120, "the full disk reported", (daemon,))
                assert daemons.accepted(record) == 0  # nothing was sent that could not be recorded
                filler.unlink()
                daemons.wait_until(lambda: daemons.sent_rows(url) >= n, 300, "every reminder sent once there is room",
                                   (daemon,), every=0.25)
            finally:
                status = daemons.stop(daemon)
        tally = daemons.count(url, keys, record)
    text = log.read_text()
    assert status == 0, text
    assert "Traceback" not in text, text
    assert text.count("est indisponible") == 1 and text.count("de nouveau disponible") == 1, text
    assert tally.lost == 0 and tally.duplicates == 0 and tally.statuses == {"sent": n}, tally


def test_own_postgresql_server_is_really_ours(tmp_path: Path):
    # the outage tests stop this server, never the shared one: it listens on its own port
    with own_pg_server() as pg:
        assert pg.port != 5432 and pg.running()
        pg.stop()
        assert not pg.running()
        pg.start()
        assert pg.running()
    assert not os.path.exists(pg.root)
