"""The server over real HTTP: a running uvicorn, a real client."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

import httpx
import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from tests.conftest import CALENDARS
from tests.support.server import running_server


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    out = tmp_path_factory.mktemp("out")
    with running_server(["--calendars", str(CALENDARS)], cwd=out) as url:
        yield url


def get(base: str, path: str, **kw) -> httpx.Response:
    return httpx.get(base + path, timeout=30, **kw)


def test_centre_feed_is_a_calendar_whatever_the_accept_header(base: str) -> None:
    for accept in (None, "text/html", "application/json", "*/*"):
        r = get(base, "/feeds/ipst-cnam/2026.ics", headers={"Accept": accept} if accept else {})
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/calendar; charset=utf-8"
        assert r.content.startswith(b"BEGIN:VCALENDAR\r\n")
    cal = icalendar.Calendar.from_ical(r.content)
    assert any(str(e["UID"]) == "semester-1.ipst-cnam.2026@cnam-calendar" for e in cal.walk("VEVENT"))
    IcsCalendarStream.calendar_from_ics(r.text)


def test_feed_with_ues_holds_exactly_those_ues(base: str) -> None:
    r = get(base, "/feeds/ipst-cnam/2026.ics", params=[("ue", "NFA031"), ("ue", "NFP121")])
    assert r.status_code == 200
    cal = icalendar.Calendar.from_ical(r.content)
    codes = {c for e in cal.walk("VEVENT") for c in e.categories if c.isupper() and any(ch.isdigit() for ch in c)}
    assert codes == {"NFA031", "NFP121"}


def test_ue_feed_and_language(base: str) -> None:
    r = get(base, "/feeds/ipst-cnam/2026/ue/NFA031.ics", params={"lang": "en"})
    assert r.status_code == 200
    summaries = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(r.content).walk("VEVENT")]
    assert any(s.startswith("Exam NFA031") for s in summaries)
    assert any(s == "Semester 1" for s in summaries)


def test_strong_etag_and_conditional_requests(base: str) -> None:
    r = get(base, "/feeds/ipst-cnam/2026.ics")
    etag, last_modified = r.headers["etag"], r.headers["last-modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert r.headers["cache-control"].startswith("public")
    again = get(base, "/feeds/ipst-cnam/2026.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert get(base, "/feeds/ipst-cnam/2026.ics", headers={"If-None-Match": '"other"'}).status_code == 200
    assert get(base, "/feeds/ipst-cnam/2026.ics", headers={"If-Modified-Since": last_modified}).status_code == 304
    older = format_datetime(datetime(2000, 1, 1, tzinfo=timezone.utc), usegmt=True)
    assert get(base, "/feeds/ipst-cnam/2026.ics", headers={"If-Modified-Since": older}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
    both = get(base, "/feeds/ipst-cnam/2026.ics", headers={"If-None-Match": '"other"', "If-Modified-Since": last_modified})
    assert both.status_code == 200


def test_head_has_the_headers_and_no_body(base: str) -> None:
    full = get(base, "/feeds/ipst-cnam/2026.ics")
    head = httpx.head(base + "/feeds/ipst-cnam/2026.ics", timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == full.headers["etag"]
    assert head.headers["content-length"] == full.headers["content-length"]


def test_gzip_only_when_asked(base: str) -> None:
    plain = get(base, "/feeds/ipst-cnam/2026.ics", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    with httpx.Client(headers={"Accept-Encoding": "gzip"}) as client:
        raw = client.get(base + "/feeds/ipst-cnam/2026.ics")
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.content == plain.content  # httpx decodes; the bytes are the same calendar
    assert raw.headers["etag"] != plain.headers["etag"]  # another representation, another strong tag
    assert "Accept-Encoding" in raw.headers["vary"]
    assert gzip.decompress(gzip.compress(plain.content)) == plain.content


@pytest.mark.parametrize("path", [
    "/feeds/ipst-cnam/2026.ics?lang=de",
    "/feeds/ipst-cnam/2026.ics?ue=NOPE99",
    "/?year=abcd",
    "/?centre=nowhere",
])
def test_bad_parameters_get_400_with_a_message(base: str, path: str) -> None:
    r = get(base, path)
    assert r.status_code == 400
    assert r.text.startswith("Requête invalide : ") and "attendu" in r.text


@pytest.mark.parametrize("path", [
    "/nothing-here", "/feeds/nowhere/2026.ics", "/feeds/ipst-cnam/20x6.ics", "/feeds/ipst-cnam/2026/ue/NOPE99.ics",
    "/overview/nowhere/2026", "/feeds/personal/" + "A" * 32 + ".ics",
])
def test_unknown_things_all_answer_the_same_404(base: str, path: str) -> None:
    reference = get(base, "/this/path/does/not/exist")
    r = get(base, path)
    assert (r.status_code, r.content, r.headers["content-type"]) == (
        404, reference.content, reference.headers["content-type"])


def test_overview_and_health(base: str) -> None:
    page = get(base, "/overview/ipst-cnam/2026")
    assert page.status_code == 200 and "Semestre 1" in page.text
    assert "/feeds/ipst-cnam/2026/ue/NFA031.ics" in page.text
    assert get(base, "/healthz").text == "ok\n"


def test_subscription_page_gives_links(base: str) -> None:
    r = get(base, "/", params=[("centre", "ipst-cnam"), ("year", "2026"), ("ue", "NFA031"), ("ue", "NFP121")])
    assert r.status_code == 200
    assert f'value="{base}/feeds/ipst-cnam/2026.ics?ue=NFA031&amp;ue=NFP121"' in r.text
    assert 'href="webcal://127.0.0.1' in r.text
    assert "calendar.google.com/calendar/render?cid=webcal" in r.text
    assert "<svg" in r.text  # the QR code


def test_post_is_not_a_500(base: str) -> None:
    r = httpx.post(base + "/feeds/ipst-cnam/2026.ics", timeout=30)
    assert r.status_code in (404, 405)


def test_no_500_on_odd_paths(base: str) -> None:
    for path in ["/feeds//2026.ics", "/feeds/ipst-cnam/.ics", "/%00", "/feeds/ipst-cnam/2026/ue/%2F.ics",
                 "/feeds/ipst-cnam/2026.ics?ue=", "/?year=99999999999999999999"]:
        assert get(base, path).status_code < 500, path


def test_a_per_ue_feed_is_served_without_any_prior_build(tmp_path: Path) -> None:
    """The server derives a UE's feed from calendars/ alone: it runs in an empty directory, no output/."""
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path) as url:
        r = httpx.get(url + "/feeds/ipst-cnam/2026/ue/NFA031.ics", timeout=30)
    assert r.status_code == 200
    uids = {str(e["UID"]) for e in icalendar.Calendar.from_ical(r.content).walk("VEVENT")}
    assert {"ue-NFA031-sessions.ipst-cnam.2026@cnam-calendar", "ue-NFA031-exam-winter.ipst-cnam.2026@cnam-calendar",
            "ue-NFA031-exam-june.ipst-cnam.2026@cnam-calendar"} <= uids
    assert not (tmp_path / "output").exists()


