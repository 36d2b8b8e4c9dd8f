"""The deployment, tested (issue 17, point 6): the real nginx with deploy/nginx/cnam-calendar.conf in front
of a running `serve`, over TLS (a self-signed certificate) and plain http: feeds, 304s, HEAD, gzip left
to the app, the pages, the token 404, the headers passed through; and the systemd units verified."""

from __future__ import annotations

import gzip
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import CALENDARS, REPO
from tests.support.ci import skip_or_fail
from tests.support.nginx import nginx_binary, running_nginx
from tests.support.server import run_command, running_server

PUBLIC = "https://calendrier.example.org"
PASSED = ("etag", "last-modified", "cache-control", "referrer-policy", "content-security-policy", "content-type",
          "content-disposition", "vary", "x-content-type-options", "x-frame-options")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(direct serve URL, nginx, personal feed path) with one learner and a token."""
    if nginx_binary() is None or shutil.which("openssl") is None:
        skip_or_fail("nginx ou openssl absent (apt-get install nginx openssl ; .ci/run l'installe)")
    folder = tmp_path_factory.mktemp("nginx-site")
    db = folder / "store.db"
    roster = folder / "roster.csv"
    assert run_command(folder, CALENDARS, "learners", "generate", "--count", "3", "-o", str(roster)).returncode == 0
    assert run_command(folder, CALENDARS, "learners", "--db", str(db), "import", str(roster), "-q").returncode == 0
    learner = roster.read_text(encoding="utf-8").splitlines()[1].split(",")[0]
    link = run_command(folder, CALENDARS, "learners", "--db", str(db), "issue-token", learner,
                       "--base-url", PUBLIC).stdout.strip()
    with running_server(("--calendars", str(CALENDARS)), cwd=folder, extra=["--db", str(db), "--base-url", PUBLIC]) \
            as direct:
        port = int(direct.rsplit(":", 1)[1])
        with running_nginx(port, folder) as nginx:
            yield direct, nginx, link.removeprefix(PUBLIC)


def through(nginx, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=nginx.https, verify=ssl.create_default_context(cafile=str(nginx.cert)), **kwargs)


@pytest.mark.parametrize("path", ["/feeds/ipst-cnam/2026.ics", "/feeds/ipst-cnam/2026.ics?ue=NFA031&lang=en",
                                  "/feeds/cnam-occitanie/2026/ue/NFA031.ics", "personal"])
def test_feeds_through_nginx_are_the_app_bytes_and_headers(site, path):
    direct, nginx, personal = site
    path = personal if path == "personal" else path
    mine = httpx.get(direct + path)
    with through(nginx) as client:
        got = client.get(path)
    assert got.status_code == mine.status_code == 200
    assert got.content == mine.content and got.content.startswith(b"BEGIN:VCALENDAR")
    for name in PASSED:
        assert got.headers.get(name) == mine.headers.get(name), name
    assert got.headers["etag"].startswith('"')  # strong: nginx did not weaken it
    assert got.headers["strict-transport-security"] == "max-age=31536000"
    assert "server" not in got.headers or "nginx/" not in got.headers["server"]  # server_tokens off


def test_personal_feed_headers_say_no_referrer(site):
    _, nginx, personal = site
    with through(nginx) as client:
        r = client.get(personal)
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"


@pytest.mark.parametrize("path", ["/feeds/ipst-cnam/2026.ics", "personal"])
def test_304_on_if_none_match_and_if_modified_since(site, path):
    _, nginx, personal = site
    path = personal if path == "personal" else path
    with through(nginx) as client:
        first = client.get(path)
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        since = client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]})
        stale = client.get(path, headers={"If-None-Match": '"not-this-one"'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    assert since.status_code == 304
    assert stale.status_code == 200 and stale.content == first.content


def test_gzip_is_the_apps_own_with_its_etag(site):
    direct, nginx, _ = site
    path = "/feeds/ipst-cnam/2026.ics"
    mine = httpx.get(direct + path, headers={"Accept-Encoding": "gzip"})
    with through(nginx) as client:
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as zipped:
            raw = b"".join(zipped.iter_raw())
            headers = zipped.headers
        again = client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]})
    assert headers["content-encoding"] == "gzip" and headers["etag"] == mine.headers["etag"]
    assert headers["etag"] != plain.headers["etag"] and headers["etag"].endswith('-gz"')
    assert gzip.decompress(raw) == plain.content
    assert again.status_code == 304


def test_head_has_the_headers_and_no_body(site):
    _, nginx, personal = site
    with through(nginx, headers={"Accept-Encoding": "identity"}) as client:
        for path in ("/feeds/ipst-cnam/2026.ics", personal):
            get = client.get(path)
            head = client.head(path)
            assert head.status_code == 200 and head.content == b""
            assert head.headers["etag"] == get.headers["etag"]
            assert head.headers["content-length"] == str(len(get.content))


def test_pages_through_nginx(site):
    _, nginx, _ = site
    with through(nginx) as client:
        page = client.get("/?centre=ipst-cnam&year=2026&ue=NFA031")
        overview = client.get("/overview/ipst-cnam/2026")
        health = client.get("/healthz")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "webcal://calendrier.example.org/feeds/ipst-cnam/2026.ics?ue=NFA031" in page.text
    assert "https://calendrier.example.org/feeds/ipst-cnam/2026.ics?ue=NFA031" in page.text
    assert overview.status_code == 200 and "Ipst-Cnam" in overview.text
    assert health.status_code == 200


def test_unknown_or_rotated_token_is_the_same_404(site):
    _, nginx, personal = site
    with through(nginx) as client:
        unknown = client.get("/feeds/personal/" + "A" * 43 + ".ics")
        nothing = client.get("/nothing-here")
    assert unknown.status_code == nothing.status_code == 404
    assert unknown.content == nothing.content
    assert personal not in unknown.text


def test_plain_http_serves_feeds_without_redirect_and_sends_pages_to_https(site):
    _, nginx, personal = site
    with httpx.Client(base_url=nginx.http) as client:
        feed = client.get("/feeds/ipst-cnam/2026.ics")  # a webcal:// link read over http
        mine = client.get(personal)
        page = client.get("/?centre=ipst-cnam&year=2026&ue=NFA031")
    assert feed.status_code == 200 and feed.content.startswith(b"BEGIN:VCALENDAR")
    assert mine.status_code == 200
    assert page.status_code == 301 and page.headers["location"].startswith("https://")


def test_nginx_logged_no_error(site):
    _, nginx, _ = site
    with through(nginx) as client:
        assert client.get("/feeds/ipst-cnam/2026.ics").status_code == 200
    errors = [line for line in nginx.error_log.read_text().splitlines() if "[error]" in line or "[crit]" in line]
    assert errors == []


def test_the_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze absent")
    program = Path(sys.executable).with_name("cnam-calendar")
    units = sorted((REPO / "deploy" / "systemd").glob("*.service"))
    assert [u.name for u in units] == ["cnam-calendar-daemon.service", "cnam-calendar-serve.service"]
    for unit in units:
        text = unit.read_text(encoding="utf-8")
        for needed in ("User=cnam-calendar", "Restart=on-failure", "RestartPreventExitStatus=2", "NoNewPrivileges=yes",
                       "ProtectSystem=strict", "CNAM_CALENDAR_CONFIG=/etc/cnam-calendar/cnam-calendar.toml"):
            assert needed in text, (unit.name, needed)
        (tmp_path / unit.name).write_text(text.replace("/opt/cnam-calendar/venv/bin/cnam-calendar", str(program)))
    r = subprocess.run([analyze, "verify", *(str(tmp_path / u.name) for u in units)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
