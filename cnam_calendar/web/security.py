"""Security headers of every response the server sends, and the Content-Security-Policy of its pages.

Pages are self-contained: their only style and script are inline, allowed by their SHA-256 hash
(nothing else runs, nothing loads from elsewhere). Nothing may frame them. A response that carries
a secret token in its URL (a personal feed) sends no Referer anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOKEN_PATHS = ("/feeds/personal/",)
BASE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_INLINE = re.compile(r"<(style|script)>(.*?)</\1>", re.S)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_policy(html: str) -> str:
    """Return the Content-Security-Policy of a page: its inline styles and scripts by hash, images inline."""
    sources: dict[str, list[str]] = {"style": [], "script": []}
    for kind, body in _INLINE.findall(html):
        sources[kind].append(_hash(body))
    parts = ["default-src 'none'", "img-src data:", "form-action 'self'", "frame-ancestors 'none'",
             "base-uri 'none'"]
    for kind, hashes in sources.items():
        if hashes:
            parts.append(f"{kind}-src " + " ".join(dict.fromkeys(hashes)))
    return "; ".join(parts)


def referrer_policy(path: str) -> bytes:
    """Return the Referrer-Policy for ``path``: none at all where the URL holds a token."""
    return b"no-referrer" if path.startswith(TOKEN_PATHS) else b"strict-origin-when-cross-origin"


def security_headers(scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Return nosniff, X-Frame-Options, Referrer-Policy and a default Content-Security-Policy (unless set)."""
    names = {name.lower() for name, _ in headers}
    extra = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
             (b"referrer-policy", referrer_policy(scope.get("path", ""))),
             (b"content-security-policy", BASE_POLICY.encode())]
    return [(n, v) for n, v in extra if n not in names]


class ExtraHeaders:
    """Add headers to each HTTP response: ``extra(scope, headers)`` returns those to add."""

    def __init__(self, app: ASGIApp, extra: Callable[[Scope, list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]]
                 ) -> None:
        self.app, self.extra = app, extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = headers + self.extra(scope, headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
