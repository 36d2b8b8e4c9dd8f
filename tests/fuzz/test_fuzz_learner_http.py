"""The learner's page and the unsubscribe endpoints of a running `serve`, hit with odd tokens, keys and form bodies.

Properties: every answer is below 500, the server's log holds no traceback, and a form without the page's
CSRF token never rotates the link (the learner's token still opens the page at the end).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CALENDARS
from tests.fuzz.test_fuzz_http import answer_below_500
from tests.support.fuzz import fuzz_settings
from tests.support.learner_site import ROSTER
from tests.support.server import run_command, running_server


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_command(cwd, CALENDARS, *args)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    cwd = tmp_path_factory.mktemp("fuzz-learner")
    (cwd / "learners.csv").write_text(ROSTER, encoding="utf-8")
    assert _cli(cwd, "learners", "import", "learners.csv", "-q").returncode == 0
    token = _cli(cwd, "learners", "issue-token", "A001").stdout.strip().rsplit("/", 1)[1].removesuffix(".ics")
    from cnam_calendar.store.database import open_store

    store = open_store(str(cwd / "cnam-calendar.db"))
    key = store.learner_key("A002")
    store.close()
    log = cwd / "serve.log"
    with running_server(["--calendars", str(CALENDARS)], cwd=cwd, log=log) as base:
        yield base, token, key
        assert httpx.get(f"{base}/me/{token}", timeout=30).status_code == 200  # never rotated without its token
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "Exception in ASGI" not in text, text


ODD = st.one_of(
    st.text(max_size=60).map(lambda t: quote(t, safe="")),
    st.binary(max_size=40).map(lambda b: quote(b, safe="")),
    st.sampled_from(["", "%00", "%FF", "..", "%2F", "x" * 200, "0" * 32, "g" * 32, "A" * 43, "-" * 43, "_" * 16,
                     "stop%200123", "%C3%A9" * 20]),
)
FIELDS = st.sampled_from(["csrf", "preference", "List-Unsubscribe", "x", "", "csrf[]", "CSRF"])
VALUES = st.one_of(st.text(max_size=40), st.sampled_from(["each", "weekly", "none", "One-Click", "0" * 32, ""]))
BODY = st.one_of(
    st.binary(max_size=200),
    st.lists(st.tuples(FIELDS, VALUES), max_size=6).map(lambda pairs: "&".join(
        f"{quote(k)}={quote(v)}" for k, v in pairs).encode()),
    st.sampled_from([b"List-Unsubscribe=One-Click", b"List-Unsubscribe=One-Click&List-Unsubscribe=x",
                     b"preference=none", b"%ZZ=1", b"a=%FF", b"=" * 100, b"&" * 5000, b"x" * 5000]),
)
TYPES = st.sampled_from([b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x", b"text/plain",
                         b"", b"application/x-www-form-urlencoded; charset=latin-1"])


@st.composite
def request_bytes(draw: st.DrawFn, token: str, key: str) -> bytes:
    odd = draw(ODD)
    path = draw(st.sampled_from([
        f"/me/{odd}", f"/me/{token}", f"/me/{token}/mail", f"/me/{token}/new-link", f"/me/{odd}/mail",
        f"/me/{odd}/new-link", f"/unsubscribe/{odd}", f"/unsubscribe/{key}", f"/me/{token}{odd}",
        f"/unsubscribe/{key}/{odd}", f"/me/{token}?saved={odd}"]))
    method = draw(st.sampled_from([b"GET", b"HEAD", b"POST", b"POST", b"POST", b"PUT", b"DELETE"]))
    headers = [b"Host: 127.0.0.1", b"Connection: close"]
    body = b""
    if method in (b"POST", b"PUT"):
        body = draw(BODY)
        headers += [b"Content-Type: " + draw(TYPES), b"Content-Length: " + str(len(body)).encode()]
    return method + b" " + path.encode() + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


@fuzz_settings(300)
@given(data=st.data())
def test_odd_tokens_keys_and_forms_never_get_a_5xx(server, data: st.DataObject) -> None:  # noqa: ANN001
    base, token, key = server
    answer_below_500(base, data.draw(request_bytes(token, key)))
