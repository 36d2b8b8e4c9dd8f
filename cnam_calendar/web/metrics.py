"""The server's metrics in the Prometheus text format (prometheus_client): `/metrics`.

Requests are counted by route *template* (``/feeds/personal/{token}.ics``), method and status,
never by raw path: a personal feed's path holds its secret token, and one series per path would
grow without end. Latency is a histogram by route.

With ``serve --workers N`` (N > 1) every worker is a process of its own: `serve` sets
``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode) to a fresh directory before
the workers start; each writes its figures there and `/metrics`, whichever worker answers, sums
them all. With one worker the figures live in the process.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cnam_calendar.oplog import N_

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
METHODS = ("GET", "HEAD")  # any other method is counted as "other": one series per verb invented is none


class HttpMetrics:
    """The counters of one app (its own registry, so that two apps in one process never share)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("cnam_calendar_http_requests", "HTTP requests answered, by route template, "
                                "method and status.", ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("cnam_calendar_http_request_duration_seconds",
                                 "Time from the request to the end of the response, by route template.",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)

    def exposition(self) -> bytes:
        """Return the text format: this process's figures, or every worker's in multiprocess mode."""
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)

    async def endpoint(self, request: Request) -> Response:
        """GET /metrics."""
        return Response(self.exposition(), media_type=CONTENT_TYPE_LATEST)


access = logging.getLogger("cnam_calendar.web.access")


def clean_agent(raw: bytes) -> str:
    """Return a User-Agent as the access log writes it: printable ASCII, 120 characters at most, « - » if none."""
    text = "".join(c for c in raw.decode("latin-1") if " " <= c <= "~")[:120].strip()
    return text or "-"


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """Return the path template of the route that answers ``scope`` (never the raw path)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return getattr(route, "path", "other")
    return "other"


class RequestMetrics:
    """ASGI middleware: count each HTTP request by route template and status, and time it.

    With ``access_log``, one log line per request too (``serve --access-log``): the method, the route
    template (``/feeds/personal/{token}.ics``: never a token, a key or a query), the status, the time
    and the client's User-Agent (which calendar apps poll, and how often).
    """

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, routes: Sequence[BaseRoute],
                 access_log: bool = False) -> None:
        self.app, self.metrics, self.routes, self.access_log = app, metrics, routes, access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]  # what a request that raised before answering is counted as

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed)
        finally:
            route = route_template(self.routes, scope)
            method = scope.get("method", "GET")
            method = method if method in METHODS else "other"
            elapsed = time.perf_counter() - start
            self.metrics.requests.labels(route, method, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            if self.access_log:
                agent = next((v for k, v in scope.get("headers", ()) if k == b"user-agent"), b"")
                access.info(N_("%(method)s %(route)s → %(status)d en %(ms)d ms (%(agent)s)"),
                            {"method": method, "route": route, "status": status[0], "ms": round(elapsed * 1000),
                             "agent": clean_agent(agent)},
                            extra={"event": "request", "route": route, "status": status[0]})
