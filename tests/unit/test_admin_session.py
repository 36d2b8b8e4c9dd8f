"""The console's session cookie, CSRF tokens and proxy trust, on hand-made requests and a fixed clock."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from cnam_calendar.web.admin import _safe_next
from cnam_calendar.web.admin_session import (
    COOKIE,
    MAX_AGE,
    AdminConfig,
    Sessions,
    client_address,
    over_https,
    parse_networks,
    proxy_user,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
SECRET = b"0" * 64
CONFIG = AdminConfig("X-Remote-User", parse_networks(["127.0.0.1", "10.0.0.0/8", "::1"]))


def request(peer: str = "192.0.2.1", headers: dict[str, str] | None = None, cookie: str | None = None,
            scheme: str = "http") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookie is not None:
        raw.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    return Request({"type": "http", "method": "GET", "path": "/admin", "headers": raw, "client": (peer, 5000),
                    "scheme": scheme, "server": ("127.0.0.1", 8000), "query_string": b""})


def cookie_of(response: Response) -> str:
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1]


def test_a_signed_in_session_round_trips_and_its_csrf_token_is_bound_to_it() -> None:
    sessions = Sessions(SECRET)
    anonymous = sessions.read(request(), NOW)
    assert anonymous.email is None and anonymous.fresh
    assert not sessions.csrf_ok(anonymous, sessions.csrf(anonymous))  # a session the browser does not hold yet
    signed = anonymous.signed_in("a@example.org", 3, "password", NOW)
    assert signed.nonce != anonymous.nonce  # a new nonce: no session fixation
    response = sessions.write(Response(), signed, secure=True)
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "Secure" in header and "SameSite=lax" in header and "Path=/admin" in header
    back = sessions.read(request(cookie=cookie_of(response)), NOW + timedelta(hours=1))
    assert (back.email, back.generation, back.method, back.fresh) == ("a@example.org", 3, "password", False)
    assert sessions.csrf_ok(back, sessions.csrf(signed))
    assert not sessions.csrf_ok(back, sessions.csrf(anonymous))
    assert not sessions.csrf_ok(back, None) and not sessions.csrf_ok(back, "")


def test_a_session_expires_after_max_age_on_the_clock() -> None:
    sessions = Sessions(SECRET)
    signed = sessions.read(request(), NOW).signed_in("a@example.org", 1, "password", NOW)
    value = cookie_of(sessions.write(Response(), signed, secure=False))
    assert sessions.read(request(cookie=value), NOW + MAX_AGE - timedelta(seconds=1)).email == "a@example.org"
    expired = sessions.read(request(cookie=value), NOW + MAX_AGE)
    assert expired.email is None and expired.fresh


def test_a_tampered_or_foreign_cookie_is_an_anonymous_session() -> None:
    sessions = Sessions(SECRET)
    signed = sessions.read(request(), NOW).signed_in("a@example.org", 1, "password", NOW)
    value = cookie_of(sessions.write(Response(), signed, secure=False))
    payload, signature = value.rsplit(".", 1)
    forged = payload.replace(payload[2], "A" if payload[2] != "A" else "B") + "." + signature
    assert sessions.read(request(cookie=forged), NOW).email is None
    assert Sessions(b"1" * 64).read(request(cookie=value), NOW).email is None  # another database's key
    assert sessions.read(request(cookie="garbage"), NOW).email is None


@given(st.text(max_size=300))
def test_no_cookie_value_makes_reading_fail(value: str) -> None:
    session = Sessions(SECRET).read(request(cookie=value.encode("utf-8", "replace").decode("latin-1")), NOW)
    assert session.email is None


def test_the_proxy_header_counts_only_from_a_trusted_address() -> None:
    header = {"X-Remote-User": "cas@example.org"}
    assert proxy_user(request("127.0.0.1", header), CONFIG) == "cas@example.org"
    assert proxy_user(request("10.20.30.40", header), CONFIG) == "cas@example.org"
    assert proxy_user(request("::1", header), CONFIG) == "cas@example.org"
    assert proxy_user(request("127.0.0.2", header), CONFIG) is None
    assert proxy_user(request("11.0.0.1", header), CONFIG) is None
    assert proxy_user(request("127.0.0.1", {"X-Remote-User": "  "}), CONFIG) is None
    assert proxy_user(request("127.0.0.1", header), AdminConfig()) is None  # no header configured
    assert proxy_user(request("not-an-ip", header), CONFIG) is None


def test_the_client_address_and_https_come_from_the_proxy_only_when_trusted() -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9", "X-Forwarded-Proto": "https"}
    assert client_address(request("127.0.0.1", forwarded), CONFIG) == "203.0.113.9"  # the hop the proxy saw
    assert client_address(request("192.0.2.7", forwarded), CONFIG) == "192.0.2.7"
    assert over_https(request("127.0.0.1", forwarded), CONFIG)
    assert not over_https(request("192.0.2.7", forwarded), CONFIG)
    assert over_https(request("192.0.2.7", scheme="https"), CONFIG)


def test_the_configuration_reads_the_environment_serve_exports() -> None:
    config = AdminConfig.from_env({"CNAM_CALENDAR_ADMIN_PROXY_HEADER": "X-Remote-User",
                                   "CNAM_CALENDAR_ADMIN_TRUSTED_PROXIES": "127.0.0.1 10.0.0.0/8,192.168.1.4"})
    assert config.proxy_header == "X-Remote-User"
    assert config.trusted == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"),
                              ipaddress.ip_network("192.168.1.4/32"))
    assert AdminConfig.from_env({}) == AdminConfig()
    assert AdminConfig.from_env({"CNAM_CALENDAR_BASE_URL": "https://calendrier.example.fr"}).https
    assert over_https(request("192.0.2.7"), AdminConfig(https=True))  # behind a TLS front end, not trusted
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.300"])


@pytest.mark.parametrize(("value", "expected"), [
    ("/admin/ipst-cnam/2026", "/admin/ipst-cnam/2026"),
    ("/admin", "/admin"),
    (None, "/admin"),
    ("", "/admin"),
    ("https://evil.example/admin", "/admin"),
    ("//evil.example/admin", "/admin"),
    ("/admin\\@evil", "/admin"),
    ("/feeds/x", "/admin"),
], ids=["console-page", "console", "none", "empty", "other-site", "protocol-relative", "backslash", "outside"])
def test_after_sign_in_only_console_paths_are_followed(value: str | None, expected: str) -> None:
    assert _safe_next(value) == expected
