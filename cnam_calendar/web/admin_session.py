"""Who is asking, for the console: the signed session cookie, its CSRF token, the trusted proxy's header.

The cookie holds a random nonce, and once signed in the e-mail, the account's generation, how the
person signed in and when; it is signed (itsdangerous, HMAC-SHA1 over the store's
``admin_session_secret``), ``HttpOnly``, ``SameSite=Lax``, ``Secure`` whenever the request came over
https (directly, through the trusted proxy saying so, or the public URL being https). The CSRF token of a form is an HMAC of
the nonce: bound to the session, it changes when the person signs in. The proxy's header is read
only from a trusted address (``--admin-trusted-proxy``); from anyone else it is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "cnam_admin"
COOKIE_PATH = "/admin"
MAX_AGE = timedelta(hours=10)  # a working day: sign in again the next morning
FORM_LIMIT = 16 * 1024  # bytes of a form body read; the console's forms are far smaller
ENV_HEADER = "CNAM_CALENDAR_ADMIN_PROXY_HEADER"
ENV_TRUSTED = "CNAM_CALENDAR_ADMIN_TRUSTED_PROXIES"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Return the networks of ``values`` (IP addresses or CIDR blocks); raise ValueError on a bad one."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


@dataclass(frozen=True)
class AdminConfig:
    """How the console recognises people: the proxy's header and the addresses trusted to send it."""

    proxy_header: str | None = None
    trusted: tuple[Network, ...] = ()
    https: bool = False  # the public URL (--base-url) is https: cookies are always Secure

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AdminConfig:
        """Read the configuration `serve` exported (CNAM_CALENDAR_ADMIN_*, CNAM_CALENDAR_BASE_URL)."""
        header = env.get(ENV_HEADER, "").strip() or None
        return cls(header, parse_networks(env.get(ENV_TRUSTED, "").replace(",", " ").split()),
                   env.get("CNAM_CALENDAR_BASE_URL", "").lower().startswith("https://"))

    def trusts(self, address: str | None) -> bool:
        """Tell whether ``address`` is one of the trusted proxies."""
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)


@dataclass(frozen=True)
class Session:
    """What the cookie says: the nonce, and who is signed in (None: nobody yet)."""

    nonce: str
    email: str | None = None
    generation: int = 0
    method: str = ""  # "password" | "proxy"
    issued: int = 0  # seconds since the epoch
    fresh: bool = field(default=False, compare=False)  # to be sent back (new, or changed)

    def signed_in(self, email: str, generation: int, method: str, now: datetime) -> Session:
        """Return the session of ``email`` signed in now, with a new nonce (no fixation)."""
        return Session(secrets.token_hex(16), email, generation, method, int(now.timestamp()), True)

    def signed_out(self) -> Session:
        """Return an anonymous session with a new nonce."""
        return Session(secrets.token_hex(16), fresh=True)


class Sessions:
    """Read, sign and write the console's session cookie; compute and check CSRF tokens."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._serializer = URLSafeSerializer(secret, salt="cnam-calendar-admin-session")

    def read(self, request: Request, now: datetime) -> Session:
        """Return the request's session, or a new anonymous one (bad signature, expired, none)."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                data = self._serializer.loads(raw)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("n"), str):
                session = Session(data["n"], data.get("u"), int(data.get("g", 0)), str(data.get("m", "")),
                                  int(data.get("t", 0)))
                if session.email is None or now.timestamp() - session.issued < MAX_AGE.total_seconds():
                    return session
                return session.signed_out()
        return Session(secrets.token_hex(16), fresh=True)

    def csrf(self, session: Session) -> str:
        """Return the CSRF token of the session's forms."""
        return hmac.new(self._secret, b"csrf:" + session.nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        """Tell whether a form's token is this session's (constant-time)."""
        return bool(token) and not session.fresh and hmac.compare_digest(self.csrf(session), token or "")

    def write(self, response: Response, session: Session, secure: bool) -> Response:
        """Send the session back when it is new or changed."""
        if session.fresh:
            value = self._serializer.dumps({"n": session.nonce, "u": session.email, "g": session.generation,
                                            "m": session.method, "t": session.issued})
            response.set_cookie(COOKIE, value, path=COOKIE_PATH, httponly=True, secure=secure, samesite="lax")
        return response


def peer(request: Request) -> str | None:
    """Return the address the connection comes from."""
    return request.client.host if request.client else None


def client_address(request: Request, config: AdminConfig) -> str:
    """Return whom the request is from: the peer, or behind a trusted proxy the last address it forwarded."""
    address = peer(request) or "?"
    if config.trusts(address):
        forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",") if a.strip()]
        if forwarded:
            return forwarded[-1][:64]
    return address


def over_https(request: Request, config: AdminConfig) -> bool:
    """Tell whether the person's browser speaks https to us (directly, or to a proxy: the public URL, a trusted one)."""
    if config.https or request.url.scheme == "https":
        return True
    return config.trusts(peer(request)) and request.headers.get("x-forwarded-proto", "").lower() == "https"


def proxy_user(request: Request, config: AdminConfig) -> str | None:
    """Return who the trusted proxy says the person is, or None (no header, or not from a trusted address)."""
    if config.proxy_header is None or not config.trusts(peer(request)):
        return None
    value = request.headers.get(config.proxy_header, "").strip()
    return value or None

