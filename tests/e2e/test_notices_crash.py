"""SIGKILL during a burst of 10,000 change notices: none lost, duplicates at most one per lane.

The notices are made as in production: 10,000 learners baselined, a closure added to a copy of
the rule files, one scan. Real daemon processes (the real clock; hold-back 0 in the copy) send
them to the SMTP sink process, which records each accepted Message-ID before its 250.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.mail.notices import scan_notices
from cnam_calendar.rules.model import Learner
from cnam_calendar.service import academic_year, local_date
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries
from tests.conftest import CALENDARS
from tests.support.daemons import accepted, count, daemon_env, sent_rows, stop, wait_until
from tests.support.smtp_sink import sink_process

LANES = 4
N = 10_000
rng = random.Random(20261202)


def notice_keys(url: str) -> tuple[list[str], dict[str, int]]:
    store = open_store(url, migrate=False)
    try:
        rows = [d for d in list_deliveries(store) if d.key.startswith("notice/")]
    finally:
        store.close()
    statuses: dict[str, int] = {}
    for d in rows:
        statuses[d.status] = statuses.get(d.status, 0) + 1
    return [d.key for d in rows], statuses


def start(url: str, calendars: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(calendars), "daemon", "--db", url,
           "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--lanes", str(LANES), "--dispatch-every", "0.2",
           "--from", "rappels@cnam.test"]
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, cwd=log.parent, env=daemon_env(), stdout=out, stderr=subprocess.STDOUT)


def test_sigkill_in_the_middle_of_10000_notices_loses_none(tmp_path: Path) -> None:
    calendars = tmp_path / "calendars"
    shutil.copytree(CALENDARS, calendars)
    now = datetime.now(timezone.utc)
    year = academic_year(local_date(now))
    url = f"sqlite:///{tmp_path / 'notices.db'}"
    store = open_store(url)
    try:
        store.import_learners([Learner(f"N{i:05d}", f"n{i:05d}@example.org", "Camille", "Martin", "ipst-cnam", "31",
                                       "individuel") for i in range(N)])
        assert scan_notices(store, load_centres(calendars), now, year).baselined == N
        path = calendars / "ipst-cnam.toml"
        day = local_date(now) + timedelta(days=20)
        text = path.read_text()
        text = text.replace("[reminders]\n", "[reminders]\nnotice_holdback_minutes = 0\n", 1)
        closure = (f'{{ id = "burst", start = {day.isoformat()}, end = {day.isoformat()}, '
                   'label = "Fermeture exceptionnelle" }, ')
        text = text.replace(f"[years.{year}]\nclosures = [", f"[years.{year}]\nclosures = [{closure}", 1)
        path.write_text(text)
        assert scan_notices(store, load_centres(calendars), now, year).queued == N
    finally:
        store.close()
    keys, statuses = notice_keys(url)
    assert len(keys) == N and statuses == {"pending": N}
    record = tmp_path / "accepted.tsv"
    kill_at = rng.randrange(N // 20, N * 8 // 10)
    with sink_process(record) as port:
        first = start(url, calendars, port, tmp_path / "daemon-1.log")
        try:
            wait_until(lambda: accepted(record) >= kill_at, 300, f"{kill_at} messages accepted", (first,))
        finally:
            first.kill()
            first.wait()
        second = start(url, calendars, port, tmp_path / "daemon-2.log")
        try:
            wait_until(lambda: sent_rows(url, "notice/") >= N, 300, "every notice sent", (second,), every=0.25)
        finally:
            assert stop(second) == 0, (tmp_path / "daemon-2.log").read_text()
    tally = count(url, keys, record)
    assert tally.lost == 0, tally
    assert tally.sent_not_accepted == 0, tally
    assert tally.statuses == {"sent": N}, tally
    assert tally.duplicates <= LANES, tally
    for log in ("daemon-1.log", "daemon-2.log"):  # a long dispatch is expected: the scheduler's ticks say nothing
        assert "maximum number of running instances" not in (tmp_path / log).read_text(encoding="utf-8")
