"""Reminder e-mails: language, parts, the .ics, headers derived from the key, no header injection."""

from __future__ import annotations

import email
import email.header
import hashlib
from datetime import date, datetime, timedelta, timezone
from email import policy

import icalendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnam_calendar.mail.compose import clean_header, compose, message_id, render, text_part
from cnam_calendar.rules.model import Learner
from cnam_calendar.rules.reminders import plan_reminders
from cnam_calendar.service import ouvres_for, schedule
from cnam_calendar.text.explain import render_all

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
    assert msg["Subject"].strip() == "Rappel : Confirmation CPF : date limite le lundi 16 novembre 2026 (demain)"
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
    assert msg["Subject"].strip() == "Reminder: Withdrawal window (10 days) ends on Thursday 12 November 2026 (in 7 days)"
    plain = msg.get_body(("plain",)).get_content()
    assert plain.startswith("Hello Bob Smith,") and "To stop these reminder e-mails" in plain
    assert msg["Content-Language"] == "en"
    # lang can be forced
    forced = compose(r.payload, r.key, sender=SENDER, lang="fr")
    assert forced["Subject"].startswith("Rappel : Délai de rétractation")


def test_exam_subject_says_from(payloads, request):
    ipst = request.getfixturevalue("ipst")
    from cnam_calendar.rules.model import UE

    one = Learner("L3", "c@example.org", "C", "D", "ipst-cnam", "31", "individuel", ("NFA001",))
    rs = plan_reminders([one], {ipst.id: schedule(ipst, 2026)}, {ipst.id: ouvres_for(ipst, 2025, 2028)},
                        {"L3": "c" * 32}, catalogues={ipst.id: [UE("NFA001", "Algo", 6, "S1", "FOAD")]})
    r = next(r for r in rs if r.event_id == "ue-NFA001-exam-winter" and r.offset_days == 2)
    msg = compose(r.payload, r.key, sender=SENDER)
    assert msg["Subject"].startswith("Rappel : Examen NFA001 — 1re session")
    assert msg["Subject"].endswith("à partir du lundi 18 janvier 2027 (dans 2 jours)")
    assert "convocation" in text_part(msg)


def test_the_event_is_attached_as_ics(payloads):
    r = payloads[("L1", "cpf-confirmation", 1)]
    msg = roundtrip(compose(r.payload, r.key, sender=SENDER))
    parts = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    part = parts[0]
    # a copy of the event, as in the feeds: no iTIP method (RFC 5546 would require an ORGANIZER)
    assert part.get_param("method") is None and part.get_filename() == "rappel.ics"
    cal = icalendar.Calendar.from_ical(part.get_payload(decode=True))
    assert "METHOD" not in cal
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


# The wire form (`render`): what the daemon sends, byte for byte; `compose` is it parsed.


def reference_ics(payload, lang):
    """The event as icalendar itself builds it: what the hand-written .ics must say."""
    event = payload["event"]
    description = "\n".join(event.get("explanation") or render_all(event.get("steps", []), lang))
    if event.get("source"):
        description += ("\n\nSource (in French): " if lang == "en" else "\n\nSource : ") + event["source"]
    component = icalendar.Event.new(
        uid=event["uid"], stamp=datetime.fromisoformat(payload["due_local"]).astimezone(timezone.utc),
        summary=clean_header(event["title_en"] if lang == "en" else event["title"]),
        start=date.fromisoformat(event["start"]), end=date.fromisoformat(event["end"]) + timedelta(days=1),
        description=description or None, transparency=icalendar.TRANSP.TRANSPARENT, url=event.get("url") or None)
    return component


VEVENT_PROPERTIES = ("UID", "DTSTAMP", "SUMMARY", "DTSTART", "DTEND", "DESCRIPTION", "TRANSP", "URL")


