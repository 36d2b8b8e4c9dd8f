"""A learner's personal feed, end to end: import, token, a running server, a real client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from tests.conftest import CALENDARS
from tests.support.server import running_server

ROSTER = """id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,training_start,lang
A001,alice@example.org,Alice,Martin,ipst-cnam,31,cpf,NFA031;NFP121,2026-10-22,2026-11-09,,fr
A002,bob@example.org,Bob,Durand,ipst-cnam,81,apprentissage,NFP121,2026-09-15,,2026-11-30,en
"""


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    cwd = tmp_path_factory.mktemp("site")
    (cwd / "learners.csv").write_text(ROSTER, encoding="utf-8")
    assert cli(cwd, "learners", "import", "learners.csv", "--quiet").returncode == 0
    with running_server(["--calendars", str(CALENDARS)], cwd=cwd) as base:
        yield base, cwd


def token_url(cwd: Path, base: str, learner: str) -> str:
    r = cli(cwd, "learners", "issue-token", learner, "--base-url", base)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_personal_feed_holds_own_deadlines_ues_and_alarms(site: tuple[str, Path]) -> None:
    base, cwd = site
    url = token_url(cwd, base, "A001")
    assert url.startswith(base + "/feeds/personal/") and url.endswith(".ics")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 22  # ≥ 128 bits in URL-safe base64
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "text/calendar; charset=utf-8"
    assert r.headers["cache-control"].startswith("private")
    IcsCalendarStream.calendar_from_ics(r.text)
    cal = icalendar.Calendar.from_ical(r.content)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    cpf = next(e for uid, e in events.items() if uid.startswith("cpf-confirmation."))
    assert cpf["DTSTART"].dt.isoformat() == "2026-11-13"  # 9 Nov + 3 jours ouvrés over the Armistice
    assert "Armistice" in str(cpf["DESCRIPTION"])
    assert "alice" not in str(cpf["UID"]).lower() and "A001" not in str(cpf["UID"])  # opaque learner key
    withdrawal = next(e for uid, e in events.items() if uid.startswith("withdrawal."))
    assert withdrawal["DTSTART"].dt.isoformat() == "2026-11-02"
    triggers = sorted(str(a["TRIGGER"].to_ical().decode()) for a in cpf.walk("VALARM"))
    assert triggers == ["-P6DT15H", "-PT15H"]  # J-7 and J-1 at 09:00
    codes = {c for e in events.values() for c in e.categories if c[:3].isupper() and c[-3:].isdigit()}
    assert codes == {"NFA031", "NFP121"}
    assert "semester-1.ipst-cnam.2026@cnam-calendar" in events
    exams = [e for uid, e in events.items() if uid.startswith("ue-NFA031-exam")]
    assert exams and all(len(list(e.walk("VALARM"))) == 2 for e in exams)  # J-2 and J-1


def test_alarms_can_be_turned_off_and_language_follows_the_learner(site: tuple[str, Path]) -> None:
    base, cwd = site
    url = token_url(cwd, base, "A002")
    quiet = httpx.get(url, params={"alarms": "0"}, timeout=30)
    assert quiet.status_code == 200 and b"BEGIN:VALARM" not in quiet.content
    loud = httpx.get(url, timeout=30)
    assert b"BEGIN:VALARM" in loud.content
    cal = icalendar.Calendar.from_ical(loud.content)
    summaries = {str(e["SUMMARY"]) for e in cal.walk("VEVENT")}
    assert "Semester 1" in summaries  # lang=en
    contract = next(e for e in cal.walk("VEVENT") if str(e["UID"]).startswith("apprenticeship-contract."))
    assert contract["DTSTART"].dt.isoformat() == "2027-02-28"  # 30 Nov + 3 months, clipped
    assert httpx.get(url, params={"alarms": "maybe"}, timeout=30).status_code == 400


def test_rotated_token_answers_like_any_unknown_path(site: tuple[str, Path]) -> None:
    base, cwd = site
    old = token_url(cwd, base, "A001")
    assert httpx.get(old, timeout=30).status_code == 200
    new = token_url(cwd, base, "A001")
    assert new != old
    gone, unknown = httpx.get(old, timeout=30), httpx.get(base + "/no/such/path", timeout=30)
    assert (gone.status_code, gone.content, gone.headers["content-type"]) == (
        404, unknown.content, unknown.headers["content-type"])
    assert httpx.get(new, timeout=30).status_code == 200


def test_personal_feed_conditional_request(site: tuple[str, Path]) -> None:
    base, cwd = site
    url = token_url(cwd, base, "A002")
    first = httpx.get(url, timeout=30)
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]}, timeout=30)
    assert again.status_code == 304


def test_learners_show_lists_deadlines_with_explanations(site: tuple[str, Path]) -> None:
    _, cwd = site
    r = cli(cwd, "learners", "show", "A001", "--year", "2026", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    ids = [d["id"] for d in data["deadlines"]]
    assert {"cpf-confirmation", "withdrawal", "cpf-latest-validation-s2"} <= set(ids)
    assert all(d["explanation"] for d in data["deadlines"])
    text = cli(cwd, "learners", "show", "A001", "--year", "2026")
    assert "Confirmation CPF" in text.stdout
    missing = cli(cwd, "learners", "show", "NOPE")
    assert missing.returncode == 2 and "NOPE" in missing.stderr and "Traceback" not in missing.stderr
