"""Benchmarks of a national deployment (issue 17, point 7): one instance for some twenty regional centres.

Run from the project root (PostgreSQL on 127.0.0.1:5432, Debian's nginx and wrk for `http`):

    python bench/network_bench.py                        # all three at full size; ~30 min on 2 CPUs
    python bench/network_bench.py --small                # 10,000 learners, 5,000 reminders, 5 s of wrk
    python bench/network_bench.py --only plan --learners 500000
    python bench/network_bench.py --only burst --reminders 50000
    python bench/network_bench.py --only http --seconds 20

1. `plan`: 20 generated centres (each a copy of calendars/ipst-cnam.toml with its own id and a
   share of the 96 metropolitan departments, and its catalogue), N generated learners over them
   (`generate_learners`, seed 1, year 2026) imported into a fresh PostgreSQL schema; then, in fresh
   child processes (bench/daemon_memory_bench.py's), the baseline (import the package, load the
   learners) and the planner (`Daemon.plan`: a whole academic year planned and written, as the
   daemon does at start and every night). Peak RSS and seconds of each; targets for 500,000
   learners: peak <= 2 GB, time <= 15 min. The table must hold every row planned.
2. `burst`: N real reminders (bench/reminder_rows.py) all due at one instant (09:00 in the
   issue's words; here a wall-clock instant a few seconds after they are written), an aiosmtpd
   sink in its own process that waits 20 ms before answering each DATA (a relay's pace), and two
   real daemon processes (`cnam-calendar daemon --lanes 8`) on one PostgreSQL schema. Printed:
   accepted minus due p50/p99/max (target p99 <= 5 min), lost, duplicates (both must be 0; the
   sink records each Message-ID before its 250), and the share each daemon sent. The baseline: the
   time 16 connections would need at 20 ms a message with no work of their own (N x 20 ms / 16).
3. `http`: `serve --workers 2` on a SQLite store of N learners with feed tokens, behind nginx
   with the site of deploy/nginx/ (tests/support/nginx.py: TLS, self-signed), and `wrk` over
   https on the personal feeds of K learners at random, each with Accept-Encoding: gzip as
   calendar apps send it: every request plain (200), then 70 % with the feed's ETag in
   If-None-Match (304, what a phone polling every 5 min mostly gets), for --seconds each. Printed: requests/s (target 1,700 = 500,000 phones every 5 min), p50/p99
   latency and errors (socket errors, statuses other than 200 and 304), and the ratio to nginx
   answering a static file of the same bytes (its ceiling on this machine).

wrk, nginx, the server and the daemons share the machine's CPUs: the figures say so.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_memory_bench import run_child  # noqa: E402
from reminder_rows import (  # noqa: E402
    CALENDARS,
    PG_DEFAULT,
    ROOT,
    accepted,
    fresh_database,
    percentile,
    real_reminders,
    seed_due,
    stop_all,
)

from cnam_calendar.mail.compose import message_id  # noqa: E402
from cnam_calendar.store.database import open_store  # noqa: E402
from cnam_calendar.store.delivery import status_counts  # noqa: E402
from tests.support.smtp_sink import end_process, read_record, sink_process  # noqa: E402

CENTRES = 20
DEPARTMENTS = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]  # 96 metropolitan departments
SENDER = "rappels@cnam.test"
RELAY_DELAY = 0.020
PLAN_TARGET_S, PLAN_TARGET_MB, LATE_TARGET_S, RATE_TARGET = 15 * 60, 2048, 5 * 60, 1700


def env_for_children() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for name in list(env):
        if name.startswith("CNAM_CALENDAR_"):
            env.pop(name)
    return env


def make_centres(folder: Path, count: int = CENTRES) -> Path:
    """Write COUNT centre files (ipst-cnam's rules, each its own id and departments) and catalogues."""
    template = (CALENDARS / "ipst-cnam.toml").read_text(encoding="utf-8")
    catalogue = (CALENDARS / "ipst-cnam.ues.csv").read_text(encoding="utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    share = -(-len(DEPARTMENTS) // count)
    for i in range(count):
        cid = f"centre-{i + 1:02d}"
        departments = ", ".join(f'"{d}"' for d in DEPARTMENTS[i * share:(i + 1) * share])
        text = re.sub(r'^id = .*$', f'id = "{cid}"', template, count=1, flags=re.MULTILINE)
        text = re.sub(r'^name = .*$', f'name = "Cnam centre {i + 1:02d}"', text, count=1, flags=re.MULTILINE)
        text = re.sub(r'^departments = .*$', f"departments = [{departments}]", text, count=1, flags=re.MULTILINE)
        (folder / f"{cid}.toml").write_text(text, encoding="utf-8")
        (folder / f"{cid}.ues.csv").write_text(catalogue, encoding="utf-8")
    return folder


# 1. plan

def bench_plan(n: int, db: str, workdir: Path) -> dict:
    from cnam_calendar.inputs.catalogue import load_catalogue
    from cnam_calendar.inputs.config import load_centres
    from cnam_calendar.inputs.roster import generate_learners

    calendars = make_centres(workdir / "calendars")
    centres = load_centres(calendars)
    codes = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    with fresh_database(db, workdir, "plan") as url:
        start = time.perf_counter()
        learners = generate_learners(n, 1, centres, codes, 2026)
        store = open_store(url)
        try:
            store.import_learners(learners)
        finally:
            store.close()
        del learners
        setup = time.perf_counter() - start
        print(f"  plan: {n} learners over {len(centres)} centres generated and imported in {setup:.0f} s", flush=True)
        base, base_mb = run_child("baseline", url, calendars=calendars)
        if base["learners"] != n:
            raise SystemExit(f"baseline loaded {base['learners']} learners of {n}: wrong result")
        plan, plan_mb = run_child("planner", url, calendars=calendars)
        if plan["rows"] != plan["created"] or plan["created"] == 0:
            raise SystemExit(f"planner wrote {plan['created']} rows, the table holds {plan['rows']}: wrong result")
    return {"learners": n, "rows": plan["created"], "seconds": plan["seconds"], "peak_mb": plan_mb,
            "base_seconds": base["seconds"], "base_mb": base_mb, "setup": setup}


# 2. burst

def start_daemon(url: str, port: int, lanes: int, log: Path, workdir: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), "daemon", "--db", url,
           "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--lanes", str(lanes), "--dispatch-every", "0.2",
           "--from", SENDER]
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, cwd=workdir, env=env_for_children(), stdout=out, stderr=subprocess.STDOUT)


