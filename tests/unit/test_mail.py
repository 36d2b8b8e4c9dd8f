"""Reminder e-mails: language, parts, the .ics, headers derived from the key, no header injection."""

from __future__ import annotations

import email
import hashlib
from datetime import date, datetime, timezone
from email import policy

import icalendar
import pytest

from cnam_calendar.mail import clean_header, compose, message_id, text_part
from cnam_calendar.reminders import plan_reminders
from cnam_calendar.roster import Learner
from cnam_calendar.service import ouvres_for, schedule

SENDER = "Rappels Cnam <rappels@example.org>"
EVIL = "Alice\r\nBcc: evil@example.org"


@pytest.fixture(scope="module")
def payloads(request):
    ipst = request.getfixturevalue("ipst")
    people = [
        Learner("L1", "alice@example.org", "Camille", "Martin", "ipst-cnam", "31", "cpf", (),
                date(2026, 11, 2), date(2026, 11, 10), None, "fr"),
        Learner("L2", "bob@example.org", "Bob", "Smith", "ipst-cnam", "31", "cpf", (),
                date(2026, 11, 2), date(2026, 11, 10), None, "en"),
    ]
    rs = plan_reminders(people, {ipst.id: schedule(ipst, 2026)}, {ipst.id: ouvres_for(ipst, 2025, 2028)},
                        {"L1": "a" * 32, "L2": "b" * 32})
    return {(r.learner_id, r.event_id, r.offset_days): r for r in rs}


def roundtrip(msg):
    """Serialise as it would go on the wire and parse back."""
    return email.message_from_bytes(msg.as_bytes(policy=policy.SMTP), policy=policy.default)


def test_french_subject_parts_and_headers(payloads):
    r = payloads[("L1", "cpf-confirmation", 1)]
    msg = roundtrip(compose(r.payload, r.key, sender=SENDER))
    # (the parser keeps the space of a header folded right after its name; clients drop it)
    assert msg["Subject"].strip() == "Rappel : Confirmation CPF : date limite le lundi 16 novembre 2026 (J-1)"
    assert msg["To"] == "Camille Martin <alice@example.org>"
    assert msg["From"] == SENDER
    assert msg["Message-ID"] == f"<{hashlib.sha256(r.key.encode()).hexdigest()[:32]}@cnam-calendar>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe"].strip() == f"<mailto:rappels@example.org?subject=stop%20{'a' * 32}>"
    assert msg.get_content_type() == "multipart/mixed"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert plain.startswith("Bonjour Camille Martin,\r\n")  # CRLF on the wire
    assert "Mon Compte Formation" in plain and "Qui contacter : Ipst-Cnam" in plain
    assert "contact@ipst-cnam.fr" in plain and "FAQ : https://ipst.cnam.fr/" in plain
    assert "Source : FAQ Ipst-Cnam" in plain
    assert "Pour ne plus recevoir ces rappels par e-mail" in plain and "reste à jour" in plain
    assert "16 novembre 2026" in html and "<li>" in html


def test_english_when_the_learner_reads_english(payloads):
    r = payloads[("L2", "withdrawal", 7)]
    msg = roundtrip(compose(r.payload, r.key, sender=SENDER))
    assert msg["Subject"].strip() == "Reminder: Withdrawal window (10 days) ends on Thursday 12 November 2026 (D-7)"
    plain = msg.get_body(("plain",)).get_content()
    assert plain.startswith("Hello Bob Smith,") and "To stop these reminder e-mails" in plain
    assert msg["Content-Language"] == "en"
    # lang can be forced
    forced = compose(r.payload, r.key, sender=SENDER, lang="fr")
    assert forced["Subject"].startswith("Rappel : Délai de rétractation")


def test_exam_subject_says_from(payloads, request):
    ipst = request.getfixturevalue("ipst")
    from cnam_calendar.model import UE

    one = Learner("L3", "c@example.org", "C", "D", "ipst-cnam", "31", "individuel", ("NFA001",))
    rs = plan_reminders([one], {ipst.id: schedule(ipst, 2026)}, {ipst.id: ouvres_for(ipst, 2025, 2028)},
                        {"L3": "c" * 32}, catalogues={ipst.id: [UE("NFA001", "Algo", 6, "S1", "FOAD")]})
    r = next(r for r in rs if r.event_id == "ue-NFA001-exam-winter" and r.offset_days == 2)
    msg = compose(r.payload, r.key, sender=SENDER)
    assert msg["Subject"].startswith("Rappel : Examen NFA001 — 1re session")
    assert msg["Subject"].endswith("à partir du lundi 18 janvier 2027 (J-2)")
    assert "convocation" in text_part(msg)


def test_the_event_is_attached_as_ics(payloads):
    r = payloads[("L1", "cpf-confirmation", 1)]
    msg = roundtrip(compose(r.payload, r.key, sender=SENDER))
    parts = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    part = parts[0]
    assert part.get_param("method") == "PUBLISH" and part.get_filename() == "rappel.ics"
    cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    assert str(cal["METHOD"]) == "PUBLISH"
    (event,) = cal.walk("VEVENT")
    assert str(event["UID"]) == r.event_uid
    assert event["DTSTART"].dt == date(2026, 11, 16) and event["DTEND"].dt == date(2026, 11, 17)
    assert "Confirmation CPF" in str(event["SUMMARY"])


def test_same_key_same_message(payloads):
    r = payloads[("L1", "withdrawal", 1)]
    a = compose(r.payload, r.key, sender=SENDER)
    b = compose(r.payload, r.key, sender=SENDER)
    assert a["Message-ID"] == b["Message-ID"] == message_id(r.key)
    assert text_part(a) == text_part(b)
    assert "Date" not in a  # no clock read here
    dated = compose(r.payload, r.key, sender=SENDER, date=datetime(2026, 11, 11, 8, tzinfo=timezone.utc))
    assert dated["Date"] == "Wed, 11 Nov 2026 08:00:00 +0000"


def test_names_and_titles_cannot_inject_headers(payloads):
    r = payloads[("L1", "withdrawal", 1)]
    payload = {**r.payload, "learner": {**r.payload["learner"], "first_name": EVIL, "last_name": "Martin\nX-Evil: 1"},
               "event": {**r.payload["event"], "title": "Titre\r\nBcc: evil@example.org\u2028Cc: x@example.org"}}
    msg = compose(payload, r.key, sender=SENDER + "\r\nBcc: evil@example.org")
    wire = msg.as_bytes(policy=policy.SMTP)
    head = wire.split(b"\r\n\r\n", 1)[0]
    header_names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line and line[:1] not in b" \t"]
    assert b"bcc" not in header_names and b"cc" not in header_names and b"x-evil" not in header_names
    parsed = roundtrip(msg)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None and parsed["Cc"] is None
    assert parsed["To"].addresses[0].addr_spec == "alice@example.org"
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["To"]
    assert parsed["To"].addresses[0].display_name == "Alice Bcc: evil@example.org Martin X-Evil: 1"


def test_html_escapes_everything(payloads):
    r = payloads[("L1", "withdrawal", 1)]
    payload = {**r.payload, "learner": {**r.payload["learner"], "first_name": "<script>alert(1)</script>"},
               "event": {**r.payload["event"], "explanation": ['<img src=x onerror="y">', "a & b"]}}
    html = compose(payload, r.key, sender=SENDER).get_body(("html",)).get_content()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=&quot;y&quot;&gt;" in html and "a &amp; b" in html


def test_clean_header():
    assert clean_header("a\r\nb\tc\x00d\u2028e") == "a b c d e"
    assert clean_header("x" * 300, 10) == "x" * 10
