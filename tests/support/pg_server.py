"""A PostgreSQL server of a test's own: initdb in a temporary directory, pg_ctl on a free port.

For outage tests, which restart and stop the server under a running daemon (the shared server on
5432 is never touched)::

    with own_pg_server() as pg:          # skipped (failed under CI=true) when it cannot be run
        url = pg.url
        pg.restart()                     # pg_ctl restart -m fast: every session is cut
        pg.stop(); ...; pg.start()       # an outage as long as the caller wants

The server runs as the ``postgres`` OS user when we are root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.smtp_sink import free_port


def pg_bin() -> Path | None:
    """Return the directory of initdb and pg_ctl (Debian's /usr/lib/postgresql/N/bin, newest first), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]), reverse=True)
    if found:
        return Path(found[0]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def unavailable() -> str | None:
    """Return why a server of our own cannot be run here, or None."""
    if pg_bin() is None:
        return "initdb/pg_ctl introuvables (paquet Debian postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "utilisateur système « postgres » absent (PostgreSQL refuse de tourner en root)"
    return None


class PgServer:
    """One PostgreSQL cluster in ROOT, listening on 127.0.0.1:PORT, trust authentication."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.bin = pg_bin()
        self.log = root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])}: {result.stdout}{result.stderr}")
        return result

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0


@contextmanager
def own_pg_server() -> Iterator[PgServer]:
    """Run a PostgreSQL server of our own for the block; skip (fail under CI=true) when it cannot run."""
    reason = unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"serveur PostgreSQL propre au test impossible : {reason} ; CI=true l'exige")
        pytest.skip(f"serveur PostgreSQL propre au test impossible : {reason}")
    root = Path(tempfile.mkdtemp(prefix="cnam-pg-", dir="/tmp"))  # /tmp: the postgres user can reach it
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PgServer(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.data.exists() and server.running():
            server._run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)
