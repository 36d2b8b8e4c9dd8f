"""Benchmark of the personal feed over HTTP (issue 4: requests/s and p99, 200 and 304, against nginx).

Run from the project root (it reads calendars/):

    python bench/http_bench.py            # 10 s per wrk run, about two minutes in all
    python bench/http_bench.py --quick    # 3 s per run, well under a minute
    python bench/http_bench.py --no-profile --no-workers2

Needs Debian's `wrk` and `nginx` (as root the script runs `apt-get install -y wrk nginx` when one is
missing). Everything listens on 127.0.0.1 only, on free ports, in a temporary directory, and is
stopped at the end (each wrk run is bounded by --duration, each process by a timeout).

1. A temporary SQLite store with a few generated learners and their tokens; the real server as
   the CLI starts it: `python -m cnam_calendar.cli --calendars calendars serve --port P --db DB`
   (cwd: the temporary directory; PYTHONPATH: this work tree).
2. nginx serving, as a static file, the very bytes our server answers for the benchmarked
   learner's feed (same size), `etag on`, one worker process (like `serve`'s default), no log.
3. wrk (--latency, -t THREADS -c CONNECTIONS) on GET /feeds/personal/<token>.ics: once plain
   (200) and once with `If-None-Match: <the ETag the server sent>` (304), for both servers; then
   the same for `serve --workers 2` against nginx with 2 worker processes. Our server's
   /healthz (a constant answer) is measured too: the ceiling uvicorn and Starlette allow any
   endpoint on this machine.
4. When our 304 reaches less than half of nginx's requests/s (the issue's target), the 304 path
   is profiled in process with cProfile: the ASGI app from `make_app` called directly (no
   socket), whatever Starlette would hand to its thread pool run inline so that the profiler
   sees it; the summary says where a request's time goes.

The lines to quote are "ratio ours/nginx" for 200 and 304 (target for 304: >= 50 %). Nothing
asserts on time; the script fails only when a server answers a wrong status or body.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import http.client
import importlib.util
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure this work tree, wherever pip points

from cnam_calendar.inputs.config import load_centres  # noqa: E402
from cnam_calendar.inputs.roster import catalogue_codes, generate_learners  # noqa: E402
from cnam_calendar.store.database import open_store  # noqa: E402

YEAR = 2026
SEED = 20260901
LEARNERS = 20
TARGET_304 = 0.5
NGINX_CONF = """\
worker_processes {workers};
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    etag on;
    types {{ text/calendar ics; }}
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/calendar;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/static;
        location / {{ add_header Cache-Control "private, max-age=3600"; }}
    }}
}}
"""


@dataclass(frozen=True)
class Run:
    """One wrk run's figures."""

    rps: float
    p99_ms: float
    requests: int
    errors: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_tools() -> None:
    missing = [name for name in ("wrk", "nginx") if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"missing {', '.join(missing)}: run `sudo apt-get install -y {' '.join(missing)}`")
    print(f"installing {' '.join(missing)} with apt-get …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, check=True, capture_output=True,
                       timeout=600)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def wait_ready(port: int, path: str, proc: subprocess.Popen, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode} before answering")
        try:
            if get(port, path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on 127.0.0.1:{port}{path} within {seconds:.0f} s")


def start(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a server in its own process group (so that its workers stop with it)."""
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # the group this script created for it, and nothing else
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def wrk(port: int, path: str, seconds: int, threads: int, connections: int, headers: dict[str, str]) -> Run:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         timeout=seconds + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = "; ".join(line.strip() for line in out.splitlines()
                       if "Socket errors" in line or "Non-2xx" in line)
    return Run(rps, p99, requests, errors)


def check(port: int, path: str, body: bytes) -> str:
    """Check the 200 (body) and the 304 (empty); return the ETag."""
    status, headers, data = get(port, path)
    if status != 200 or data != body:
        raise SystemExit(f"127.0.0.1:{port}{path} answered {status} with {len(data)} bytes, not the feed")
    etag = headers["etag"]
    status, _, data = get(port, path, {"If-None-Match": etag})
    if status != 304 or data:
        raise SystemExit(f"127.0.0.1:{port}{path} answered {status} to If-None-Match: {etag}, not 304")
    return etag


def ceiling(name: str, port: int, args: argparse.Namespace) -> Run:
    """Measure /healthz (no store, no feed): what the HTTP stack alone allows."""
    wrk(port, "/healthz", 1, args.threads, args.connections, {})  # warm-up
    run = wrk(port, "/healthz", args.duration, args.threads, args.connections, {})
    print(f"  {name:<22} /healthz {run.rps:6,.0f} req/s   p99 {run.p99_ms:8.2f} ms   "
          f"(uvicorn + Starlette and a constant answer: the ceiling of any endpoint)", flush=True)
    return run


def measure(name: str, port: int, path: str, body: bytes, args: argparse.Namespace) -> dict[str, Run]:
    etag = check(port, path, body)
    runs = {}
    for label, headers in (("200", {}), ("304", {"If-None-Match": etag})):
        wrk(port, path, 1, args.threads, args.connections, headers)  # warm-up
        run = wrk(port, path, args.duration, args.threads, args.connections, headers)
        runs[label] = run
        note = f"  [{run.errors}]" if run.errors and label == "200" else ""
        print(f"  {name:<22} {label}  {run.rps:10,.0f} req/s   p99 {run.p99_ms:8.2f} ms   "
              f"({run.requests:,} requests){note}", flush=True)
    return runs


def ratio_lines(ours: dict[str, Run], nginx: dict[str, Run], label: str) -> None:
    for code in ("200", "304"):
        r = ours[code].rps / nginx[code].rps
        target = (f" (target >= {TARGET_304:.0%}: {'met' if r >= TARGET_304 else 'MISSED'})"
                  if code == "304" else "")
        print(f"ratio ours/nginx {label} {code}: {r:.1%} of nginx's requests/s, "
              f"p99 {ours[code].p99_ms / max(nginx[code].p99_ms, 1e-3):.0f}x nginx's{target}")


def profile_304(calendars: Path, out: Path, db: str, token: str, requests: int) -> None:
    """Profile the 304 path in process and print where a request's time goes."""
    import starlette.routing

    from cnam_calendar.web.app import make_app

    async def inline(func, *args, **kwargs):  # run a sync endpoint in this thread, seen by cProfile
        return func(*args, **kwargs)

    starlette.routing.run_in_threadpool = inline  # type: ignore[assignment]  # before make_app binds it
    store = open_store(db)
    app = make_app(calendars, out, lambda: datetime.now(timezone.utc), store=store)
    path = f"/feeds/personal/{token}.ics"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    statuses: list[int] = []
    etags: list[str] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
            etags.extend(v.decode() for k, v in message["headers"] if k == b"etag")

    async def many(n: int, request: dict) -> None:
        for _ in range(n):
            await app(request, receive, send)

    # The ETag of this process's code and clock (the code may have changed since the servers started).
    asyncio.run(many(1, {**scope, "headers": scope["headers"][:1]}))
    if statuses != [200]:
        raise SystemExit(f"the in-process app answered {statuses} for the personal feed")
    etag = etags[-1]
    scope["headers"] = [(b"host", b"127.0.0.1"), (b"if-none-match", etag.encode())]
    statuses.clear()
    asyncio.run(many(20, scope))  # warm-up
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    asyncio.run(many(requests, scope))
    profiler.disable()
    elapsed = time.perf_counter() - t0
    store.close()
    if set(statuses) != {304}:
        raise SystemExit(f"the in-process 304 path answered {sorted(set(statuses))}")
    stats = pstats.Stats(profiler)
    per = {}
    for (filename, _, func), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        per[(Path(filename).name, func)] = per.get((Path(filename).name, func), 0.0) + cumulative
    total = per.get(("server.py", "personal_feed"), elapsed)
    print(f"\nprofile of the 304 path, in process (cProfile, {requests} requests, "
          f"{elapsed / requests * 1e3:.2f} ms each under the profiler; personal_feed = 100 %):")
    parts = [
        ("store.feed_learner (token → learner + last change, SQL)", ("store.py", "feed_learner")),
        ("  of which lookup.Lookup.first (the query)", ("lookup.py", "first")),
        ("Feeds.generation (stat of rule files + manifests)", ("server.py", "generation")),
        ("Feeds.personal (the centre-year's cache)", ("server.py", "personal")),
        ("store.learner_key (HMAC)", ("store.py", "learner_key")),
        ("PersonalCache.peek (validators known?)", ("feed_cache.py", "peek")),
        ("PersonalFeeds.render (only when unknown)", ("personal_ics.py", "render")),
        ("calendar_response (headers, 304 decision)", ("server.py", "calendar_response")),
    ]
    for label, key in parts:
        seconds = per.get(key, 0.0)
        print(f"  {label:<56} {seconds / requests * 1e3:8.3f} ms/request  {seconds / total:6.1%}")
    app_total = per.get(("applications.py", "__call__"), total)
    print(f"  Starlette around it (middleware, routing, response): {(app_total - total) / requests * 1e3:.3f} "
          f"ms/request more ({app_total / requests * 1e3:.3f} ms for the whole ASGI app); uvicorn's HTTP "
          f"parsing and sockets are not in this profile: see /healthz above")
    print("  top functions by own time:")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:8]  # type: ignore[attr-defined]
    for (filename, line, func), (_, _, tottime, _, _) in rows:
        print(f"    {tottime / requests * 1e3:7.3f} ms/request  {Path(filename).name}:{line}({func})")


CEILING_APP = """\
# The least a Python request handler can do for this URL: compare If-None-Match, answer 304 or the bytes.
from pathlib import Path

BODY = Path(__file__).with_name("feed.ics").read_bytes()
ETAG = Path(__file__).with_name("feed.etag").read_text()
HEADERS = [("etag", ETAG), ("cache-control", "private, max-age=3600"), ("vary", "Accept-Encoding"),
           ("last-modified", "Mon, 23 Nov 2026 09:00:00 GMT")]
FULL = HEADERS + [("content-type", "text/calendar; charset=utf-8")]


async def app(scope, proto):
    if scope.headers.get("if-none-match") == ETAG:
        proto.response_empty(304, HEADERS)
    else:
        proto.response_bytes(200, FULL, BODY)
"""


def python_ceiling(tmp: Path, env: dict[str, str], path: str, body: bytes, nginx: dict[str, Run],
                   args: argparse.Namespace, procs: list[subprocess.Popen]) -> None:
    """Measure a Python handler that does nothing (granian, a Rust HTTP server, RSGI): what any Python app can reach."""
    try:
        import granian  # noqa: F401  (not a dependency of the project: only this measurement uses it)
    except ImportError:
        print("python ceiling: not measured (pip install granian to measure the fastest Python HTTP server here)")
        return
    (tmp / "ceiling_app.py").write_text(CEILING_APP)
    (tmp / "feed.ics").write_bytes(body)
    (tmp / "feed.etag").write_text('"' + hashlib.sha256(body).hexdigest()[:40] + '"')
    port = free_port()
    loop = ["--loop", "uvloop"] if importlib.util.find_spec("uvloop") else []
    cmd = [sys.executable, "-m", "granian", "--interface", "rsgi", "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1", "--no-ws", "--http", "1", *loop, "ceiling_app:app"]
    proc = start(cmd, tmp, env, tmp / "granian.log")
    procs.append(proc)
    try:
        wait_ready(port, path, proc)
        runs = measure("empty Python handler", port, path, body, args)
    finally:
        stop(proc)
    print(f"python ceiling: a handler that only compares the ETag, under granian (RSGI{', uvloop' if loop else ''}), "
          f"answers 304 at {runs['304'].rps / nginx['304'].rps:.1%} of nginx's requests/s "
          f"(200 at {runs['200'].rps / nginx['200'].rps:.1%}): the most any Python server reaches here")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--quick", action="store_true", help="3 s per run, fewer profiled requests")
    parser.add_argument("--no-workers2", action="store_true", help="skip `serve --workers 2`")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profile")
    parser.add_argument("--no-python-ceiling", action="store_true",
                        help="skip the empty Python handler under granian (measured when granian is importable)")
    args = parser.parse_args()
    if args.quick:
        args.duration = 3
    ensure_tools()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    nginx_version = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True).stderr.strip()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, {wrk_version.split(' [')[0]}, "
          f"{nginx_version}; wrk -t{args.threads} -c{args.connections} -d{args.duration}s, 127.0.0.1")

    calendars = (ROOT / "calendars").resolve()
    centres = load_centres(calendars)
    codes = {cid: sorted(c) for cid, c in catalogue_codes(centres).items()}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # nginx's workers may run as another user: they must read static/
        db = f"sqlite:///{tmp / 'bench.db'}"
        store = open_store(db)
        store.import_learners(generate_learners(LEARNERS, SEED, centres, codes, YEAR))
        pairs = store.issue_tokens()
        store.close()
        # the learner with the most UEs: a larger-than-median feed
        learner, token = max(pairs, key=lambda p: (len(p[0].ues), p[0].status == "apprentissage", p[0].id))
        path = f"/feeds/personal/{token}.ics"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(":")}
        procs: list[subprocess.Popen] = []
        try:
            def serve(workers: int) -> tuple[subprocess.Popen, int]:
                port = free_port()
                cmd = [sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(calendars), "serve",
                       "--port", str(port), "--db", db, "--workers", str(workers)]
                proc = start(cmd, tmp, env, tmp / f"serve-{workers}.log")
                procs.append(proc)
                wait_ready(port, "/healthz", proc)
                return proc, port

            def nginx(workers: int, body: bytes) -> tuple[subprocess.Popen, int]:
                port = free_port()
                static = tmp / "static" / "feeds" / "personal"
                static.mkdir(parents=True, exist_ok=True)
                for d in (tmp / "static", tmp / "static" / "feeds", static):
                    d.chmod(0o755)
                (static / f"{token}.ics").write_bytes(body)
                (static / f"{token}.ics").chmod(0o644)
                conf = tmp / f"nginx-{workers}.conf"
                conf.write_text(NGINX_CONF.format(workers=workers, tmp=tmp, port=port))
                proc = start([nginx_binary(), "-c", str(conf), "-p", str(tmp)], tmp, env, tmp / "nginx.log")
                procs.append(proc)
                wait_ready(port, path, proc)
                return proc, port

            ours1, port = serve(1)
            status, headers, body = get(port, path)
            if status != 200:
                raise SystemExit(f"our server answered {status} for the personal feed")
            etag = headers["etag"]
            print(f"feed: learner {learner.id} ({learner.status}, {len(learner.ues)} UEs), {len(body):,} bytes, "
                  f"ETag {etag}")
            print("\nworkers: 1 (serve default) vs nginx worker_processes 1")
            ours = measure("ours (serve)", port, path, body, args)
            stack = ceiling("ours (serve)", port, args)
            stop(ours1)
            ng1, nport = nginx(1, body)
            theirs = measure("nginx static file", nport, path, body, args)
            stop(ng1)
            ratio_lines(ours, theirs, "(1 worker)")
            print(f"ceiling: /healthz {stack.rps / theirs['304'].rps:.1%} of nginx's 304 requests/s; our 304 is "
                  f"{ours['304'].rps / stack.rps:.0%} of /healthz")
            miss = ours["304"].rps / theirs["304"].rps < TARGET_304
            if not args.no_python_ceiling:
                python_ceiling(tmp, env, path, body, theirs, args, procs)

            if not args.no_workers2:
                print("\nworkers: 2 (serve --workers 2) vs nginx worker_processes 2")
                ours2, port = serve(2)
                ours_2 = measure("ours (serve -w 2)", port, path, body, args)
                stop(ours2)
                ng2, nport = nginx(2, body)
                theirs_2 = measure("nginx static file -w 2", nport, path, body, args)
                stop(ng2)
                ratio_lines(ours_2, theirs_2, "(2 workers)")
                print(f"serve --workers 2 / --workers 1: 200 {ours_2['200'].rps / ours['200'].rps:.2f}x, "
                      f"304 {ours_2['304'].rps / ours['304'].rps:.2f}x")
        finally:
            for proc in procs:
                stop(proc)
        if miss and not args.no_profile:
            profile_304(calendars, tmp / "output", db, token, 100 if args.quick else 300)
    return 0


if __name__ == "__main__":
    sys.exit(main())