def bench_burst(n: int, db: str, workdir: Path, daemons: int, lanes: int, lead: float, timeout: float) -> dict:
    learners, reminders = real_reminders(n)
    record = workdir / "burst.tsv"
    with fresh_database(db, workdir, "burst") as url:
        open_store(url).close()  # the schema (cnam-calendar init), before the daemons open it
        with sink_process(record, "--delay", str(RELAY_DELAY)) as port:
            logs = [workdir / f"daemon-{i}.log" for i in range(daemons)]
            procs = [start_daemon(url, port, lanes, log, workdir) for log in logs]
            try:
                deadline = time.monotonic() + 120
                while not all(b"plan " in log.read_bytes() or b"d\xc3\xa9mon" in log.read_bytes() for log in logs):
                    if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                        raise SystemExit("a daemon did not start: " + " | ".join(log.read_text(errors="replace")
                                                                                for log in logs))
                    time.sleep(0.05)
                due, plan = seed_due(url, learners, reminders, lead)
                deadline = time.monotonic() + lead + timeout
                while accepted(record) < len(plan):
                    if any(p.poll() is not None for p in procs):
                        raise SystemExit("a daemon exited: " + " | ".join(log.read_text(errors="replace") for log in logs))
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.25)
            finally:
                stop_all(procs, timeout=60)
        store = open_store(url)
        try:
            counts = status_counts(store)
            from sqlalchemy import text

            with store.engine.connect() as conn:
                owners = dict(conn.execute(text(
                    "SELECT lease_owner, count(*) FROM reminder_deliveries WHERE status = 'sent' GROUP BY lease_owner"
                )).all())
        finally:
            store.close()
    rows = read_record(record)
    ids = Counter(mid for mid, _, _ in rows)
    expected = {message_id(r.key) for r in plan}
    lost = len(expected - set(ids))
    duplicates = sum(c - 1 for c in ids.values() if c > 1)
    late = sorted(at - due.timestamp() for _, at, _ in rows)
    tracebacks = sum(log.read_text(errors="replace").count("Traceback") for log in logs)
    return {"n": n, "late": late, "lost": lost, "duplicates": duplicates, "counts": counts, "owners": owners,
            "tracebacks": tracebacks, "floor": n * RELAY_DELAY / (daemons * lanes), "daemons": daemons, "lanes": lanes}


# 3. http

LUA = """
local paths = {%(paths)s}
local etags = {%(etags)s}
local share = %(share)s
math.randomseed(%(seed)d)
request = function()
  local i = math.random(#paths)
  if math.random() < share then
    return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip", ["If-None-Match"] = etags[i]})
  end
  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})
end
local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%.0f %%.0f %%d\\n", summary.requests, summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
"""


