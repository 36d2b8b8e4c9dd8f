"""Run the real nginx (Debian's) with the site of deploy/nginx/, in front of a running `serve`.

The site file is used as shipped, with only what a test machine must change substituted: the
listening ports (free ones on 127.0.0.1), the upstream port (the running `serve`), a self-signed
certificate made with `openssl` for ``calendrier.example.org`` and 127.0.0.1. nginx runs as a
child process, not a daemon (``daemon off``), with a temporary prefix; it is stopped on exit.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import free_port
from tests.support.smtp_sink import end_process

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "deploy" / "nginx" / "cnam-calendar.conf"
HOST = "calendrier.example.org"


def nginx_binary() -> str | None:
    """Return the nginx executable, or None when it is not installed."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


@dataclass(frozen=True)
class Nginx:
    """Where the running nginx answers, and the certificate to trust."""

    http: str
    https: str
    cert: Path
    error_log: Path


def self_signed(folder: Path) -> tuple[Path, Path]:
    """Make a self-signed certificate for HOST and 127.0.0.1 with openssl; return (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST},IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def site_for_test(upstream_port: int, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """Return the shipped site with the test machine's ports and certificate substituted."""
    text = SITE.read_text(encoding="utf-8")
    text = re.sub(r"^\s*listen \[::\]:\d+[^;]*;\n", "", text, flags=re.MULTILINE)  # no IPv6 needed here
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{http_port};", text)
    text = re.sub(r"listen 443 ", f"listen 127.0.0.1:{https_port} ", text)
    text = re.sub(r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream_port};", text)
    text = re.sub(r"ssl_certificate \S+;", f"ssl_certificate {cert};", text)
    text = re.sub(r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};", text)
    directives = re.sub(r"#.*", "", text)
    for shipped in ("listen 80;", "listen 443 ", "127.0.0.1:8000", "/etc/letsencrypt"):
        assert shipped not in directives, f"the site changed: {shipped!r} no longer substituted"
    return text


def main_conf(prefix: Path, site: Path, workers: int) -> str:
    temp = "\n".join(f"    {name}_temp_path {prefix / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                            "scgi"))
    user = "user root root;\n" if os.geteuid() == 0 else ""  # the workers read the temporary prefix
    return (f"{user}worker_processes {workers};\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} warn;\n"
            "events { worker_connections 4096; }\n"
            f"http {{\n    access_log off;\n{temp}\n    include {site};\n}}\n")


@contextmanager
def running_nginx(upstream_port: int, folder: Path, *, workers: int = 1) -> Iterator[Nginx]:
    """Run nginx with the deploy/ site in front of 127.0.0.1:UPSTREAM_PORT until the block ends."""
    binary = nginx_binary()
    assert binary is not None, "nginx absent (apt-get install nginx)"
    prefix = folder / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(prefix)
    http_port, https_port = free_port(), free_port()
    site = prefix / "site.conf"
    site.write_text(site_for_test(upstream_port, http_port, https_port, cert, key), encoding="utf-8")
    conf = prefix / "nginx.conf"
    conf.write_text(main_conf(prefix, site, workers), encoding="utf-8")
    base = [binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)]
    checked = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=30)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the site: {checked.stderr}")
    proc = subprocess.Popen([*base, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:  # readiness polling: both ports accept connections
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                for port in (http_port, https_port):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not listen in time") from None
                time.sleep(0.05)
        yield Nginx(f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", cert, prefix / "error.log")
    finally:
        end_process(proc)
