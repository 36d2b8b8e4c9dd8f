"""The daemon's metrics in the Prometheus text format (prometheus_client), on ``daemon --metrics-port``.

Counters of what the lanes recorded (sent, retried, failed, expired), the relay's outages, a
histogram of lateness (accepted minus due), the time of the last dispatch, and the reminders of the
store by status, pending included (read from the store when scraped, at most every few seconds).
Each ``DaemonMetrics`` has its own registry: two daemons in one process (the tests) never share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cnam_calendar.rules.errors import StoreError

# accepted minus due, in seconds: on time (a dispatch period), minutes late, hours (downtime), days
LATENESS_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600)
STATUS_CACHE = 5.0  # seconds a count of the store is reused by the next scrape


class _StoreCounts(Collector):
    """``cnam_calendar_reminders{status}``, read from the store when scraped (cached a few seconds)."""

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, int]] | None = None

    def collect(self) -> Iterator[Any]:
        with self._lock:
            now = time.monotonic()
            if self._cached is None or now - self._cached[0] > STATUS_CACHE:
                try:
                    self._cached = (now, self._counts())
                except StoreError:  # the store is away: the outage is logged by the daemon; no figure
                    self._cached = None
            counts = self._cached[1] if self._cached else None
        if counts is None:
            return
        family = GaugeMetricFamily("cnam_calendar_reminders", "Reminders in the store, by status.",
                                   labels=["status"])
        for status, n in counts.items():
            family.add_metric([status], n)
        yield family


class DaemonMetrics:
    """What one daemon counts; ``serve(port)`` exposes it over HTTP."""

    def __init__(self, store_counts: Callable[[], dict[str, int]] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sent = Counter("cnam_calendar_reminders_sent", "Reminders the SMTP server accepted.", registry=r)
        self.retried = Counter("cnam_calendar_reminders_retried",
                               "Attempts answered 4xx or cut: the reminder is due again later.", registry=r)
        self.failed = Counter("cnam_calendar_reminders_failed",
                              "Reminders refused for good (5xx, recipient refused).", registry=r)
        self.expired = Counter("cnam_calendar_reminders_expired",
                               "Reminders whose deadline day ended before they could be sent.", registry=r)
        self.relay_outages = Counter("cnam_calendar_relay_outages",
                                     "Times the SMTP relay could not be reached (refused, no greeting, login).",
                                     registry=r)
        self.relay_up = Gauge("cnam_calendar_relay_up", "1 while the SMTP relay answers, 0 during an outage.",
                              registry=r)
        self.relay_up.set(1)
        self.lateness = Histogram("cnam_calendar_reminder_lateness_seconds",
                                  "Accepted by the SMTP server minus due, per reminder sent.",
                                  buckets=LATENESS_BUCKETS, registry=r)
        self.last_dispatch = Gauge("cnam_calendar_last_dispatch_timestamp_seconds",
                                   "When this daemon last dispatched (Unix time).", registry=r)
        if store_counts is not None:
            r.register(_StoreCounts(store_counts))

    def serve(self, port: int, host: str = "127.0.0.1") -> Any:
        """Serve /metrics on HOST:PORT in a thread of this process; return the server (``shutdown()``)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server
