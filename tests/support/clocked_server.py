"""The real ASGI app under a real uvicorn, in a thread of the test process, with a clock the test sets,
over a store opened from its URL (the learner's page tests).

`cnam-calendar serve` in a subprocess reads the system clock; pages whose text depends on the day
(« dans 3 jours ») are tested here instead, over real HTTP on a free port, with ``make_app``'s clock.
The server itself is ``tests.support.app_server``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from cnam_calendar.store.database import open_store
from tests.support.app_server import app_server


@contextmanager
def clocked_server(calendars: Path, out: Path, db: str, clock: Callable[[], datetime]) -> Iterator[str]:
    """Serve ``make_app`` over ``db`` with ``clock`` on 127.0.0.1; yield the base URL once /healthz answers."""
    store = open_store(db)
    try:
        with app_server(calendars, out, clock, store) as base:
            yield base
    finally:
        store.close()
