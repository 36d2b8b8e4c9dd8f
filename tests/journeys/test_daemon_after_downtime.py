"""Journey: the roster is imported, the daemon starts mid-year after a downtime, the e-mails are read as
the SMTP server (aiosmtpd) received them, then the next reminder goes out on time.

The daemon never ran between 1 and 20 November 2026; it starts on Friday 20 November at 10:00 Paris.
Worked out by hand from DESIGN.md (Ipst-Cnam, 3 jours ouvrés, 10 days, J-7 and J-1 at 09:00):

- Camille (CPF, French): dossier received Tue 10 Nov → withdrawal Fri 20 Nov; CPF validated Tue 17 Nov →
  Wed 18, Thu 19, Fri 20 Nov. Both J-1 (Thu 19 Nov 09:00) are overdue but the deadline day is not over:
  sent now; the withdrawal's J-7 (13 Nov) is superseded by its J-1; the CPF's J-7 (13 Nov) comes before
  the validation and is never planned.
- Bob (English): dossier received Mon 16 Nov → withdrawal Thu 26 Nov: J-7 (19 Nov) overdue, sent now; J-1
  on Wed 25 Nov at 09:00 Paris (08:00 UTC), sent then and only then.

A reminder sent late says the time really left when it is sent (« aujourd'hui » on the deadline day,
« in 6 days » on the 20th for the 26th), not its planned offset. The wording is written out here.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import datetime
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.mail.daemon import Daemon
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries
from tests.conftest import CALENDARS
from tests.support.smtp_sink import SmtpSink, running_sink

PARIS = ZoneInfo("Europe/Paris")
SENDER = "Rappels Cnam <rappels@cnam.test>"
ROSTER = (
    "id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,training_start,lang\n"
    "B1,camille@example.org,Camille,Martin,ipst-cnam,31,cpf,NFA031,2026-11-10,2026-11-17,,fr\n"
    "A1,bob@example.org,Bob,Smith,ipst-cnam,31,individuel,,2026-11-16,,,en\n"
)
FAQ = "https://ipst.cnam.fr/contact/foire-aux-questions-ipst-cnam--1605162.kjsp?RH=1623911274792"
CPF_SOURCE = ("FAQ Ipst-Cnam, « Quels sont les délais pour valider ma demande CPF ? » : Une fois notre validation "
              "effectuée, vous disposez d'un délai de 3 jours ouvrés pour confirmer définitivement votre inscription "
              "sur votre espace CPF. Votre dossier doit être intégralement finalisé et validé avant le début du "
              f"semestre. <{FAQ}>")
WITHDRAWAL_SOURCE = ("FAQ Ipst-Cnam, « Puis-je changer d'UE ou de modalité après mon inscription ? » : Vous disposez "
                     "d'un délai de 10 jours après la réception de votre dossier pour demander la suppression d'une UE "
                     f"pour le semestre en cours ou l'annulation de l'inscription. <{FAQ}>")


def footer_fr() -> list[str]:
    return ["", "Qui contacter : Ipst-Cnam (Toulouse, Albi) — contact@ipst-cnam.fr", f"FAQ : {FAQ}", "", "-- "]


CAMILLE_CPF_TAIL = [  # the lines after the lead (line 3)
    "",
    "Ce qu'il faut faire :",
    "Confirmez votre inscription sur Mon Compte Formation avant cette date : sans confirmation, le financement "
    "CPF n'est pas engagé.",
    "",
    "Comment cette date est calculée :",
    "  • Validation de la demande CPF par le centre le mardi 17 novembre 2026 (jour D, non compté).",
    "  • Délai : 3 jours ouvrés (du lundi au vendredi, hors jours fériés), comptés à partir du lendemain.",
    "  • mercredi 18 novembre 2026 : 1er jour ouvré.",
    "  • jeudi 19 novembre 2026 : 2e jour ouvré.",
    "  • vendredi 20 novembre 2026 : 3e jour ouvré.",
    "  • Date limite pour confirmer l'inscription sur Mon Compte Formation : vendredi 20 novembre 2026.",
    f"Source : {CPF_SOURCE}",
    *footer_fr(),
]
CAMILLE_WITHDRAWAL_TAIL = [
    "",
    "Ce qu'il faut faire :",
    "Si vous souhaitez supprimer une UE ou annuler votre inscription, faites-en la demande écrite au centre avant "
    "cette date.",
    "",
    "Comment cette date est calculée :",
    "  • Réception du dossier d'inscription le mardi 10 novembre 2026 (jour de départ, non compté).",
    "  • 2026-11-10 + 10 jours calendaires = vendredi 20 novembre 2026 (les jours fériés à l'intérieur du délai "
    "comptent).",
    "  • Le vendredi 20 novembre 2026 est un jour ouvré : pas de prorogation.",
    "  • Date limite pour demander la suppression d'une UE ou l'annulation de l'inscription : vendredi 20 novembre "
    "2026.",
    f"Source : {WITHDRAWAL_SOURCE}",
    *footer_fr(),
]
BOB_STEPS = [  # Bob reads English: his explanation too (issue 14, point 3)
    "  • Registration file received on Monday 16 November 2026 (starting day, not counted).",
    "  • 2026-11-16 + 10 calendar days = Thursday 26 November 2026 (public holidays inside the period count).",
    "  • Thursday 26 November 2026 is a working day: no extension.",
    "  • Deadline to ask to drop a UE or cancel the registration: Thursday 26 November 2026.",
]
BOB_TAIL = [
    "",
    "What to do:",
    "If you want to drop a course unit or cancel your registration, send your written request to the centre before "
    "this date.",
    "",
    "How this date is worked out:",
    *BOB_STEPS,
    f"Source: {WITHDRAWAL_SOURCE}",
    "",
    "Whom to contact: Ipst-Cnam (Toulouse, Albi) — contact@ipst-cnam.fr",
    f"FAQ: {FAQ}",
    "",
    "-- ",
]


class Travel:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with running_sink() as server:
        yield server


def read(message) -> tuple[str, list[str], str]:
    """Subject, plain-text lines and HTML of a message as the server received it."""
    msg = email.message_from_bytes(message.data, policy=policy.default)
    plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
    return msg["Subject"], plain.split("\n"), html


def rows(store) -> dict[tuple[str, str, str, str], str]:
    """(learner, event, offset, target day) → status; the opaque learner key left out of the event."""
    out = {}
    for d in list_deliveries(store):
        learner, uid, offset, target = d.key.split("/")
        out[(learner, uid.split(".")[0], offset, target)] = d.status
    return out


def test_daemon_started_mid_year_after_downtime_sends_what_is_still_useful_and_then_on_time(
        run_cli, tmp_path: Path, sink: SmtpSink) -> None:
    db = tmp_path / "cnam.db"
    roster = tmp_path / "learners.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    start = datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)
    imported = run_cli("--calendars", str(CALENDARS), "learners", "import", str(roster), "--quiet", clock=start,
                       env={"CNAM_CALENDAR_DB": str(db)})
    assert imported.exit_code == 0, imported.output

    store = open_store(f"sqlite:///{db}")
    travel = Travel(start)
    mailer = Mailer("127.0.0.1", sink.port, lanes=1, sender="rappels@cnam.test", local_hostname="daemon.test",
                    timeout=10)
    daemon = Daemon(store, mailer, load_centres(CALENDARS), travel, SENDER, owner="journey")
    try:
        daemon.plan()
        assert daemon.dispatch() == 3
        state = rows(store)
        assert {k: v for k, v in state.items() if k[3] <= "2026-11-26"} == {
            ("B1", "cpf-confirmation", "J-1", "2026-11-20"): "sent",
            ("B1", "withdrawal", "J-7", "2026-11-20"): "superseded",
            ("B1", "withdrawal", "J-1", "2026-11-20"): "sent",
            ("A1", "withdrawal", "J-7", "2026-11-26"): "sent",
            ("A1", "withdrawal", "J-1", "2026-11-26"): "pending",
        }
        # what is left is in the future: the exam sessions of NFA031 and the centre's deadlines of 2027
        assert {k[1] for k, v in state.items() if k[3] > "2026-11-26"} == {
            "ue-NFA031-exam-winter", "ue-NFA031-exam-june", "cpf-latest-validation-s2", "registration-close-s2",
            "add-drop-close"}
        assert all(v == "pending" for k, v in state.items() if k[3] > "2026-11-26")

        mails = {read(m)[0]: (m.rcpt_tos, *read(m)[1:]) for m in sink.messages}
        expected = {
            "Rappel : Confirmation CPF : date limite le vendredi 20 novembre 2026 (aujourd'hui)":
                (("camille@example.org",), "Bonjour Camille Martin,", CAMILLE_CPF_TAIL),
            "Rappel : Délai de rétractation (10 jours) : date limite le vendredi 20 novembre 2026 (aujourd'hui)":
                (("camille@example.org",), "Bonjour Camille Martin,", CAMILLE_WITHDRAWAL_TAIL),
            "Reminder: Withdrawal window (10 days) ends on Thursday 26 November 2026 (in 6 days)":
                (("bob@example.org",), "Hello Bob Smith,", BOB_TAIL),
        }
        assert set(mails) == set(expected)
        for subject, (to, hello, tail) in expected.items():
            rcpt, lines, html = mails[subject]
            assert rcpt == to
            lead = subject.replace(" (aujourd'hui)", " (aujourd'hui).").replace(" (in 6 days)", " (in 6 days).")
            assert lines[:3] == [hello, "", lead]
            assert lines[3:3 + len(tail)] == tail, subject
            assert html.startswith('<!DOCTYPE html><html lang="' + ("en" if to == ("bob@example.org",) else "fr"))
            assert f"<p>{hello}</p>" in html
            assert "<p><strong>" + lead.replace("'", "&#x27;") + "</strong></p>" in html

        # Tuesday 24 and Wednesday 25 November: nothing before 09:00 Paris, Bob's J-1 at 09:00 exactly
        travel.now = datetime(2026, 11, 25, 8, 59, tzinfo=PARIS)
        assert daemon.dispatch() == 0
        travel.now = datetime(2026, 11, 25, 9, 0, tzinfo=PARIS)
        assert daemon.dispatch() == 1
        last = sink.messages[-1]
        subject, lines, html = read(last)
        assert last.rcpt_tos == ("bob@example.org",)
        assert subject == "Reminder: Withdrawal window (10 days) ends on Thursday 26 November 2026 (tomorrow)"
        assert lines[:3] == ["Hello Bob Smith,", "",
                             "Reminder: Withdrawal window (10 days) ends on Thursday 26 November 2026 (tomorrow)."]
        assert lines[3:3 + len(BOB_TAIL)] == BOB_TAIL
        assert lines[3 + len(BOB_TAIL)] == (
            "This message is automatic. To stop these reminder e-mails, write to rappels@cnam.test with the subject "
            f"« stop {store.learner_key('A1')} »; your calendar subscription stays up to date.")
        assert ("<p><strong>Reminder: Withdrawal window (10 days) ends on Thursday 26 November 2026 (tomorrow)."
                "</strong></p>") in html
        assert ("<h2>How this date is worked out</h2><ul><li>Registration file received on Monday 16 "
                "November 2026 (starting day, not counted).</li>") in html
        assert rows(store)[("A1", "withdrawal", "J-1", "2026-11-26")] == "sent"

        # a restart replans: nothing is sent twice
        daemon.plan()
        assert daemon.dispatch() == 0
        assert len(sink.messages) == 4
    finally:
        mailer.close()
        store.close()
