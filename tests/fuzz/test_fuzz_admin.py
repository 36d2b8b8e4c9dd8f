"""The staff console of a running `serve` hit with odd sign-in forms, cookies and proxy headers.

Properties: every answer is below 500; a sign-in form succeeds (303) only with the account's password
and a valid CSRF token; a proxy header that names no account never opens the console; the server's
log holds no traceback at the end.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CALENDARS
from tests.support.fuzz import STATS, fuzz_settings
from tests.support.server import running_server

PASSWORD = "une phrase de passe assez longue"
EMAIL = "fuzz@example.org"
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", EMAIL, PASSWORD, "%", "%00", "\u0000", "é" * 300, "=&=",
                                                       "a" * 20000, "@", "FUZZ@EXAMPLE.ORG", "/admin", "//x"]))
# what a client can send as a header value (no surrounding blanks: h11 refuses to send them)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
                      max_size=60).map(lambda s: s.strip(" \t"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("fuzz-admin")
    subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "init"], cwd=cwd, check=True, capture_output=True,
                   timeout=120)  # the operator creates the store first: staff commands create none
    done = subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), "staff", "add",
                           EMAIL, "--centre", "ipst-cnam", "--role", "editor", "--password-stdin"],
                          cwd=cwd, input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    log = cwd / "serve.log"
    extra = ["--admin-proxy-header", "X-Remote-User", "--admin-trusted-proxy", "127.0.0.1"]
    with running_server(["--calendars", str(CALENDARS)], cwd=cwd, log=log, extra=extra) as base:
        yield base
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "Exception in ASGI" not in text, text


def _csrf(c: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', c.get("/admin/connexion").text)
    return found.group(1) if found else ""


@fuzz_settings(120)
@given(data=st.data())
def test_odd_sign_in_forms_never_get_a_5xx_nor_sign_in_without_the_password(server: str,
                                                                            data: st.DataObject) -> None:
    STATS["inputs"] += 1
    STATS["requests"] += 1
    with httpx.Client(base_url=server, timeout=60) as c:
        token = _csrf(c) if data.draw(st.booleans()) else data.draw(TEXT)
        fields = {k: data.draw(TEXT) for k in data.draw(st.lists(st.sampled_from(["email", "password", "suite", "x"]),
                                                                 unique=True))}
        fields["csrf"] = token
        if data.draw(st.booleans()):
            body = "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode()
        else:  # not even a form: raw bytes, or a form with broken escapes
            body = data.draw(st.one_of(st.binary(max_size=200), st.sampled_from([b"%", b"csrf=%ZZ", b"\xff=\xfe",
                                                                                 b"&&&&", b"a" * 20000])))
        ctype = data.draw(st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data", "text/plain",
                                           ""]))
        r = c.post("/admin/connexion", content=body, headers={"Content-Type": ctype} if ctype else {})
        if r.status_code >= 500:
            STATS["5xx"] += 1
        assert r.status_code < 500, (body[:200], r.status_code, r.text[:300])
        if r.status_code == 303:
            assert fields.get("password") == PASSWORD and fields.get("email", "").strip().lower() == EMAIL
            assert len(token) == 64


@fuzz_settings(120)
@given(path=st.sampled_from(["/admin", "/admin/", "/admin/journal", "/admin/ipst-cnam/2026", "/admin/ipst-cnam/x",
                             "/admin/connexion", "/admin/%FF/2026", "/admin/ipst-cnam/2026/extra"]),
       cookie=st.one_of(HEADER_TEXT, st.sampled_from(["", "e30.", "eyJuIjoiYSJ9.x", "a.b.c"])),
       remote=st.one_of(HEADER_TEXT, st.sampled_from(["", "FUZZ@EXAMPLE.ORG", "x@y", "\xe9@example.org"])),
       forwarded=HEADER_TEXT)
def test_odd_cookies_and_proxy_headers_never_get_a_5xx_nor_open_the_console(server: str, path: str, cookie: str,
                                                                            remote: str, forwarded: str) -> None:
    STATS["inputs"] += 1
    STATS["requests"] += 1
    headers = {"Cookie": f"cnam_admin={cookie}", "X-Remote-User": remote, "X-Forwarded-For": forwarded,
               "X-Forwarded-Proto": forwarded}
    with httpx.Client(base_url=server, timeout=60) as c:
        r = c.get(path, headers={k: v.encode("latin-1") for k, v in headers.items()})  # type: ignore[misc]
    if r.status_code >= 500:
        STATS["5xx"] += 1
    assert r.status_code < 500, (path, headers, r.status_code)
    if r.status_code == 200 and path not in ("/admin/connexion",):
        assert remote.strip().lower() == EMAIL  # only the account's own name opens it
