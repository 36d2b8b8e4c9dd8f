"""A daemon that starts late says how much time is really left, in the centre's zone, or sends nothing.

The learner's dossier arrived on Monday 23 November 2026: the withdrawal window ends on Thursday
3 December (J-7 due 26 November, J-1 due 2 December, both at 09:00 Paris). The daemon was down and
first runs at several moments; the real daemon, a real store and a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.mail.compose import message_id
from cnam_calendar.mail.daemon import Daemon
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.rules.model import Learner
from cnam_calendar.rules.reminders import delivery_key, personal_uid
from cnam_calendar.store.database import Store, open_store
from cnam_calendar.store.delivery import list_deliveries
from tests.conftest import CALENDARS
from tests.e2e.test_daemon import sink  # noqa: F401, F811  (fixture: a running aiosmtpd server)
from tests.support.smtp_sink import SmtpSink

PARIS = ZoneInfo("Europe/Paris")
DEADLINE = date(2026, 12, 3)
PLANNED = datetime(2026, 11, 24, 8, 0, tzinfo=PARIS)  # the daemon's last plan before it went down


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'late.db'}")
    s.import_learners([Learner("W1", "w1@example.org", "Camille", "Martin", "ipst-cnam", "31", "individuel",
                               dossier_received=date(2026, 11, 23))])
    yield s
    s.close()


def run_once_at(store: Store, server: SmtpSink, moment: datetime, *, send: bool = True) -> list:
    """Start a daemon whose clock says ``moment``: plan, one dispatch; return the withdrawal e-mails received."""
    centres = load_centres(CALENDARS)
    mailer = Mailer("127.0.0.1", server.port, lanes=1, local_hostname="late.test", timeout=10)
    daemon = Daemon(store, mailer, centres, lambda: moment, "rappels@cnam.test", owner="late-daemon")
    try:
        daemon.plan()
        if send:
            daemon.dispatch()
    finally:
        mailer.close()
    messages = [message_from_bytes(m.data, policy=default_policy) for m in server.messages]
    return [m for m in messages if "rétractation" in m["Subject"]]


def planned_key(store: Store, offset: int) -> str:
    """The delivery key of the withdrawal reminder J-offset (the learner's opaque key is the store's)."""
    uid = personal_uid("withdrawal", store.learner_key("W1"), "ipst-cnam", 2026)
    return delivery_key("W1", uid, offset, DEADLINE)


@pytest.mark.parametrize(("moment", "offset", "left_fr"), [
    pytest.param(datetime(2026, 12, 2, 2, 6, tzinfo=PARIS), 7, "demain", id="day-before-j7-says-tomorrow"),
    pytest.param(datetime(2026, 11, 30, 23, 30, tzinfo=PARIS), 7, "dans 3 jours", id="three-days-left"),
    pytest.param(datetime(2026, 12, 3, 8, 0, tzinfo=PARIS), 1, "aujourd'hui", id="same-day-j1-says-today"),
])
def test_a_late_reminder_states_the_time_really_left(store, sink, moment, offset, left_fr):  # noqa: F811
    assert run_once_at(store, sink, PLANNED, send=False) == []  # planned while it ran, then it went down
    (msg,) = run_once_at(store, sink, moment)
    # the delivery key keeps the planned offset: the row sent is J-offset, once
    assert msg["Message-ID"] == message_id(planned_key(store, offset))
    assert msg["Subject"] == f"Rappel : Délai de rétractation (10 jours) : date limite le jeudi 3 décembre 2026 ({left_fr})"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    lead = f"Rappel : Délai de rétractation (10 jours) : date limite le jeudi 3 décembre 2026 ({left_fr})."
    assert lead in plain
    assert lead.replace("'", "&#x27;") in html
    assert "dans 7 jours" not in plain + html and "dans 1 jour" not in plain + html
    rows = {d.key: d.status for d in list_deliveries(store) if "withdrawal" in d.key}
    assert rows[planned_key(store, offset)] == "sent"


def test_after_the_deadline_nothing_is_sent_and_the_rows_expire(store, sink):  # noqa: F811
    run_once_at(store, sink, PLANNED, send=False)
    pending = {d.key: d.status for d in list_deliveries(store) if "withdrawal" in d.key}
    assert pending == {planned_key(store, 7): "pending", planned_key(store, 1): "pending"}
    assert run_once_at(store, sink, datetime(2026, 12, 4, 0, 5, tzinfo=PARIS)) == []
    rows = {d.key: d.status for d in list_deliveries(store) if "withdrawal" in d.key}
    assert rows == {planned_key(store, 7): "expired", planned_key(store, 1): "expired"}
