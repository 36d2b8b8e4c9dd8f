"""The staff console over real HTTP to a running `cnam-calendar serve`, accounts made with `cnam-calendar staff`.

The server trusts the proxy header ``X-Remote-User`` from 127.0.0.1 only; requests from an
untrusted address leave from 127.0.0.2 (Linux routes all of 127.0.0.0/8 to the loopback).
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CALENDARS
from tests.support.server import running_server

PASSWORD = "une phrase de passe assez longue"
HEADER = "X-Remote-User"
ACCOUNTS = (  # e-mail, centre, role, local password?
    ("editrice@example.org", "ipst-cnam", "editor", True),
    ("lecteur@example.org", "ipst-cnam", "viewer", True),
    ("occitanie@example.org", "cnam-occitanie", "editor", True),
    ("bloque@example.org", "ipst-cnam", "viewer", True),
    ("partant@example.org", "ipst-cnam", "viewer", True),
    ("cas@example.org", "cnam-occitanie", "viewer", False),
)


def staff(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), "staff", *args],
                          cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("admin")
    subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "init"], cwd=cwd, check=True, capture_output=True,
                   timeout=120)  # the operator creates the store first: staff commands create none
    for email, centre, role, local in ACCOUNTS:
        args = ["add", email, "--centre", centre, "--role", role]
        done = staff(cwd, *args, "--password-stdin", stdin=PASSWORD + "\n") if local else \
            staff(cwd, *args, "--no-password")
        assert done.returncode == 0, done.stderr
    return cwd


@pytest.fixture(scope="module")
def base(workdir: Path) -> Iterator[str]:
    extra = ["--admin-proxy-header", HEADER, "--admin-trusted-proxy", "127.0.0.1/32"]
    with running_server(["--calendars", str(CALENDARS)], cwd=workdir, extra=extra) as url:
        yield url


def client(base: str, local_address: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(base_url=base, transport=httpx.HTTPTransport(local_address=local_address), timeout=60)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(c: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    form = c.get("/admin/connexion")
    assert form.status_code == 200
    return c.post("/admin/connexion", data={"csrf": csrf_of(form.text), "email": email, "password": password,
                                            "suite": "/admin"})


def centres_listed(html: str) -> set[str]:
    return set(re.findall(r'<li data-centre="([^"]+)"', html))


def test_an_anonymous_request_is_sent_to_the_sign_in(base: str) -> None:
    with client(base) as c:
        for path in ("/admin", "/admin/ipst-cnam/2026", "/admin/journal"):
            r = c.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/admin/connexion")
        assert c.get("/admin/ipst-cnam/2026").headers["location"] == "/admin/connexion?suite=%2Fadmin%2Fipst-cnam%2F2026"
        page = c.get("/admin/connexion")
        assert page.status_code == 200 and "<h1>Connexion</h1>" in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]


def test_a_staff_member_signs_in_and_sees_only_their_centres(base: str) -> None:
    with client(base) as c:
        r = sign_in(c, "editrice@example.org")
        assert r.status_code == 303 and r.headers["location"] == "/admin"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
        assert "Secure" not in cookie  # plain http, no proxy saying otherwise
        home = c.get("/admin")
        assert home.status_code == 200 and centres_listed(home.text) == {"ipst-cnam"}
        assert "editrice@example.org" in home.text
        year = c.get("/admin/ipst-cnam/2026")
        assert year.status_code == 200
        assert 'id="problems"' in year.text and 'id="catalogue"' in year.text and 'data-ue="NFA031"' in year.text
        assert '<details id="ev-cpf-latest-validation-s1"' in year.text
        assert "Dernier jour ouvré avant le début : vendredi 9 octobre 2026." in year.text
        assert 'data-month="2026-09"' in year.text  # the year at a glance itself
        assert c.get("/admin/cnam-occitanie/2026").status_code == 404  # not one of hers: like an unknown page
        assert c.get("/admin/nowhere/2026").status_code == 404
        assert c.get("/admin/ipst-cnam/20x6").status_code == 404


def test_a_viewer_sees_the_year_without_the_editor_controls(base: str) -> None:
    with client(base) as editor, client(base) as viewer:
        sign_in(editor, "editrice@example.org")
        sign_in(viewer, "lecteur@example.org")
        as_editor = editor.get("/admin/ipst-cnam/2026").text
        as_viewer = viewer.get("/admin/ipst-cnam/2026").text
        assert 'id="editor-tools"' in as_editor and 'id="role">éditeur<' in as_editor
        assert 'id="editor-tools"' not in as_viewer and 'id="role">lecteur<' in as_viewer
        assert 'data-ue="NFA031"' in as_viewer  # the rest is the same


def test_a_form_without_its_csrf_token_gets_403(base: str) -> None:
    with client(base) as c:
        form = c.get("/admin/connexion")
        token = csrf_of(form.text)
        fields = {"email": "editrice@example.org", "password": PASSWORD}
        assert c.post("/admin/connexion", data=fields).status_code == 403
        assert c.post("/admin/connexion", data={**fields, "csrf": "0" * 64}).status_code == 403
        with client(base) as other:  # a token of another session is no good either
            assert other.post("/admin/connexion", data={**fields, "csrf": token}).status_code == 403
        assert c.post("/admin/connexion", data={**fields, "csrf": token}).status_code == 303
        # signed in, the token changed (no fixation): the old one does not sign out
        assert c.post("/admin/deconnexion", data={"csrf": token}).status_code == 403
        assert c.post("/admin/deconnexion", data={}).status_code == 403
        out = c.post("/admin/deconnexion", data={"csrf": csrf_of(c.get("/admin").text)})
        assert out.status_code == 303 and out.headers["location"] == "/admin/connexion"
        assert c.get("/admin").status_code == 303


def test_the_proxy_header_is_ignored_from_an_untrusted_address_and_signs_in_from_a_trusted_one(base: str) -> None:
    with client(base, "127.0.0.2") as outsider:
        r = outsider.get("/admin", headers={HEADER: "cas@example.org"})
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/connexion")
    with client(base) as proxy:
        r = proxy.get("/admin", headers={HEADER: "cas@example.org", "X-Forwarded-Proto": "https",
                                         "X-Forwarded-For": "203.0.113.5"})
        assert r.status_code == 200 and centres_listed(r.text) == {"cnam-occitanie"}
        assert "Secure" in r.headers["set-cookie"]  # the browser speaks https to the proxy
        unknown = proxy.get("/admin", headers={HEADER: "inconnu@example.org"})
        assert unknown.status_code == 403 and "inconnu@example.org" in unknown.text


def test_sign_ins_are_rate_limited_after_five_failures_even_with_the_right_password(base: str) -> None:
    with client(base) as c:
        for _ in range(5):
            r = sign_in(c, "bloque@example.org", "pas le bon mot de passe")
            assert r.status_code == 401 and "Adresse ou mot de passe incorrect." in r.text
        r = sign_in(c, "bloque@example.org")
        assert r.status_code == 429
        assert "Trop de tentatives de connexion manquées" in r.text
        assert 0 < int(r.headers["retry-after"]) <= 15 * 60
        assert c.get("/admin").status_code == 303  # still not signed in


def test_a_removed_account_is_signed_out_at_its_next_request(base: str, workdir: Path) -> None:
    with client(base) as c:
        assert sign_in(c, "partant@example.org").status_code == 303
        assert c.get("/admin").status_code == 200
        done = staff(workdir, "remove", "partant@example.org")
        assert done.returncode == 0, done.stderr
        assert c.get("/admin").status_code == 303


def test_the_journal_lists_sign_ins_and_staff_changes(base: str, workdir: Path) -> None:
    with client(base) as c:
        sign_in(c, "editrice@example.org")
        page = c.get("/admin/journal")
        assert page.status_code == 200
        rows = re.findall(r'<tr data-action="([^"]+)"><td>[^<]*</td><td>([^<]*)</td>', page.text)
        assert ("sign-in", "editrice@example.org") in rows
        assert ("staff-add", "cli:" + run_user(workdir)) in rows  # the accounts of her centre
        assert not any(who == "occitanie@example.org" for _, who in rows)  # nobody else's sign-ins
    printed = staff(workdir, "journal", "--limit", "500")
    assert printed.returncode == 0
    assert re.search(r"editrice@example\.org connexion : depuis 127\.0\.0\.1$", printed.stdout, re.M)
    assert re.search(r"cas@example\.org connexion par le mandataire : depuis 203\.0\.113\.5$", printed.stdout, re.M)
    assert "connexion par le mandataire" in printed.stdout and "connexion refusée" in printed.stdout
    assert "compte : rôle donné [ipst-cnam] : editrice@example.org : éditeur" in printed.stdout


def run_user(cwd: Path) -> str:
    """Return the system user the journal names for the CLI here."""
    return subprocess.run([sys.executable, "-c", "import getpass; print(getpass.getuser())"], cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_subscription_page_and_the_feeds_are_untouched(base: str) -> None:
    with client(base) as c:
        assert c.get("/").status_code == 200
        assert c.get("/feeds/ipst-cnam/2026.ics").status_code == 200


def test_the_year_shows_the_problems_check_finds_word_for_word(tmp_path: Path, calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.toml": lambda t: t.replace("per_ects = 8.0 ", "per_ects = 12.0")}).resolve()
    cwd = tmp_path / "srv"
    cwd.mkdir()
    subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "init"], cwd=cwd, check=True, capture_output=True,
                   timeout=120)
    assert subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(calendars), "staff", "add",
                           "editrice@example.org", "--centre", "ipst-cnam", "--role", "viewer", "--password-stdin"],
                          cwd=cwd, input=PASSWORD + "\n", capture_output=True, text=True).returncode == 0
    check = subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(calendars), "check",
                            "--centre", "ipst-cnam"], cwd=cwd, capture_output=True, text=True)
    assert check.returncode == 1
    expected = [line.removeprefix("Problème : ") for line in check.stdout.splitlines()
                if line.startswith("Problème : ") and "2026-2027" in line]
    assert len(expected) > 10
    with running_server(["--calendars", str(calendars)], cwd=cwd) as url, client(url) as c:
        sign_in(c, "editrice@example.org")
        page = c.get("/admin/ipst-cnam/2026").text
    section = page.split('id="problems"', 1)[1].split("</section>", 1)[0]
    shown = [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", section)]
    assert shown == expected


def test_an_unreadable_catalogue_is_a_problem_of_the_year_not_an_error_page(tmp_path: Path, calendars_copy) -> None:
    calendars = calendars_copy({"ipst-cnam.ues.csv": lambda t: t.replace("notions de base,6,S1", "notions de base,6,S9")
                                }).resolve()
    cwd = tmp_path / "srv"
    cwd.mkdir()
    subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "init"], cwd=cwd, check=True, capture_output=True,
                   timeout=120)
    done = staff(cwd, "add", "editrice@example.org", "--centre", "ipst-cnam", "--role", "viewer", "--no-password")
    assert done.returncode == 0, done.stderr  # (checked against the repository's calendars: the same centres)
    with running_server(["--calendars", str(calendars)], cwd=cwd,
                        extra=["--admin-proxy-header", HEADER, "--admin-trusted-proxy", "127.0.0.1"]) as url, \
            client(url) as c:
        page = c.get("/admin/ipst-cnam/2026", headers={HEADER: "editrice@example.org"})
    assert page.status_code == 200
    section = html.unescape(page.text.split('id="problems"', 1)[1].split("</section>", 1)[0])
    assert "ipst-cnam.ues.csv:2" in section and "S9" in section
    assert "Le catalogue est vide ou illisible" in page.text and 'data-month="2026-09"' in page.text