def wrk(url: str, script: Path, seconds: int, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"^RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$", out.stdout, re.MULTILINE)
    if not found:
        raise SystemExit(f"wrk said: {out.stdout} {out.stderr}")
    requests, socket_errors, status_errors, p50, p99, duration = map(int, found.groups())
    return {"rps": requests / (duration / 1e6), "requests": requests, "errors": socket_errors + status_errors,
            "p50_ms": p50 / 1000, "p99_ms": p99 / 1000}


def bench_http(n: int, sample: int, seconds: int, connections: int, workdir: Path) -> dict:
    import httpx

    from cnam_calendar.inputs.catalogue import load_catalogue
    from cnam_calendar.inputs.config import load_centres
    from cnam_calendar.inputs.roster import generate_learners
    from tests.support.nginx import running_nginx
    from tests.support.server import running_server

    centres = load_centres(CALENDARS)
    codes = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    db = workdir / "http.db"
    store = open_store(str(db))
    try:
        learners = generate_learners(n, 1, centres, codes, 2026)
        store.import_learners(learners)
        chosen = random.Random(1).sample([learner.id for learner in learners], min(sample, n))
        tokens = [store.issue_token(learner_id) for learner_id in chosen]
    finally:
        store.close()
    paths = [f"/feeds/personal/{t}.ics" for t in tokens]
    results: dict[str, dict] = {}
    with running_server(("--calendars", str(CALENDARS)), cwd=workdir, env=env_for_children(),
                        extra=["--db", str(db), "--workers", "2"]) as direct, \
            running_nginx(int(direct.rsplit(":", 1)[1]), workdir, workers=1) as nginx:
        import ssl

        context = ssl.create_default_context(cafile=str(nginx.cert))
        with httpx.Client(base_url=nginx.https, verify=context) as client:
            # warm, and the ETags of the gzip variant: what calendar apps ask for (Accept-Encoding: gzip)
            first = [client.get(p, headers={"Accept-Encoding": "gzip"}) for p in paths]
        if any(r.status_code != 200 for r in first):
            raise SystemExit("a personal feed did not answer 200 through nginx: wrong result")
        etags = [r.headers["etag"] for r in first]
        for name, share in (("mix 70 % 304", 0.7), ("200", 0.0)):
            script = workdir / f"wrk-{share}.lua"
            script.write_text(LUA % {"paths": ",".join(json.dumps(p) for p in paths),
                                     "etags": ",".join(json.dumps(e) for e in etags), "share": share, "seed": 1})
            results[name] = wrk(nginx.https, script, seconds, connections)
            print(f"  http {name}: {results[name]['rps']:.0f} req/s, p99 {results[name]['p99_ms']:.1f} ms, "
                  f"{results[name]['errors']} errors", flush=True)
        # nginx's ceiling on this machine: a static file of the same bytes, same TLS, same wrk
        static = workdir / "static"
        static.mkdir(exist_ok=True)
        (static / "feed.ics").write_bytes(gzip.compress(first[0].content))  # the bytes ours sends
        ceiling = static_nginx_rps(static, workdir, seconds, connections)
    results["static nginx"] = ceiling
    return {"results": results, "learners": n, "sample": len(paths), "bytes": len(gzip.compress(first[0].content))}


