"""`serve`'s /metrics (Prometheus text format) and /healthz over real HTTP, its JSON log, several workers.

Requests are counted by route template, never by raw path: a personal feed's token never shows in
/metrics. With --workers 2, whichever worker answers /metrics gives the figures of both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CALENDARS
from tests.contract.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)
from tests.support.pg_server import own_pg_server
from tests.support.server import running_server

ROSTER = ("id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,"
          "training_start,lang\nM1,m1@example.org,Marie,Petit,ipst-cnam,31,individuel,NFA031,2026-10-01,,,fr\n")
REQUESTS = "cnam_calendar_http_requests"
LATENCY = "cnam_calendar_http_request_duration_seconds"


def cli(cwd: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), *args],
                          cwd=cwd, env={**os.environ, "CNAM_CALENDAR_DB": db}, capture_output=True, text=True,
                          timeout=120)


def samples(body: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(body) for s in family.samples]


def value(body: str, name: str, **labels: str) -> float:
    return sum(v for n, got, v in samples(body) if n == name and all(got.get(k) == w for k, w in labels.items()))


def with_password(url: str) -> str:
    """The same database, with a password in the URL (PostgreSQL trusts us: it is never checked, only hidden)."""
    return url.replace("postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:topsecret@") \
        if url.startswith("postgresql") else url


def test_requests_are_counted_by_route_template_and_status_the_token_never_shows(
        tmp_path: Path, db_url: str) -> None:  # noqa: F811
    db = with_password(db_url)
    (tmp_path / "learners.csv").write_text(ROSTER, encoding="utf-8")
    assert cli(tmp_path, db, "learners", "import", "learners.csv", "-q").returncode == 0
    log = tmp_path / "serve.log"
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path, env={"CNAM_CALENDAR_DB": db},
                        extra=["--log-format", "json"], log=log) as base:
        url = cli(tmp_path, db, "learners", "issue-token", "M1", "--base-url", base).stdout.strip()
        token = url.rsplit("/", 1)[1].removesuffix(".ics")
        with httpx.Client(timeout=30) as client:
            assert [client.get(url).status_code for _ in range(2)] == [200, 200]
            assert client.get(f"{base}/feeds/personal/{'x' * 43}.ics").status_code == 404
            assert client.head(f"{base}/feeds/ipst-cnam/2026.ics").status_code == 200
            assert client.get(f"{base}/nowhere/{token}").status_code == 404
            r = client.get(f"{base}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=")
    body = r.text
    assert token not in body and "x" * 43 not in body and "/nowhere" not in body
    personal = "/feeds/personal/{token}.ics"
    assert value(body, REQUESTS + "_total", route=personal, method="GET", status="200") == 2
    assert value(body, REQUESTS + "_total", route=personal, status="404") == 1
    assert value(body, REQUESTS + "_total", route="/feeds/{centre}/{year}.ics", method="HEAD", status="200") == 1
    assert value(body, REQUESTS + "_total", route="/{path:path}", status="404") == 1
    assert value(body, LATENCY + "_count", route=personal) == 3
    assert value(body, LATENCY + "_bucket", route=personal, le="+Inf") == 3

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    start = [line for line in lines if line["event"] == "start"]
    assert len(start) == 1 and start[0]["logger"] == "cnam_calendar.web"
    assert start[0]["config"]["workers"] == 1 and start[0]["config"]["base_url"] == base
    assert "topsecret" not in log.read_text() and "Traceback" not in log.read_text()
    assert [line["message"] for line in lines if line["event"] == "stop"] == ["arrêt du serveur"]
    if db.startswith("postgresql"):
        assert start[0]["config"]["base"].startswith("postgresql+psycopg://postgres:***@127.0.0.1")


def test_with_two_workers_metrics_add_up_whichever_worker_answers(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path, env={"CNAM_CALENDAR_DB": db},
                        extra=["--workers", "2"]) as base:
        pids: set[str] = set()
        sent = 0
        with httpx.Client(timeout=30) as client:  # a new connection per request lands on either worker
            while sent < 30 or (len(pids) < 2 and sent < 500):  # until each worker has answered some
                r = client.get(f"{base}/feeds/ipst-cnam/2026.ics", headers={"Connection": "close"})
                assert r.status_code == 200
                pids.add(r.headers["x-worker-pid"])
                sent += 1
            bodies = {}
            for _ in range(500):  # until each worker has answered once
                r = client.get(f"{base}/metrics", headers={"Connection": "close"})
                bodies.setdefault(r.headers["x-worker-pid"], r.text)
                if len(bodies) == 2:
                    break
    assert len(pids) == 2, pids
    assert len(bodies) == 2, "both workers answered /metrics"
    for body in bodies.values():  # each sums both workers' files (multiprocess mode)
        assert value(body, REQUESTS + "_total", route="/feeds/{centre}/{year}.ics", status="200") == sent


def test_healthz_fails_while_the_store_does_not_answer_and_recovers(tmp_path: Path) -> None:
    with own_pg_server() as pg:
        log = tmp_path / "serve.log"
        with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path, env={"CNAM_CALENDAR_DB": pg.url},
                            log=log) as base:
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
            pg.stop()
            r = httpx.get(f"{base}/healthz", timeout=30)
            assert (r.status_code, r.text) == (503, "base indisponible\n")
            assert r.headers["retry-after"] == "5"
            pg.start()
            assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        said = log.read_text()
    assert "la base ne répond pas à /healthz" in said and "Traceback" not in said
