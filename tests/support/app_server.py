"""The ASGI app under a real uvicorn in a thread of the test, on a free port, with a clock the test moves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import uvicorn

from cnam_calendar.store.database import Store
from cnam_calendar.web.app import make_app
from tests.support.server import free_port


class Travel:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def app_server(calendars: Path, out: Path, clock: Callable[[], datetime], store: Store | None = None) -> Iterator[str]:
    """Serve ``make_app`` over real HTTP on 127.0.0.1; yield its base URL once /healthz answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(make_app(calendars, out, clock, base, store), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while True:  # readiness polling, not waiting for time to pass
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the app did not answer /healthz")
            time.sleep(0.02)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
