"""A running `serve` (real HTTP over a socket) hit with mutated paths, query strings, methods and headers.

Requests are written byte by byte on a TCP connection, so that paths and header values may be
anything a client can send: percent-encodings, non-ASCII and non-UTF-8 bytes, huge values. Properties:
every answer is a valid HTTP status below 500 (or the connection is refused as h11 does for what is not
HTTP), and the server's log holds no traceback at the end.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import CALENDARS
from tests.support.fuzz import STATS, fuzz_settings
from tests.support.server import run_command, running_server

ROW = "A1,a1@example.org,Léa,Roux,ipst-cnam,31,individuel,NFA031,2026-09-10,,,fr\n"


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_command(cwd, CALENDARS, *args)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    cwd = tmp_path_factory.mktemp("fuzz-http")
    from cnam_calendar.inputs.roster import COLUMNS

    (cwd / "learners.csv").write_text(",".join(COLUMNS) + "\n" + ROW, encoding="utf-8")
    assert _cli(cwd, "learners", "import", "learners.csv", "-q").returncode == 0
    assert _cli(cwd, "build", "--year", "2026").returncode == 0
    token = _cli(cwd, "learners", "issue-token", "A1").stdout.strip().rsplit("/", 1)[1].removesuffix(".ics")
    log = cwd / "serve.log"
    with running_server(["--calendars", str(CALENDARS)], cwd=cwd, log=log) as base:
        yield base, token
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "Exception in ASGI" not in text, text


PATHS = ["/", "/healthz", "/feeds/ipst-cnam/2026.ics", "/feeds/ipst-cnam/2026/ue/NFA031.ics",
         "/feeds/cnam-occitanie/2027.ics", "/feeds/personal/{token}.ics", "/overview/ipst-cnam/2026",
         "/feeds/ipst-cnam/2026/ue/UTC501.ics", "/favicon.ico", "/feeds/ipst-cnam.ics",
         "/feeds/cnam-occitanie/ue/NFA031.ics", "/admin", "/admin/connexion", "/admin/ipst-cnam/2026"]
PIECES = [b"%", b"%00", b"%C2%B2", b"%E2%91%A0", b"%FF", b"\xff", b"\xc3(", "٢٠٢٦".encode(), b"..", b"/", b"//",
          b"?", b"&", b"=", b"#", b";", b"ue=", b"lang=", b"alarms=", b"year=", b"centre=", b"2026", b"99999999999",
          b"NFA031", b"%2F", b"\\", b"~", b" "]
BYTES = st.binary(max_size=24).filter(lambda b: b"\r" not in b and b"\n" not in b)
HEADER_VALUE = st.one_of(
    BYTES, st.sampled_from([b"", b"*", b"gzip;q=abc", b"gzip;q=0x1", b"*;q=abc", b"gzip, *;q=0", b'"x"', b'W/"x"',
                            b"Mon, 32 Dec 2026 25:61:00 GMT", b"Wed, 02 Dec 2026 04:00:00 GMT", b"0", b"-1",
                            b"bytes=0-10", b"bytes=-1", b"bytes=9999999999999999999-", b"bytes=a-b", b"\xff\xfe",
                            "é".encode("latin-1"), b"x" * 8000, b",,,,;;;;===", b"gzip;q=1e999"]))


ACCEPT_ENCODING = st.one_of(
    HEADER_VALUE,
    st.tuples(st.sampled_from(["gzip", "*", "br", "identity", "GZIP", ""]),
              st.one_of(st.text(st.characters(codec="ascii"), max_size=6), st.floats().map(repr),
                        st.sampled_from(["abc", "0x1", "0.0.0", "", "1.0000", "0.5", "-0", "1e-3"]))).map(
        lambda t: f"{t[0]};q={t[1]}".encode()),
)
YEAR_LIKE = st.one_of(st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=5),
                      st.integers(-10, 10**12).map(str), st.sampled_from(["²", "٢٠٢٦", "２０２６", "2026.0", "+2026"]))


@st.composite
def request_bytes(draw: st.DrawFn, token: str) -> bytes:
    path = draw(st.sampled_from(PATHS)).format(token=draw(st.sampled_from([token, token[:-1], token.upper(), ""])))
    if "2026" in path and draw(st.booleans()):
        path = path.replace("2026", quote(draw(YEAR_LIKE), safe=""))
    target = path.encode()
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):
        i = draw(st.integers(0, len(target)))
        target = target[:i] + draw(st.one_of(st.sampled_from(PIECES), BYTES.map(lambda b: b.replace(b" ", b"")))) \
            + target[i:]
    target = target.replace(b" ", b"%20") or b"/"
    if draw(st.booleans()):
        query = b"&".join(draw(st.sampled_from([b"ue", b"lang", b"alarms", b"year", b"centre", b"x"])) + b"="
                          + draw(st.one_of(st.sampled_from(PIECES), BYTES)).replace(b" ", b"+")
                          for _ in range(draw(st.integers(1, 4))))
        target += b"?" + query
    method = draw(st.sampled_from([b"GET", b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH",
                                   b"TRACE", b"FOO"]))
    headers = [b"Host: 127.0.0.1", b"Connection: close"]
    if draw(st.booleans()):
        headers.append(b"Accept-Encoding: " + draw(ACCEPT_ENCODING))
    for name in draw(st.lists(st.sampled_from([b"Accept-Encoding", b"If-None-Match", b"If-Modified-Since",
                                               b"Range", b"Accept", b"Accept-Language", b"User-Agent",
                                               b"Cookie", b"X-Forwarded-For"]), max_size=5)):
        headers.append(name + b": " + draw(HEADER_VALUE))
    body = b""
    if method in (b"POST", b"PUT", b"PATCH") and draw(st.booleans()):
        body = draw(st.binary(max_size=64))
        headers.append(b"Content-Length: " + str(len(body)).encode())
    return method + b" " + target + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


def _send(base: str, data: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
            if len(answer) > 64 and b"\r\n" in answer:
                break  # the status line is all this test reads
    return answer


_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


@fuzz_settings(300)
@given(data=st.data())
def test_odd_requests_never_get_a_5xx(server, data: st.DataObject) -> None:  # noqa: ANN001
    base, token = server
    answer_below_500(base, data.draw(request_bytes(token)))


def answer_below_500(base: str, raw: bytes) -> None:
    """Send one raw request, count it, and fail with it when the answer is not HTTP or is a 5xx."""
    STATS["inputs"] += 1
    STATS["requests"] += 1
    answer = _send(base, raw)
    match = _STATUS.match(answer)
    assert match, (raw[:300], answer[:200])
    if int(match[1]) >= 500:
        STATS["5xx"] += 1
        raise AssertionError(f"{raw[:300]!r} → {answer[:300]!r}")
