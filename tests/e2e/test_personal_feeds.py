"""A learner's personal feed, end to end: import, token, a running server, a real client."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from tests.conftest import CALENDARS
from tests.support.server import run_command, running_server

ROSTER = """id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,training_start,lang
A001,alice@example.org,Alice,Martin,ipst-cnam,31,cpf,NFA031;NFP121,2026-10-22,2026-11-09,,fr
A002,bob@example.org,Bob,Durand,ipst-cnam,81,apprentissage,NFP121,2026-09-15,,2026-11-30,en
"""


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_command(cwd, CALENDARS, *args)


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
    assert triggers == ["-PT15H"]  # J-1 at 09:00; J-7 (6 Nov) would ring before the validation (9 Nov)
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


def test_personal_feed_validators_gzip_and_head(site: tuple[str, Path]) -> None:
    base, cwd = site
    url = token_url(cwd, base, "A001")
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"}, timeout=30)
    etag, last_modified = plain.headers["etag"], plain.headers["last-modified"]
    assert etag == '"' + hashlib.sha256(plain.content).hexdigest()[:40] + '"'  # strong: the body's hash
    cal = icalendar.Calendar.from_ical(plain.content)
    newest = max(e["LAST-MODIFIED"].dt for e in cal.walk("VEVENT"))
    assert last_modified == format_datetime(newest.astimezone(timezone.utc), usegmt=True)
    with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
        for _ in range(2):  # the second answer comes from the cache: the same
            assert client.get(url, headers={"If-None-Match": etag}, timeout=30).status_code == 304
            assert client.get(url, headers={"If-Modified-Since": last_modified}, timeout=30).status_code == 304
            assert client.get(url, headers={"If-None-Match": '"other"', "If-Modified-Since": last_modified},
                              timeout=30).status_code == 200
    with httpx.Client(headers={"Accept-Encoding": "gzip"}) as client:
        zipped = client.get(url, timeout=30)
        assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content
        gz_etag = zipped.headers["etag"]
        assert gz_etag != etag
        again = client.get(url, headers={"If-None-Match": gz_etag}, timeout=30)
        assert again.status_code == 304 and "content-encoding" not in again.headers
        assert client.get(url, headers={"If-None-Match": etag}, timeout=30).status_code == 200
    head = httpx.head(url, headers={"Accept-Encoding": "identity"}, timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert (head.headers["etag"], head.headers["content-length"]) == (etag, plain.headers["content-length"])


def _every_worker(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """Ask, one connection per request, until both workers have answered (at least 10 answers)."""
    answers: list[httpx.Response] = []
    while len(answers) < 10 or len({r.headers.get("x-worker-pid") for r in answers}) < 2:
        assert len(answers) < 300, "one worker answered every request"
        answers.append(client.get(url, headers={"Connection": "close", **(headers or {})}, timeout=30))
    return answers


def test_a_changed_learner_or_rule_file_changes_the_etag_in_every_worker(tmp_path: Path) -> None:
    calendars = tmp_path / "calendars"
    shutil.copytree(CALENDARS, calendars)
    roster = ("id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,"
              "training_start,lang\nC001,chloe@example.org,Chloé,Roux,ipst-cnam,31,individuel,{ues},2026-10-01,,,fr\n")
    run = [sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(calendars)]

    def cli_here(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*run, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)

    (tmp_path / "learners.csv").write_text(roster.format(ues="NFA031"), encoding="utf-8")
    assert cli_here("learners", "import", "learners.csv", "-q").returncode == 0
    with running_server(["--calendars", str(calendars)], cwd=tmp_path, extra=["--workers", "2"]) as base, \
            httpx.Client() as client:
        url = cli_here("learners", "issue-token", "C001", "--base-url", base).stdout.strip()
        first = _every_worker(client, url)
        etag = first[0].headers["etag"]
        assert {r.headers["etag"] for r in first} == {etag}
        assert {r.status_code for r in _every_worker(client, url, {"If-None-Match": etag})} == {304}

        # the learner's row changes: a new UE
        (tmp_path / "learners.csv").write_text(roster.format(ues="NFA031;NFP121"), encoding="utf-8")
        assert cli_here("learners", "import", "learners.csv", "-q").returncode == 0
        updated = _every_worker(client, url, {"If-None-Match": etag})
        assert {r.status_code for r in updated} == {200}
        assert all(b"NFP121" in r.content for r in updated)
        etag2 = updated[0].headers["etag"]
        assert etag2 != etag and {r.headers["etag"] for r in updated} == {etag2}

        # a rule file changes: the UE's title in the catalogue
        catalogue = calendars / "ipst-cnam.ues.csv"
        before = catalogue.stat().st_mtime_ns
        catalogue.write_text(catalogue.read_text(encoding="utf-8").replace(
            "Programmation avec Java : notions de base", "Java : les bases"), encoding="utf-8")
        os.utime(catalogue, ns=(before + 10**9, before + 10**9))  # a later time, whatever the clock's grain
        rebuilt = _every_worker(client, url, {"If-None-Match": etag2})
        assert {r.status_code for r in rebuilt} == {200}
        assert all(b"Java : les bases" in r.content for r in rebuilt)
        assert etag2 not in {r.headers["etag"] for r in rebuilt}

        # a new token: the old one is gone at once, in every worker
        new_url = cli_here("learners", "issue-token", "C001", "--base-url", base).stdout.strip()
        assert {r.status_code for r in _every_worker(client, url)} == {404}
        assert {r.status_code for r in _every_worker(client, new_url)} == {200}