def static_nginx_rps(static: Path, workdir: Path, seconds: int, connections: int) -> dict:
    from tests.support.nginx import self_signed
    from tests.support.server import free_port

    prefix = workdir / "nginx-static"
    prefix.mkdir(exist_ok=True)
    cert, key = self_signed(prefix)
    port = free_port()
    temp = "".join(f"{name}_temp_path {prefix / name}; " for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"{user} worker_processes 1; pid {prefix / 'nginx.pid'}; error_log {prefix / 'error.log'} warn;"
        " events { worker_connections 4096; }"
        f" http {{ access_log off; {temp} server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {cert};"
        f" ssl_certificate_key {key}; location / {{ root {static}; types {{ text/calendar ics; }} etag on; }} }} }}")
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf"),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # nginx starts in milliseconds; wrk fails loudly otherwise
        script = workdir / "wrk-static.lua"
        script.write_text(LUA % {"paths": '"/feed.ics"', "etags": '""', "share": 0.0, "seed": 1})
        return wrk(f"https://127.0.0.1:{port}", script, seconds, connections)
    finally:
        end_process(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="10,000 learners, 5,000 reminders, 5 s of wrk")
    parser.add_argument("--only", default="plan,burst,http", help="comma-separated: plan, burst, http")
    parser.add_argument("--learners", type=int, help="learners planned (default 500,000; 10,000 with --small)")
    parser.add_argument("--reminders", type=int, help="reminders due at once (default 50,000; 5,000 with --small)")
    parser.add_argument("--http-learners", type=int, default=20_000, help="learners in the HTTP store (20,000)")
    parser.add_argument("--sample", type=int, default=2000, help="learners whose feeds wrk asks for (2,000)")
    parser.add_argument("--seconds", type=int, help="seconds per wrk run (default 20; 5 with --small)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--daemons", type=int, default=2)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--lead", type=float, default=60.0, help="seconds between writing the burst and its due instant")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up on the burst after this many seconds")
    parser.add_argument("--db", default=PG_DEFAULT, help=f"PostgreSQL URL, a fresh schema per run ({PG_DEFAULT})")
    args = parser.parse_args()
    only = set(args.only.split(","))
    learners = args.learners or (10_000 if args.small else 500_000)
    reminders = args.reminders or (5_000 if args.small else 50_000)
    seconds = args.seconds or (5 if args.small else 20)
    load = os.getloadavg()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at start; store PostgreSQL ({args.db.split('@')[-1]})", flush=True)
    lines = []
    with tempfile.TemporaryDirectory(prefix="network-bench-") as tmp:
        workdir = Path(tmp)
        if "plan" in only:
            r = bench_plan(learners, args.db, workdir)
            lines.append(f"plan: {r['learners']} learners, 20 centres, {r['rows']} rows in {r['seconds']:.0f} s "
                         f"({r['seconds'] / PLAN_TARGET_S:.2f}x the 15 min target), peak {r['peak_mb']:.0f} MB "
                         f"({r['peak_mb'] / PLAN_TARGET_MB:.2f}x the 2 GB target); baseline (import, load the "
                         f"learners) {r['base_seconds']:.0f} s, {r['base_mb']:.0f} MB: ratio "
                         f"{r['peak_mb'] / r['base_mb']:.1f}x; setup (generate, import) {r['setup']:.0f} s; "
                         f"{r['seconds'] * 1000 / r['learners']:.2f} ms per learner"
                         + ("" if r["learners"] == 500_000 else
                            f" (500,000 at that pace: {r['seconds'] * 500_000 / r['learners']:.0f} s)"))
            print("  " + lines[-1], flush=True)
        if "burst" in only:
            r = bench_burst(reminders, args.db, workdir, args.daemons, args.lanes, args.lead, args.timeout)
            late = r["late"]
            if late:
                lines.append(f"burst: {r['n']} due at once, {r['daemons']} daemons x {r['lanes']} lanes, relay "
                             f"{RELAY_DELAY * 1000:.0f} ms/message: accepted - due p50 {percentile(late, 50):.1f} s, "
                             f"p99 {percentile(late, 99):.1f} s ({percentile(late, 99) / LATE_TARGET_S:.2f}x the 5 min "
                             f"target), max {late[-1]:.1f} s; floor (16 idle connections) {r['floor']:.1f} s: p99 "
                             f"{percentile(late, 99) / r['floor']:.2f}x; lost {r['lost']}, duplicates "
                             f"{r['duplicates']}, tracebacks {r['tracebacks']}; table {r['counts']['sent']} sent; "
                             f"per daemon {sorted(r['owners'].values())}")
            else:
                lines.append(f"burst: nothing accepted; lost {r['lost']}")
            print("  " + lines[-1], flush=True)
        if "http" in only:
            r = bench_http(args.http_learners, args.sample, seconds, args.connections, workdir)
            ceiling = r["results"]["static nginx"]["rps"]
            for name, m in r["results"].items():
                lines.append(f"http {name}: {m['rps']:.0f} req/s ({m['rps'] / RATE_TARGET:.2f}x the 1,700 target; "
                             f"{m['rps'] / ceiling:.2f}x nginx static), p50 {m['p50_ms']:.1f} ms, p99 "
                             f"{m['p99_ms']:.1f} ms, errors {m['errors']} of {m['requests']}")
            lines.append(f"http: serve --workers 2 behind nginx (TLS), {r['learners']} learners in the store, "
                         f"{r['sample']} feeds asked at random, gzip ({r['bytes']} bytes the first), wrk -t2 "
                         f"-c{args.connections} -d{seconds}s on the same CPUs")
    load = os.getloadavg()
    print(f"\nload average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
