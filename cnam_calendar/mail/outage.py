"""A part the daemon depends on (the store, the SMTP relay) failing for a while: one line, a backoff, one line.

`Outage.failed` logs one line when the part starts failing (later failures of the same outage only
push the next try further, up to a cap); `Outage.ready` says whether it is time to try again;
`Outage.ok` logs one line when the part answers again. Time comes from the clock given: nothing
here sleeps, the caller's scheduler comes back and asks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from cnam_calendar.oplog import N_, Count, Msg

log = logging.getLogger("cnam_calendar.mail.daemon")

RETRY_FIRST = timedelta(seconds=1)
RETRY_CAP = timedelta(seconds=4)  # what a part back up waits at most before it is used again


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():.0f} s" if delta >= timedelta(seconds=1) else f"{delta.total_seconds():.1f} s"


class Outage:
    """The state of one part: answering, or failing since a moment, with when to try it next."""

    def __init__(self, name: str | Msg, clock: Callable[[], datetime], *, first: timedelta = RETRY_FIRST,
                 cap: timedelta = RETRY_CAP) -> None:
        self.name = name  # « la base », « le relais SMTP … »: the subject of the lines (a Msg: translated)
        self.clock = clock
        self.first, self.cap = first, cap
        self.since: datetime | None = None
        self.tries = 0
        self.next_try: datetime | None = None
        self.reason: str | None = None  # what the outage's first failure said
        self._lock = threading.Lock()

    @property
    def failing(self) -> bool:
        """Tell whether the part failed last time it was tried."""
        return self.since is not None

    def ready(self) -> bool:
        """Tell whether the part may be tried now (always, unless it is failing and its wait is not over)."""
        next_try = self.next_try
        return next_try is None or self.clock() >= next_try

    def wait(self) -> timedelta:
        """Return the wait after the latest failure: FIRST, doubling with each failure, at most CAP."""
        return min(self.first * (2 ** min(max(self.tries - 1, 0), 16)), self.cap)

    def failed(self, reason: object) -> None:
        """Record a failure; the first of an outage is logged (one line), the next ones only wait longer."""
        with self._lock:
            now = self.clock()
            first = self.since is None
            if first:
                self.since = now
            self.tries += 1
            self.next_try = now + self.wait()
            if first:
                self.reason = " ".join(str(reason).split())
        if first:
            log.warning(N_("%(part)s est indisponible : %(reason)s ; les rappels attendent, nouvel essai dans %(wait)s "
                           "puis de plus en plus espacé (au plus %(cap)s)"),
                        {"part": self.name, "reason": self.reason, "wait": _seconds(self.wait()),
                         "cap": _seconds(self.cap)}, extra={"event": "outage"})

    def ok(self) -> bool:
        """Record that the part answered; True (and one line logged) when that ends an outage."""
        with self._lock:
            since, tries = self.since, self.tries
            if since is None:
                return False
            self.since, self.tries, self.next_try = None, 0, None
            now = self.clock()
            self.reason = None
        log.warning(N_("%(part)s est de nouveau disponible après %(down)s de panne (%(tries)s) ; "
                       "les envois reprennent"),
                    {"part": self.name, "down": _seconds(now - since),
                     "tries": Count(tries, "%(num)d essai", "%(num)d essais")},
                    extra={"event": "recovered"})
        return True
