"""Run the real `cnam-calendar serve` in a subprocess on a free local port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.french import assert_french
from tests.support.smtp_sink import end_process


def run_command(cwd: Path, calendars: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `cnam-calendar --calendars CALENDARS ARGS` in a real process, as an operator would."""
    proc = subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(calendars), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 and proc.stderr.strip():
        assert_french(proc.stderr)  # every error path the tests exercise says it in French
    return proc


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(args: Sequence[str] = (), *, cwd: Path, env: dict[str, str] | None = None,
                   extra: Sequence[str] = (), ready_timeout: float = 30.0, log: Path | None = None) -> Iterator[str]:
    """Start `cnam-calendar [ARGS] serve` and yield its base URL once /healthz answers.

    ``log`` receives what the server prints (its log), to be read by the test once the server stopped.
    """
    # as an operator does before the first `serve`: create the store (`init` keeps an existing one)
    db = [*extra[extra.index("--db"):extra.index("--db") + 2]] if "--db" in extra else []
    subprocess.run([sys.executable, "-m", "cnam_calendar.cli", *args, "init", *db], cwd=cwd,
                   env={**os.environ, **(env or {})}, check=True, capture_output=True, timeout=120)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "cnam_calendar.cli", *args, "serve", "--port", str(port), "--base-url", base, *extra]
    sink = open(log, "wb") if log is not None else subprocess.PIPE  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:  # readiness polling, not waiting for time to pass
            if proc.poll() is not None:
                said = proc.stdout.read().decode() if proc.stdout else log.read_text() if log else ""
                raise RuntimeError(f"serve exited: {said}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not answer /healthz in time")
            time.sleep(0.05)
        yield base
    finally:
        end_process(proc)
        if log is not None:
            sink.close()
