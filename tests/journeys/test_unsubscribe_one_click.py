"""A learner stops the e-mails from the e-mail itself: the daemon (with --base-url's address) sends a reminder
to the SMTP sink, the mailbox provider POSTs the List-Unsubscribe URL (RFC 8058), the store says opted out,
the daemon sends that learner nothing more; the « stop <key> » subject works with `reminders opt-out` too."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.mail.daemon import Daemon
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.store.delivery import list_deliveries, mail_preference
from tests.conftest import CALENDARS, FIXED_NOW
from tests.support.learner_site import Site, learner_site
from tests.support.server import run_command
from tests.support.smtp_sink import SmtpSink, running_sink


class Travel:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with learner_site(tmp_path) as s:
        yield s


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with running_sink() as server:
        yield server


def test_the_one_click_link_of_a_real_e_mail_stops_the_e_mails(site: Site, sink: SmtpSink, tmp_path: Path) -> None:
    clock = Travel(FIXED_NOW)
    mailer = Mailer("127.0.0.1", sink.port, lanes=1, sender="rappels@cnam.test", local_hostname="daemon.test",
                    timeout=10)
    daemon = Daemon(site.store, mailer, load_centres(CALENDARS), clock, "rappels@cnam.test", owner="test",
                    base_url=site.base)
    try:
        assert daemon.plan() is not None
        alice = list_deliveries(site.store, learner_id="A001", status="pending")
        assert len(alice) >= 2
        first = min(alice, key=lambda d: d.due_at)
        clock.now = first.due_at
        assert daemon.dispatch() >= 1
        mails = [message_from_bytes(m.data, policy=default_policy) for m in sink.messages]
        mail = next(m for m in mails if m["To"].addresses[0].addr_spec == "alice@example.org")
        key = site.store.learner_key("A001")
        url = f"{site.base}/unsubscribe/{key}"
        assert str(mail["List-Unsubscribe"]) == f"<{url}>, <mailto:rappels@cnam.test?subject=stop%20{key}>"  # the sender: --from
        assert str(mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"

        # what Gmail or Yahoo do when the learner clicks « Se désabonner »: a POST, no cookie, no CSRF token
        r = httpx.post(url, content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
        assert r.status_code == 200
        assert mail_preference(site.store, "A001") == "none"
        assert list_deliveries(site.store, learner_id="A001", status="pending") == []  # cancelled at once
        before = len(sink.messages)
        clock.now = max(d.due_at for d in alice)
        daemon.dispatch()
        assert all(message_from_bytes(m.data, policy=default_policy)["To"].addresses[0].addr_spec
                   != "alice@example.org" for m in sink.messages[before:])

        # the operator gets the « stop <key> » mail by hand: the subject itself names the learner
        subject = f"stop {key}"
        back = run_command(tmp_path, CALENDARS, "reminders", "opt-out", subject, "--undo", "--db", site.db)
        assert back.returncode == 0, back.stderr
        assert "A001 recevra de nouveau les rappels" in back.stdout
        assert mail_preference(site.store, "A001") == "each"
    finally:
        mailer.close()


def test_without_a_base_url_the_e_mail_offers_the_mailto_only(site: Site, sink: SmtpSink) -> None:
    clock = Travel(FIXED_NOW)
    mailer = Mailer("127.0.0.1", sink.port, lanes=1, sender="rappels@cnam.test", local_hostname="daemon.test",
                    timeout=10)
    daemon = Daemon(site.store, mailer, load_centres(CALENDARS), clock, "rappels@cnam.test", owner="test")
    try:
        daemon.plan()
        clock.now = min(d.due_at for d in list_deliveries(site.store, status="pending"))
        assert daemon.dispatch() >= 1
        mail = message_from_bytes(sink.messages[0].data, policy=default_policy)
        assert str(mail["List-Unsubscribe"]).startswith("<mailto:") and "," not in str(mail["List-Unsubscribe"])
        assert mail["List-Unsubscribe-Post"] is None  # RFC 8058 needs the https URL
    finally:
        mailer.close()
