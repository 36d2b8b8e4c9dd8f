"""`learners invite` → the delivery table → the daemon → an SMTP server: each learner gets their page link once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.mail.compose import compose, text_part
from cnam_calendar.mail.daemon import Daemon
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.rules.model import Learner
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries, set_opt_out
from tests.conftest import CALENDARS, invoke
from tests.support.smtp_sink import SmtpSink, running_sink
from tests.unit.test_explain_text import WORD as FRENCH_WORD

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
BASE = "https://calendrier.example.org"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with running_sink() as server:
        yield server


def cli(*args: str):
    return invoke("--calendars", str(CALENDARS), *args, clock=NOW)


def test_invite_sends_each_learner_their_page_link_once(tmp_path: Path, sink: SmtpSink) -> None:
    url = f"sqlite:///{tmp_path / 'invite.db'}"
    store = open_store(url)
    store.import_learners([
        Learner("F1", "f1@example.org", "Camille", "Martin", "ipst-cnam", "31", "individuel", ("NFA031",)),
        Learner("E1", "e1@example.org", "Alex", "Smith", "ipst-cnam", "31", "cpf", lang="en"),
        Learner("H1", "h1@example.org", "Sam", "Roux", "ipst-cnam", "31", "individuel"),
        Learner("O1", "o1@example.org", "Lou", "Petit", "ipst-cnam", "31", "individuel"),
    ])
    old = store.issue_token("H1")  # H1 already has a link (the CSV of issue-token --all, say)
    set_opt_out(store, "O1")
    store.close()

    done = cli("learners", "invite", "--all", "--db", url, "--base-url", BASE)
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("2 invitations prévues")
    assert "1 apprenant a déjà un lien (H1)" in done.stderr and "1 apprenant désinscrit des e-mails (O1)" in done.stderr
    again = cli("learners", "invite", "F1", "--db", url, "--base-url", BASE)
    assert again.exit_code == 0 and again.stdout.startswith("0 invitation prévue")  # still on its way: not twice
    renew = cli("learners", "invite", "H1", "--renew", "--db", url, "--base-url", BASE)
    assert renew.exit_code == 0 and renew.stdout.startswith("1 invitation prévue")
    bad = cli("learners", "invite", "--db", url)
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr and "donnez des identifiants, ou --all" in bad.stderr

    store = open_store(url)
    mailer = Mailer("127.0.0.1", sink.port, lanes=2, sender="rappels@cnam.test", local_hostname="d.test", timeout=10)
    daemon = Daemon(store, mailer, load_centres(CALENDARS), lambda: NOW + timedelta(hours=1), owner="invite-test")
    assert daemon.dispatch() == 3
    assert daemon.dispatch() == 0
    mailer.close()
    assert store.learner_for_token(old) is None  # renewed: the old link is gone, as the e-mail says
    mails = {m.rcpt_tos[0]: message_from_bytes(m.data, policy=default_policy) for m in sink.messages}
    assert sorted(mails) == ["e1@example.org", "f1@example.org", "h1@example.org"]
    for rcpt, msg in mails.items():
        plain = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        [link] = set(re.findall(re.escape(BASE) + r"/me/[A-Za-z0-9_-]+", plain))
        assert f'href="{link}"' in html
        learner = store.learner_for_token(link.rsplit("/", 1)[1])
        assert learner is not None and learner.email == rcpt  # the link is the learner's current token
        assert "viewport" in html and "mailto:contact@ipst-cnam.fr" in html
    fr = mails["f1@example.org"].get_body(("plain",)).get_content()
    assert str(mails["f1@example.org"]["Subject"]) == "Ipst-Cnam (Toulouse, Albi) : votre calendrier personnel"
    assert "Ouvrir ma page : https://" in fr and "remplace le précédent" not in fr
    assert "remplace le précédent" in mails["h1@example.org"].get_body(("plain",)).get_content()
    en = mails["e1@example.org"]
    english = str(en["Subject"]) + en.get_body(("plain",)).get_content() + re.sub(
        r"<[^>]+>", " ", en.get_body(("html",)).get_content())
    assert "Open my page" in english
    assert not FRENCH_WORD.findall(english), FRENCH_WORD.findall(english)
    # once sent, the links leave the table
    daemon.housekeeping()
    for row in list_deliveries(store):
        assert row.status == "sent" and "page_url" not in row.payload
        shown = compose(row.payload, row.key)  # `reminders preview` of a scrubbed row: no link, no traceback
        assert "/me/" not in text_part(shown)
    store.close()