def test_several_workers_share_the_store(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    roster = tmp_path / "learners.csv"
    roster.write_text(
        "id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,"
        "training_start,lang\nW1,w1@example.org,Wanda,Petit,ipst-cnam,31,individuel,NFA031,2026-10-01,,,fr\n",
        encoding="utf-8")
    run = [sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS)]
    env = {**os.environ, "CNAM_CALENDAR_DB": str(tmp_path / "shared.db")}
    assert subprocess.run([*run, "learners", "import", str(roster), "-q"], env=env, cwd=tmp_path).returncode == 0
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path, env={**env}, extra=["--workers", "2"]) as url:
        token_url = subprocess.run([*run, "learners", "issue-token", "W1", "--base-url", url], env=env,
                                   capture_output=True, text=True, cwd=tmp_path).stdout.strip()
        pids, statuses = set(), set()
        with httpx.Client() as client:  # a new connection per request lands on either worker
            for _ in range(40):
                r = client.get(token_url, headers={"Connection": "close"}, timeout=30)
                statuses.add(r.status_code)
                pids.add(r.headers.get("x-worker-pid"))
        assert statuses == {200}
        assert len(pids - {None}) == 2, pids


def events(data: bytes) -> set[tuple[str, str, str, int]]:
    """Each event of a feed as a client keeps it: UID, start, title, sequence."""
    cal = icalendar.Calendar.from_ical(data)
    return {(str(e["UID"]), e["DTSTART"].to_ical().decode(), str(e["SUMMARY"]), int(e.get("SEQUENCE", 0)))
            for e in cal.walk("VEVENT")}


