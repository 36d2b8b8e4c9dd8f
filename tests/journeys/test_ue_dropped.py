"""Journey: a learner drops a UE in a re-imported roster; their reminders and their feed follow.

Real commands throughout: `learners import`, `reminders plan`, `learners issue-token` (the CLI as
installed, in process with a clock), then `cnam-calendar serve` in a subprocess, read over HTTP.
Camille (Ipst-Cnam) takes NFA031 (S1: winter session from Mon 18 Jan 2027, June from Tue 1 June) and
NFA035 (annual: June, then September from Wed 1 Sept 2027); she drops NFA031 on 1 December 2026.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import icalendar

from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries
from tests.conftest import CALENDARS
from tests.support.server import running_server

PARIS = ZoneInfo("Europe/Paris")
HEADER = "id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,training_start,lang\n"
BEFORE = HEADER + "C1,camille@example.org,Camille,Martin,ipst-cnam,31,individuel,NFA031;NFA035,,,,fr\n"
AFTER = HEADER + "C1,camille@example.org,Camille,Martin,ipst-cnam,31,individuel,NFA035,,,,fr\n"
EXAMS_BEFORE = {  # exam event → its first day (J-2 and J-1 are counted back from it)
    "ue-NFA031-exam-winter": "2027-01-18",
    "ue-NFA031-exam-june": "2027-06-01",
    "ue-NFA035-exam-june": "2027-06-01",
    "ue-NFA035-exam-september": "2027-09-01",
}


def exam_rows(db: Path) -> dict[tuple[str, str, str], str]:
    store = open_store(f"sqlite:///{db}")
    try:
        out = {}
        for d in list_deliveries(store):
            if d.key.startswith("notice/"):
                continue  # the change notice of the dropped UE (tests/e2e/test_notices_daemon.py)
            learner, uid, offset, target = d.key.split("/")
            if uid.startswith("ue-"):
                out[(uid.split(".")[0], offset, target)] = d.status
        return out
    finally:
        store.close()


def feed_uids(url: str) -> set[str]:
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200, r.text
    return {str(e["UID"]) for e in icalendar.Calendar.from_ical(r.content).walk("VEVENT")}


def ue_events(uids: set[str]) -> set[str]:
    return {u.split(".")[0] for u in uids if u.startswith("ue-")}


def test_a_dropped_ue_leaves_the_reminders_and_the_feed(run_cli, tmp_path: Path) -> None:
    db = tmp_path / "cnam.db"
    env = {"CNAM_CALENDAR_DB": str(db)}
    roster = tmp_path / "learners.csv"
    november = datetime(2026, 11, 2, 10, 0, tzinfo=PARIS)
    december = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)

    def cli(*args: str, clock: datetime):
        result = run_cli("--calendars", str(CALENDARS), *args, clock=clock, env=env)
        assert result.exit_code == 0, result.output
        return result

    roster.write_text(BEFORE, encoding="utf-8")
    cli("learners", "import", str(roster), "--quiet", clock=november)
    cli("reminders", "plan", clock=november)
    assert exam_rows(db) == {(event, offset, day): "pending" for event, day in EXAMS_BEFORE.items()
                             for offset in ("J-2", "J-1")}
    url = cli("learners", "issue-token", "C1", "--base-url", "http://feeds.test", clock=november).stdout.strip()
    path = url.removeprefix("http://feeds.test")
    assert path.startswith("/feeds/personal/") and path.endswith(".ics")

    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path, env=env) as base:
        assert ue_events(feed_uids(base + path)) == {
            "ue-NFA031-sessions", "ue-NFA031-exam-winter", "ue-NFA031-exam-june",
            "ue-NFA035-exam-june", "ue-NFA035-exam-september"}

        roster.write_text(AFTER, encoding="utf-8")
        cli("learners", "import", str(roster), "--quiet", clock=december)
        planned = cli("reminders", "plan", clock=december)
        assert "4 annulés" in planned.stderr
        assert "avis de changement : 1 prévu," in planned.stderr  # the learner hears of it, once
        assert exam_rows(db) == {
            **{("ue-NFA031-exam-winter", o, "2027-01-18"): "cancelled" for o in ("J-2", "J-1")},
            **{("ue-NFA031-exam-june", o, "2027-06-01"): "cancelled" for o in ("J-2", "J-1")},
            **{("ue-NFA035-exam-june", o, "2027-06-01"): "pending" for o in ("J-2", "J-1")},
            **{("ue-NFA035-exam-september", o, "2027-09-01"): "pending" for o in ("J-2", "J-1")},
        }
        # the same URL, at once: the feed no longer holds NFA031, the rest is unchanged
        after = feed_uids(base + path)
        assert ue_events(after) == {"ue-NFA035-exam-june", "ue-NFA035-exam-september"}
        assert "semester-1.ipst-cnam.2026@cnam-calendar" in after