def crlf(text: str) -> str:
    """Every line break as it goes on the wire: CRLF (a lone CR in a text is a line break too)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def check_wire(data: bytes, payload, lang: str, sender: str = SENDER, moment: datetime | None = None
               ) -> email.message.EmailMessage:
    """Parse the bytes of `render` and check them against the payload; return the parsed message."""
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))  # RFC 5322 §2.1.1
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    head = data.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if line[:1] not in b" \t"]
    assert names == [b"Subject", b"From", b"To", b"Message-ID", *([b"Date"] if b"\r\nDate:" in head else []),
                     b"Auto-Submitted", b"X-Auto-Response-Suppress", b"List-Unsubscribe", b"MIME-Version",
                     b"Content-Type", b"Content-Language"]
    msg = email.message_from_bytes(data, policy=policy.default)
    assert not [d for part in msg.walk() for d in part.defects]
    # The wording is pinned by literal texts (test_mail_wording.py); here the hand-written wire is
    # checked against the same message encoded by the email package (compose), part by part.
    reference = roundtrip(compose(payload, "k", sender=sender, lang=lang, date=moment))
    assert msg["Subject"] == reference["Subject"].strip()
    learner = payload["learner"]
    (to,) = msg["To"].addresses
    assert to.addr_spec == learner["email"]
    name = clean_header(f"{learner.get('first_name', '')} {learner.get('last_name', '')}")
    raw_to = dict(msg.raw_items())["To"]
    if raw_to.lstrip().startswith("=?"):  # encoded-words: decoded as RFC 2047 says (the folding between
        phrase = raw_to.rsplit("<", 1)[0].strip()  # them is not text; email's address parser keeps it as a space)
        assert str(email.header.make_header(email.header.decode_header(phrase))) == name
    else:
        assert to.display_name == name
    assert msg["Content-Language"] == lang
    for kind in ("plain", "html"):
        assert msg.get_body((kind,)).get_content() == crlf(reference.get_body((kind,)).get_content()), kind
    plain = msg.get_body(("plain",)).get_content()
    assert plain.startswith(("Hello " if lang == "en" else "Bonjour ") + name + ",\r\n")
    (ics,) = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    raw = ics.get_payload(decode=True)
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # RFC 5545 §3.1, in octets
    (event,) = icalendar.Calendar.from_ical(raw).walk("VEVENT")
    want = reference_ics(payload, lang)
    for name in VEVENT_PROPERTIES:
        assert (name in event) == (name in want), name
        if name in want:
            assert event[name].to_ical() == want[name].to_ical(), name
    return msg


@pytest.fixture(scope="module")
def planned(request):
    """Every reminder of a dozen generated learners of both shipped centres (French and English)."""
    from cnam_calendar.inputs.catalogue import load_catalogue
    from cnam_calendar.inputs.config import load_centres
    from cnam_calendar.inputs.roster import generate_learners
    from cnam_calendar.mail.daemon import plan_all
    from cnam_calendar.store.database import open_store
    from tests.conftest import CALENDARS

    centres = load_centres(CALENDARS)
    codes = {c.id: [u.code for u in load_catalogue(c)] for c in centres}
    store = open_store("sqlite://")
    try:
        store.import_learners(generate_learners(12, 5, centres, codes, 2026))
        return plan_all(store, centres, 2026)
    finally:
        store.close()


def test_render_writes_what_the_payload_says_for_every_planned_reminder(planned):
    assert {r.payload["learner"]["lang"] for r in planned} == {"fr", "en"}
    assert {r.kind for r in planned} == {"deadline", "exam"}
    for r in planned:
        lang = r.payload["learner"]["lang"]
        wire = render(r.payload, r.key, sender=SENDER, date=datetime(2026, 11, 23, 8, tzinfo=timezone.utc))
        assert wire.recipients == (r.payload["learner"]["email"],) and wire.sender == "rappels@example.org"
        msg = check_wire(wire.data, r.payload, lang, moment=datetime(2026, 11, 23, 8, tzinfo=timezone.utc))
        assert msg["Message-ID"] == message_id(r.key)
        assert render(r.payload, r.key, sender=SENDER, date=datetime(2026, 11, 23, 8, tzinfo=timezone.utc)) == wire


def test_render_is_seven_bit_unless_an_address_is_not_ascii(payloads):
    r = payloads[("L1", "withdrawal", 1)]
    assert render(r.payload, r.key, sender=SENDER).data.isascii()
    payload = {**r.payload, "learner": {**r.payload["learner"], "email": "élodie@exemple.fr"}}
    wire = render(payload, r.key, sender=SENDER)
    assert wire.recipients == ("élodie@exemple.fr",) and "To: Camille Martin <élodie@exemple.fr>".encode() in wire.data


any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=260)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=any_text, last=any_text, title=any_text, step=any_text, lang=st.sampled_from(["fr", "en"]))
def test_any_name_or_title_round_trips_and_injects_nothing(payloads, first, last, title, step, lang):
    r = payloads[("L1", "withdrawal", 1)]
    payload = {**r.payload, "learner": {**r.payload["learner"], "first_name": first, "last_name": last},
               "event": {**r.payload["event"], "title": title, "title_en": title,
                         "explanation": [step, *render_all(r.payload["event"]["steps"], lang)]}}
    check_wire(render(payload, r.key, sender=SENDER, lang=lang).data, payload, lang)


@pytest.mark.parametrize(("moment", "fr", "en"), [
    pytest.param(datetime(2026, 11, 5, 8, 0, tzinfo=timezone.utc), "dans 7 jours", "in 7 days", id="on-time-j7"),
    pytest.param(datetime(2026, 11, 9, 22, 59, tzinfo=timezone.utc), "dans 3 jours", "in 3 days", id="late"),
    # 23:30 UTC on the 10th is already the 11th in Paris: the day before the deadline there
    pytest.param(datetime(2026, 11, 10, 23, 30, tzinfo=timezone.utc), "demain", "tomorrow", id="paris-midnight"),
    pytest.param(datetime(2026, 11, 12, 7, 0, tzinfo=timezone.utc), "aujourd'hui", "today", id="same-day"),
])
def test_the_time_left_is_counted_from_the_moment_of_sending_in_the_centre_s_zone(payloads, moment, fr, en):
    """A J-7 reminder (withdrawal window ending Thursday 12 November) sent at various moments."""
    for learner, lang, left in (("L1", "fr", fr), ("L2", "en", en)):
        r = payloads[(learner, "withdrawal", 7)]
        msg = roundtrip(compose(r.payload, r.key, sender=SENDER, date=moment))
        assert msg["Subject"].strip().endswith(f"12 {'November' if lang == 'en' else 'novembre'} 2026 ({left})")
        assert f"2026 ({left})." in text_part(msg)
        assert f"2026 ({left})".replace("'", "&#x27;") in msg.get_body(("html",)).get_content()
        assert msg["Message-ID"] == message_id(r.key)  # the same row, whatever the moment


def test_a_long_title_is_cut_in_the_subject_never_the_date_and_the_time_left(payloads):
    """Found by the fuzz test above: a 210-character title pushed « (demain) » out and left a trailing space."""
    r = payloads[("L1", "withdrawal", 1)]
    for lang in ("fr", "en"):
        payload = {**r.payload, "event": {**r.payload["event"], "title": "0" * 210, "title_en": "0" * 210}}
        subject = roundtrip(compose(payload, r.key, sender=SENDER, lang=lang))["Subject"]
        assert subject.endswith(("novembre 2026 (demain)", "November 2026 (tomorrow)")), subject
        assert "0" * 119 + "…" in subject and "0" * 120 not in subject
