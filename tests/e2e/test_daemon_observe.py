"""What the operator sees of the daemon: one log line per outcome, `reminders status`/`failures`, /metrics.

A real store (SQLite file and PostgreSQL schema), a real SMTP server (aiosmtpd) with its faults, the
daemon in process on a clock the test moves; `status` and `failures` through the CLI on that clock.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from cnam_calendar.mail.daemon import Daemon
from cnam_calendar.mail.metrics import DaemonMetrics
from cnam_calendar.mail.observe import Observer
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.oplog import JsonFormatter
from cnam_calendar.store.database import Store, open_store
from cnam_calendar.store.delivery import get_delivery, status_counts, sync_plan
from tests.conftest import CALENDARS, invoke
from tests.contract.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)
from tests.e2e.test_daemon import SENDER, Travel, enrol, hand_made
from tests.support.server import free_port
from tests.support.smtp_sink import running_sink

UTC = timezone.utc
TARGET = date(2026, 12, 8)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:  # noqa: F811
    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture
def journal() -> Iterator[io.StringIO]:
    """What the daemon logs, one JSON line per record (the formatter of --log-format json)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("cnam_calendar")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)


def events(journal: io.StringIO, name: str) -> list[dict]:
    lines = [json.loads(line) for line in journal.getvalue().splitlines()]  # every line parses as JSON
    return [line for line in lines if line["event"] == name]


def make(store: Store, port: int, clock: Travel, metrics: DaemonMetrics | None = None, lanes: int = 1) -> Daemon:
    mailer = Mailer("127.0.0.1", port, lanes=lanes, sender=SENDER, local_hostname="daemon.test", timeout=10)
    return Daemon(store, mailer, [], clock, SENDER, owner="test-daemon", observer=Observer(metrics))


def seed(store: Store, clock: Travel, *learners: str) -> dict[str, str]:
    """One J-1 reminder per learner (e-mail ``<id>@example.org``), due at 09:00 Paris on 7 December; return their keys."""
    enrol(store, *learners)
    plan = [r for learner in learners
            for r in hand_made(learner, f"deadline-{learner}", TARGET, (1,), email=f"{learner.lower()}@example.org")]
    sync_plan(store, plan, clock.now - timedelta(days=1))
    return {r.learner_id: r.key for r in plan}