def test_a_rule_file_broken_while_serving_keeps_the_last_good_feeds(tmp_path: Path) -> None:
    """A typo saved in the middle of an edit: the feeds go on as they were (no 400, no 500), one log line says why."""
    import shutil

    calendars = tmp_path / "calendars"
    shutil.copytree(CALENDARS, calendars)
    rules, catalogue = calendars / "ipst-cnam.toml", calendars / "ipst-cnam.ues.csv"
    log = tmp_path / "serve.log"
    with running_server(["--calendars", str(calendars)], cwd=tmp_path, log=log) as url:
        paths = ["/feeds/ipst-cnam/2026.ics", "/feeds/ipst-cnam.ics", "/feeds/ipst-cnam/2026/ue/NFA031.ics",
                 "/", "/overview/ipst-cnam/2026"]
        before = {p: get(url, p) for p in paths}
        assert all(r.status_code == 200 for r in before.values())
        good = rules.read_text(encoding="utf-8")
        rules.write_text(good.replace("[years.2026]", "[years.2026\nclosures = ["), encoding="utf-8")
        catalogue.write_text(catalogue.read_text(encoding="utf-8") + "NFA999;sans colonnes\n", encoding="utf-8")
        for _ in range(3):
            for p in paths:
                r = get(url, p)
                assert r.status_code == 200, (p, r.status_code, r.text[:200])
                if p.endswith(".ics"):  # the last good version: the same events (only the stamps follow the edit)
                    assert events(r.content) == events(before[p].content) and events(r.content)
        rules.write_text(good.replace("[years.2026]\n", '[years.2026]\noverrides."add-drop-close" = '
                                                       '{ date = 2027-02-24, reason = "test" }\n', 1),
                         encoding="utf-8")
        shutil.copy(CALENDARS / "ipst-cnam.ues.csv", catalogue)
        fixed = get(url, "/feeds/ipst-cnam/2026.ics")
        assert fixed.status_code == 200 and b"20270224" in fixed.content  # the fixed file is read at once
    text = log.read_text(encoding="utf-8")
    assert "Traceback" not in text
    assert text.count("fichier de règles illisible, les flux continuent avec sa dernière version lisible") == 2
    assert "ipst-cnam.toml" in text and "ipst-cnam.ues.csv" in text


def test_a_catalogue_unreadable_from_the_start_is_a_503_that_clients_retry(tmp_path: Path) -> None:
    import shutil

    calendars = tmp_path / "calendars"
    shutil.copytree(CALENDARS, calendars)
    catalogue = calendars / "ipst-cnam.ues.csv"
    catalogue.write_text(catalogue.read_text(encoding="utf-8") + "NFA999;sans colonnes\n", encoding="utf-8")
    log = tmp_path / "serve.log"
    with running_server(["--calendars", str(calendars)], cwd=tmp_path, log=log) as url:
        r = get(url, "/feeds/ipst-cnam/2026/ue/NFA031.ics")
        assert r.status_code == 503 and r.headers["retry-after"] == "300"
        assert "momentanément indisponible" in r.text and str(tmp_path) not in r.text  # no server path in public
        assert get(url, "/feeds/cnam-occitanie/2026.ics").status_code == 200  # the other centre is served
    text = log.read_text(encoding="utf-8")
    assert "Traceback" not in text and "ipst-cnam.ues.csv" in text


def test_the_access_log_names_routes_never_tokens(tmp_path: Path) -> None:
    """`serve --access-log`: one line per request, by route template; the secret in the URL never shows."""
    from tests.conftest import invoke

    roster = tmp_path / "learners.csv"
    roster.write_text("id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,"
                      "training_start,lang\nA001,a@example.org,Alice,Martin,ipst-cnam,31,individuel,NFA031,,,,fr\n",
                      encoding="utf-8")
    db = str(tmp_path / "cnam-calendar.db")
    assert invoke("--calendars", str(CALENDARS), "learners", "import", str(roster), "--db", db, "-q").exit_code == 0
    from cnam_calendar.store.database import open_store

    store = open_store(db)
    token = store.issue_token("A001")
    key = store.learner_key("A001")
    store.close()
    log = tmp_path / "serve.log"
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path, log=log, extra=["--access-log"]) as url:
        agent = {"User-Agent": "DAVx5/4.4.3.2-ose (2024/10/01; dav4jvm; okhttp/4.12.0) Android/14\x07"}
        assert get(url, f"/feeds/personal/{token}.ics", headers=agent).status_code == 200
        assert get(url, f"/me/{token}").status_code == 200
        assert get(url, f"/unsubscribe/{key}").status_code == 200
        assert get(url, "/feeds/ipst-cnam.ics?ue=NFA031").status_code == 200
        assert get(url, "/nothing-here").status_code == 404
    text = log.read_text(encoding="utf-8")
    assert "GET /feeds/personal/{token}.ics → 200 en " in text
    assert "(DAVx5/4.4.3.2-ose (2024/10/01; dav4jvm; okhttp/4.12.0) Android/14)" in text  # control character gone
    assert "GET /me/{token} → 200" in text and "GET /unsubscribe/{key} → 200" in text
    assert "GET /feeds/{centre}.ics → 200" in text and "→ 404" in text
    assert token not in text and key not in text and "NFA031" not in text
    lines = [line for line in text.splitlines() if "→ " in line and "/healthz" not in line]  # readiness polls aside
    assert len(lines) == 5  # one line per request
