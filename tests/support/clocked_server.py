"""The real ASGI app under a real uvicorn, in a thread of the test process, with a clock the test sets.

`cnam-calendar serve` in a subprocess reads the system clock; pages whose text depends on the day
(« dans 3 jours ») are tested here instead, over real HTTP on a free port, with ``make_app``'s clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import uvicorn

from cnam_calendar.store.database import open_store
from cnam_calendar.web.app import make_app
from tests.support.server import free_port


@contextmanager
def clocked_server(calendars: Path, out: Path, db: str, clock: Callable[[], datetime],
                   ready_timeout: float = 30.0) -> Iterator[str]:
    """Serve ``make_app`` over ``db`` with ``clock`` on 127.0.0.1; yield the base URL once /healthz answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = open_store(db)
    app = make_app(calendars, out, clock, base, store)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + ready_timeout
        while True:  # readiness polling, not waiting for time to pass
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the clocked server did not answer /healthz in time")
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.close()