def cli_json(url: str, *args: str, at: datetime) -> dict | list:
    result = invoke("reminders", "--db", url, *args, "--format", "json", clock=at)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def sample(metrics: DaemonMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_451_then_250_and_a_550_are_each_logged_once_with_the_reply_and_counted_everywhere(
        store, db_url, journal):  # noqa: F811
    due = hand_made("A", "x", TARGET, (1,))[0].due_at
    clock = Travel(due)
    keys = seed(store, clock, "A", "B", "C")
    metrics = DaemonMetrics(lambda: status_counts(store))
    with running_sink() as sink:
        sink.tempfail(1)  # the first DATA (A's) answered 451
        sink.refuse("b@example.org")  # B refused at RCPT: 550
        daemon = make(store, sink.port, clock, metrics)
        daemon.announce({"base": store.url})
        assert daemon.dispatch() == 3

        retried, failed = events(journal, "retried"), events(journal, "failed")
        assert [(e["key"], e["learner"], e["attempt"], e["reason"]) for e in retried] == [
            (keys["A"], "A", 1, "451 4.3.0 try again later")]
        next_attempt = get_delivery(store, keys["A"]).due_at
        assert datetime.fromisoformat(retried[0]["next_attempt"]) == next_attempt > due
        assert [(e["key"], e["learner"], e["reason"]) for e in failed] == [
            (keys["B"], "B", "550 5.1.1 mailbox unavailable")]
        assert [(e["key"], e["attempt"]) for e in events(journal, "sent")] == [(keys["C"], 1)]

        # what `reminders status` and `reminders failures` say meanwhile
        status = cli_json(db_url, "status", at=clock.now + timedelta(seconds=3))
        assert (status["pending"], status["failed"], status["sent"]) == (1, 1, 1)
        assert status["retrying"] == {"count": 1, "next_attempt": next_attempt.isoformat(),
                                      "by_reply": [{"reply": "451 4.3.0 try again later", "count": 1}]}
        assert status["failed_by_reply"] == [{"reply": "550 5.1.1 mailbox unavailable", "count": 1}]
        failures = cli_json(db_url, "failures", at=clock.now)
        assert [(f["learner_id"], f["key"], f["reply"]) for f in failures] == [
            ("B", keys["B"], "550 5.1.1 mailbox unavailable")]
        text = invoke("reminders", "--db", db_url, "status", clock=clock.now + timedelta(seconds=3)).stdout
        assert "reportés : 1 ; prochain essai le " in text and "451 4.3.0 try again later" in text
        assert "échecs par réponse du serveur :\n       1  550 5.1.1 mailbox unavailable" in text
        assert "démon test-daemon : dernier passage il y a 3 s" in text

        clock.now = next_attempt  # the retry falls due: 250 this time
        assert daemon.dispatch() == 1
        daemon.mailer.close()
        assert [(e["key"], e["attempt"]) for e in events(journal, "sent")] == [(keys["C"], 1), (keys["A"], 2)]
        assert len(events(journal, "retried")) == len(events(journal, "failed")) == 1  # once each, not again

    assert sample(metrics, "cnam_calendar_reminders_sent_total") == 2
    assert sample(metrics, "cnam_calendar_reminders_retried_total") == 1
    assert sample(metrics, "cnam_calendar_reminders_failed_total") == 1
    assert sample(metrics, "cnam_calendar_reminder_lateness_seconds_count") == 2
    # C on time, A late by its backoff (between 30 s and a minute): the sum is A's lateness
    assert sample(metrics, "cnam_calendar_reminder_lateness_seconds_sum") == (next_attempt - due).total_seconds()
    assert sample(metrics, "cnam_calendar_reminder_lateness_seconds_bucket", le="1.0") == 1
    assert sample(metrics, "cnam_calendar_last_dispatch_timestamp_seconds") == next_attempt.timestamp()
    assert sample(metrics, "cnam_calendar_reminders", status="failed") == 1
    assert sample(metrics, "cnam_calendar_reminders", status="pending") == 0
    assert cli_json(db_url, "failures", "--since", "2026-12-08", at=clock.now) == []  # answered on the 7th

    # and over HTTP, in the Prometheus text format
    port = free_port()
    server = metrics.serve(port)
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
    assert "cnam_calendar_reminders_sent_total 2.0" in body
    assert 'cnam_calendar_reminders{status="failed"} 1.0' in body


def test_a_relay_refusing_connections_is_one_line_one_outage_in_metrics_and_said_by_status(
        store, db_url, journal):  # noqa: F811
    due = hand_made("A", "x", TARGET, (1,))[0].due_at
    clock = Travel(due)
    seed(store, clock, "A")
    port = free_port()  # nothing listens there
    metrics = DaemonMetrics(lambda: status_counts(store))
    daemon = make(store, port, clock, metrics)
    daemon.announce({"base": store.url})
    for _ in range(4):  # the backoff runs out each time: tried again, still refused
        daemon.dispatch()
        clock.now += timedelta(seconds=5)
    outages = events(journal, "outage")
    assert len(outages) == 1 and "connexion refusée" in outages[0]["reason"], outages
    assert outages[0]["part"] == f"le relais SMTP 127.0.0.1:{port}"
    assert events(journal, "retried") == [] and status_counts(store)["pending"] == 1  # no attempt counted
    assert sample(metrics, "cnam_calendar_relay_outages_total") == 1
    assert sample(metrics, "cnam_calendar_relay_up") == 0

    text = invoke("reminders", "--db", db_url, "status", clock=clock.now).stdout
    assert f"Attention : démon test-daemon : relais SMTP injoignable depuis 2026-12-07 09:00:00 (20 s) : " \
           f"connexion impossible à 127.0.0.1:{port} : connexion refusée" in text
    daemons = cli_json(db_url, "status", at=clock.now)["daemons"]
    assert "connexion refusée" in daemons[0]["relay_error"]

    with running_sink(port=port):
        assert daemon.dispatch() == 1
        daemon.mailer.close()
    assert len(events(journal, "recovered")) == 1 and len(events(journal, "sent")) == 1
    assert sample(metrics, "cnam_calendar_relay_up") == 1
    clock.now += timedelta(seconds=5)
    daemon.dispatch()  # the next heartbeat no longer carries the relay's failure
    assert "relais SMTP injoignable" not in invoke("reminders", "--db", db_url, "status", clock=clock.now).stdout


def test_an_expired_reminder_is_logged_and_counted(store, journal, tmp_path):
    clock = Travel(datetime(2026, 12, 9, 8, 0, tzinfo=UTC))  # the day after the deadline of 8 December
    keys = seed(store, clock, "A")
    metrics = DaemonMetrics()
    with running_sink() as sink:
        daemon = make(store, sink.port, clock, metrics)
        assert daemon.dispatch() == 0
        assert sink.messages == []
    assert [(e["key"], e["learner"]) for e in events(journal, "expired")] == [(keys["A"], "A")]
    assert sample(metrics, "cnam_calendar_reminders_expired_total") == 1


def test_the_heartbeat_is_shown_and_a_warning_when_it_grows_old(store, db_url):  # noqa: F811
    start = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    said = invoke("reminders", "--db", db_url, "status", clock=start).stdout
    assert "Attention : aucun démon n'a tourné sur cette base" in said
    clock = Travel(start)
    with running_sink() as sink:
        daemon = make(store, sink.port, clock)
        daemon.announce({"base": store.url})
        daemon.dispatch()
        daemon.mailer.close()

    def status(after: timedelta) -> str:
        return invoke("reminders", "--db", db_url, "status", clock=start + after).stdout

    assert "démon test-daemon : dernier passage il y a 3 s" in status(timedelta(seconds=3))
    assert "Attention" not in status(timedelta(seconds=29))  # within a few dispatch periods (at least 30 s)
    assert ("Attention : démon test-daemon : aucun passage depuis 4 min (2026-12-07 09:00:00), attendu toutes les 2 s"
            in status(timedelta(minutes=4)))
    stale = cli_json(db_url, "status", at=start + timedelta(minutes=4))["daemons"]
    assert [(d["owner"], d["stale"], d["seconds_since_dispatch"]) for d in stale] == [("test-daemon", True, 240.0)]

    clock.now = start + timedelta(minutes=5)
    daemon.stopped()  # a clean stop is not a worry, but nobody sends any more
    assert "Attention : aucun démon en marche ; le dernier, test-daemon, s'est arrêté le 2026-12-07 09:05:00" in \
        status(timedelta(minutes=6))


def test_status_on_the_calendars_of_the_repository_is_unchanged_for_the_counts(store, db_url):  # noqa: F811
    result = invoke("--calendars", str(CALENDARS), "reminders", "--db", db_url, "status",
                    clock=datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    assert result.exit_code == 0
    assert result.stdout.startswith("pending            0  en attente\n")
    assert "total              0\n" in result.stdout


def test_the_real_daemon_logs_json_lines_masks_its_secrets_and_serves_metrics(tmp_path):
    import subprocess

    from tests.support.daemons import daemon_cmd, daemon_env, seed_burst, sent_rows, stop, wait_until

    url = f"sqlite:///{tmp_path / 'burst.db'}"
    keys = seed_burst(url, 5, due_at=datetime.now(UTC) - timedelta(minutes=1), learners=5)
    metrics_port = free_port()
    log = tmp_path / "daemon.log"
    with running_sink(auth={"rappels": "hunter2"}) as sink, open(log, "wb") as out:
        sink.tempfail(1)
        sink.refuse("b0001@example.org")
        cmd = [*daemon_cmd(url, sink.port, lanes=1), "--smtp-user", "rappels", "--log-format", "json",
               "--metrics-port", str(metrics_port)]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env={**daemon_env(), "CNAM_CALENDAR_SMTP_PASSWORD": "hunter2"},
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: sent_rows(url) == 3, 60, "three sent, one retried, one failed", (proc,), every=0.25)
            wait_until(lambda: "cnam_calendar_reminders_sent_total 3.0" in _get(metrics_port), 30, "/metrics", (proc,))
            body = _get(metrics_port)
        finally:
            assert stop(proc) == 0
    assert "cnam_calendar_reminders_failed_total 1.0" in body and "cnam_calendar_reminders_retried_total 1.0" in body
    text = log.read_text(encoding="utf-8")
    assert "hunter2" not in text and "Traceback" not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    by_event = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)
    assert by_event["start"][0]["config"]["smtp_password"] == "***"
    assert by_event["start"][0]["config"]["smtp_user"] == "rappels"
    assert [e["key"] for e in by_event["failed"]] == [keys[1]]
    assert [e["key"] for e in by_event["retried"]] == [keys[0]]
    assert len(by_event["sent"]) == 3 and len(by_event["plan"]) == 1
    assert by_event["stop"][0]["sent"] == 3 and by_event["stop"][0]["failed"] == 1


def _get(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return ""


def test_a_daemon_whose_row_is_missing_writes_it_at_its_next_dispatch(store, db_url):  # noqa: F811
    from sqlalchemy import delete

    from cnam_calendar.store.database import daemon_heartbeats_table

    clock = Travel(datetime(2026, 12, 7, 8, 0, tzinfo=UTC))
    with running_sink() as sink:
        daemon = make(store, sink.port, clock)
        daemon.announce({"base": store.url})
        with store.engine.begin() as conn:  # as if the store had been away when it started
            conn.execute(delete(daemon_heartbeats_table))
        clock.now += timedelta(seconds=10)
        daemon.dispatch()
        daemon.mailer.close()
    said = invoke("reminders", "--db", db_url, "status", clock=clock.now + timedelta(seconds=2)).stdout
    assert "démon test-daemon : dernier passage il y a 2 s" in said
