"""Reminder e-mails: one delivery row's payload → the message on the wire, nothing sent here.

French by default, English when the learner's ``lang`` is en (wording from the gettext catalogues,
``messages``). Each message has a plain-text and an HTML part (the Jinja2 template
``mail/templates/reminder.html.j2``, everything escaped), the event as a small ``.ics`` (no METHOD,
as in the feeds: a copy of the event, not an iTIP request), what to do and whom to contact, the FAQ source, a Message-ID
derived from the delivery key (a resend is the same message), ``Auto-Submitted: auto-generated``
and an opt-out. The sender, the opt-out mailbox and the contact are the learner's centre's. The
time left is counted from the moment of sending. Every text that reaches a header is stripped of
control characters first, so a name or a title cannot add a header.

`render` writes the MIME bytes directly (the daemon's hot path: about a tenth of a millisecond
where building an ``EmailMessage`` and serialising it took over ten); `compose` parses those same
bytes into an ``EmailMessage`` for the preview and the tests, so there is one way to write a message.
Bodies are quoted-printable, the ``.ics`` base64, non-ASCII header text RFC 2047 encoded-words:
the bytes are 7-bit unless an address itself is not ASCII (then the mailer needs SMTPUTF8).
"""

from __future__ import annotations

import binascii
import email
import hashlib
import re
import unicodedata
from base64 import b64encode
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from cnam_calendar.mail.smtp import WireMessage
from cnam_calendar.messages import N_, countdown, gettext  # countdown: shared with web/
from cnam_calendar.templating import environment
from cnam_calendar.templating import render as render_template
from cnam_calendar.text.explain import render_all
from cnam_calendar.text.i18n import long_date, source_line

MESSAGE_DOMAIN = "cnam-calendar"
DEFAULT_SENDER = "rappels@cnam-calendar.invalid"  # when neither the daemon nor the centre file gives one
PRODID = "-//cnam-calendar//rappels//FR"
_SPACES = re.compile(r"\s+")
_LEARNER_KEY = re.compile(r"[0-9a-f]{32}")  # Store.learner_key: what the unsubscribe URL carries

ACTIONS = {  # event id (or prefix) → what the learner has to do before the date (msgid, translated in the catalogues)
    "cpf-confirmation": N_(
        "Confirmez votre inscription sur Mon Compte Formation avant cette date : sans "
        "confirmation, le financement CPF n'est pas engagé."),
    "withdrawal": N_(
        "Si vous souhaitez supprimer une UE ou annuler votre inscription, faites-en la demande "
        "écrite au centre avant cette date."),
    "apprenticeship-contract": N_(
        "Faites signer votre contrat d'apprentissage avant cette date et transmettez-le au "
        "centre."),
    "cpf-latest-validation": N_(
        "Si vous financez cette formation par le CPF, la demande doit être validée au plus tard "
        "ce jour-là pour commencer au prochain semestre."),
    "registration-close": N_(
        "Finalisez votre inscription avant la clôture."),
    "add-drop-close": N_(
        "Pour ajouter ou supprimer une UE, déposez le bulletin rectificatif avant cette date."),
    "exam": N_(
        "Vérifiez la date, l'heure et le lieu de votre épreuve sur votre convocation : ils sont "
        "publiés par le service des examens."),
}
_DEFAULT_ACTION = N_(
    "Vérifiez ce qui est attendu de vous avant cette date ; en cas de doute, contactez le "
    "centre.")


_TEMPLATES = environment("cnam_calendar.mail")


def clean_header(value: object, limit: int = 200) -> str:
    """Return ``value`` on one line: control and line-separator characters become spaces."""
    text = str(value or "")
    if not text.isprintable():  # only then can a control or separator character be there (quick path otherwise)
        text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    return _SPACES.sub(" ", text).strip()[:limit].rstrip()


def message_id(key: str) -> str:
    """Return the Message-ID of a delivery key: the same key always gives the same message."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{MESSAGE_DOMAIN}>"


def explanation(event: Mapping[str, Any], lang: str) -> list[str]:
    """The explanation of a payload's event in ``lang``, from its steps as data (rows planned before
    explanations were data carry the French text in ``explanation``)."""
    if "explanation" in event:
        return [str(s) for s in event["explanation"]]
    return list(render_all(event.get("steps", []), lang))


def action(event: Mapping[str, Any], lang: str) -> str:
    """Return what the learner has to do before the event's date, in ``lang``."""
    if event.get("kind") == "exam":
        return gettext(lang, ACTIONS["exam"])
    event_id = str(event.get("id", ""))
    for prefix, text in ACTIONS.items():
        if event_id == prefix or event_id.startswith(prefix + "-"):
            return gettext(lang, text)
    return gettext(lang, _DEFAULT_ACTION)


def _when(event: Mapping[str, Any], day: date, lang: str) -> str:
    if event.get("kind") == "exam":
        return gettext(lang, "à partir du %(date)s", date=long_date(day, lang))
    return gettext(lang, "le %(date)s", date=long_date(day, lang))


def days_left(payload: Mapping[str, Any], moment: datetime | None = None) -> int:
    """Return the days from ``moment`` (default: the planned instant) to the target day, in the centre's zone.

    A reminder sent late (after downtime) states the time really left, not its planned offset.
    """
    zone = ZoneInfo(payload["centre"].get("timezone") or "Europe/Paris")
    when = moment if moment is not None else datetime.fromisoformat(payload["due_local"])
    return (date.fromisoformat(payload["date"]) - when.astimezone(zone).date()).days


# The time left (« demain », « dans 3 jours ») is messages.countdown: the learner's page and `learners show` use it too.


TITLE_IN_SUBJECT = 120  # characters of the event's title in a subject


def subject_for(payload: Mapping[str, Any], lang: str, moment: datetime | None = None) -> str:
    """Return the subject, e.g. « Rappel : Confirmation CPF : date limite le vendredi 13 novembre 2026 (demain) »."""
    event = payload["event"]
    day = date.fromisoformat(payload["date"])
    left = countdown(days_left(payload, moment), lang)
    title = clean_header(event["title_en"] if lang == "en" else event["title"])
    if len(title) > TITLE_IN_SUBJECT:  # a long title is cut, never the date and the time left after it
        title = title[:TITLE_IN_SUBJECT - 1].rstrip() + "…"
    return clean_header(_reminder(title, event, day, left, lang), 250)


def _reminder(title: str, event: Mapping[str, Any], day: date, left: str, lang: str) -> str:
    """Return « Rappel : <title> le <date> (<left>) », the subject and the lead of a reminder."""
    return gettext(lang, "Rappel : %(title)s %(when)s (%(left)s)", title=title, when=_when(event, day, lang), left=left)


def centre_sender(centre: Mapping[str, Any]) -> str:
    """Return the From of a centre's e-mails: its ``[reminders] sender``, else its name and contact e-mail."""
    if centre.get("sender"):
        return str(centre["sender"])
    if centre.get("email"):
        return formataddr((clean_header(centre.get("name")), clean_header(centre["email"], 254)))
    return DEFAULT_SENDER


def addresses(centre: Mapping[str, Any], sender: str | None, unsubscribe: str | None) -> tuple[str, str]:
    """Return (From address, opt-out mailbox) of a centre's e-mail: ``sender`` or the centre's, and
    ``unsubscribe`` or the centre's ``[reminders] unsubscribe`` or the From, as a bare address."""
    sender_addr = clean_header(sender or centre_sender(centre), 254)
    mailbox = clean_header(unsubscribe or centre.get("unsubscribe") or sender_addr, 254)
    if "<" in mailbox:
        mailbox = mailbox.split("<", 1)[1].split(">", 1)[0].strip()
    return sender_addr, mailbox


def _unsubscribe(payload: Mapping[str, Any], address: str) -> tuple[str, str]:
    """Return (mailto URL, subject) of the opt-out: the opaque learner key, never a name."""
    token = payload["learner"].get("key") or hashlib.sha256(payload["learner"]["id"].encode()).hexdigest()[:32]
    subject = f"stop {token}"
    return f"mailto:{address}?subject={quote(subject)}", subject


def _texts(payload: Mapping[str, Any], lang: str, unsubscribe: str, unsub_subject: str,
           moment: datetime | None) -> dict[str, Any]:
    event, learner, centre = payload["event"], payload["learner"], payload["centre"]
    day = date.fromisoformat(payload["date"])
    en = lang == "en"
    name = clean_header(f"{learner.get('first_name', '')} {learner.get('last_name', '')}", 200)
    title = event["title_en"] if en else event["title"]
    when = countdown(days_left(payload, moment), lang)
    contact = [c for c in (centre.get("name"), centre.get("email"), centre.get("phone")) if c]
    faq = event.get("url") or centre.get("faq_url") or ""
    lead = _reminder(title, event, day, when, lang) + "."
    return {
        "title": lead,
        "hello": gettext(lang, "Bonjour %(name)s,", name=name),
        "lead": lead,
        "title_event": title,
        "hero_date": long_date(day, lang),
        "hero_left": when,
        "contact_name": centre.get("name") or "",
        "contact_email": centre.get("email") or "",
        "contact_phone": centre.get("phone") or "",
        "page_link": payload.get("page_url") or "",
        "page_label": gettext(lang, "Ma page : mes échéances et mon calendrier"),
        "page_head": gettext(lang, "Votre page (échéances, calendrier)"),  # the plain text's: one colon, then the link
        "todo_head": gettext(lang, "Ce qu'il faut faire"),
        "todo": action(event, lang),
        "why_head": gettext(lang, "Comment cette date est calculée"),
        "steps": explanation(event, lang),
        "source": str(event.get("source") or ""),
        "source_label": gettext(lang, "Source"),
        "contact_head": gettext(lang, "Qui contacter"),
        "contact": contact,
        "faq": faq,
        "faq_label": "FAQ",
        "faq_link": gettext(lang, "Questions fréquentes (FAQ)"),
        "stop": gettext(lang, "Ce message est automatique. Pour ne plus recevoir ces rappels par e-mail, écrivez à "
                              "%(address)s avec l'objet « %(subject)s » ; votre calendrier (abonnement) reste à jour.",
                        address=unsubscribe, subject=unsub_subject),
        "stop_address": unsubscribe,
        "colon": ":" if en else " :",  # French typography: a space before the colon
    }


def _plain(t: Mapping[str, Any]) -> str:
    colon = t["colon"]
    lines = [t["hello"], "", t["lead"], "", f"{t['todo_head']}{colon}", t["todo"], ""]
    if t["steps"]:
        lines.append(f"{t['why_head']}{colon}")
        lines.extend(f"  • {s}" for s in t["steps"])
    if t["source"]:
        lines.append(f"{t['source_label']}{colon} {t['source']}")
    lines.append("")
    if t["contact"]:
        lines.append(f"{t['contact_head']}{colon} " + " — ".join(t["contact"]))
    if t["faq"]:
        lines.append(f"{t['faq_label']}{colon} {t['faq']}")
    if t["page_link"]:
        lines.append(f"{t['page_head']}{colon} {t['page_link']}")
    lines.extend(["", "-- ", t["stop"], ""])
    return "\n".join(lines)


def _html(t: Mapping[str, Any], lang: str) -> str:
    return render_template(_TEMPLATES, "reminder.html.j2", t=t, lang=lang)


def _ics_text(value: str) -> str:
    """Escape an iCalendar TEXT value (RFC 5545 §3.3.11); every line break becomes ``\\n``."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _ics_line(name: str, value: str) -> bytes:
    """Return one content line folded at 75 octets (never inside a UTF-8 character nor right after a backslash)."""
    raw = f"{name}:{value}".encode()
    if len(raw) <= 75:
        return raw + b"\r\n"
    pieces: list[bytes] = []
    start, limit = 0, 75  # a continuation line's leading space counts: 74 octets after it
    while len(raw) - start > limit:
        cut = start + limit
        while raw[cut] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its character
            cut -= 1
        if raw[cut - 1] == 0x5C and cut - 1 > start:  # keep an escape and what it escapes together
            cut -= 1
        pieces.append(raw[start:cut])
        start, limit = cut, 74
    pieces.append(raw[start:])
    return b"\r\n ".join(pieces) + b"\r\n"


def event_ics(payload: Mapping[str, Any], lang: str) -> bytes:
    """Return a one-event VCALENDAR for the reminder's event, with its feed UID.

    No METHOD, as in the feeds: with one the attachment would be an iTIP message (RFC 5546, iMIP),
    whose PUBLISH requires an ORGANIZER, and mail clients would offer to « accept » it.

    Written by hand (the same properties icalendar would write; tests/unit/test_mail.py compares
    them): it is built for every e-mail the daemon sends.
    """
    event = payload["event"]
    start = date.fromisoformat(event["start"])
    end = date.fromisoformat(event["end"]) + timedelta(days=1)
    stamp = datetime.fromisoformat(payload["due_local"]).astimezone(timezone.utc)  # deterministic, never "now"
    description = "\n".join(explanation(event, lang))
    if event.get("source"):
        description += "\n\n" + source_line(event["source"], lang)
    title = clean_header(event["title_en"] if lang == "en" else event["title"])
    lines = [b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", _ics_line("PRODID", PRODID),
             b"BEGIN:VEVENT\r\n", _ics_line("SUMMARY", _ics_text(title)),
             f"DTSTART;VALUE=DATE:{start:%Y%m%d}\r\nDTEND;VALUE=DATE:{end:%Y%m%d}\r\n"
             f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}\r\n".encode("ascii"), _ics_line("UID", _ics_text(str(event["uid"])))]
    if description:
        lines.append(_ics_line("DESCRIPTION", _ics_text(description)))
    lines.append(b"TRANSP:TRANSPARENT\r\n")
    url = clean_header(event.get("url") or "", 2000)
    if url:
        lines.append(_ics_line("URL", url))
    lines.append(b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    return b"".join(lines)


# Writing the message: headers

_SPECIALS = frozenset('()<>@,:;.\\"[]')
_WORD_OCTETS = 45  # UTF-8 octets per encoded-word: 60 base64 characters, 72 with the =?utf-8?b?…?= around


def _encoded_words(text: str, first: int = _WORD_OCTETS) -> str:
    """Return ``text`` as RFC 2047 base64 encoded-words folded with CRLF SP, the first of at most FIRST octets.

    A decoder ignores the folding between encoded-words, so they decode back to ``text`` exactly.
    """
    words: list[str] = []
    chunk: list[str] = []
    size, room = 0, first
    for char in text:
        n = 1 if char < "\x80" else len(char.encode("utf-8"))
        if size + n > room and chunk:
            words.append("".join(chunk))
            chunk, size, room = [], 0, _WORD_OCTETS
        chunk.append(char)
        size += n
    if chunk:
        words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words)


def _unstructured(name: str, value: str) -> str:
    """Return the header line ``name: value``: folded at spaces when ASCII, encoded-words otherwise."""
    if not value.isascii() or "=?" in value:  # (text that looks like an encoded-word is encoded too)
        return f"{name}: {_encoded_words(value, (76 - len(name) - 2 - 12) * 3 // 4)}\r\n"  # lines <= 76
    lines: list[str] = []
    current = f"{name}:"
    for i, word in enumerate(value.split(" ")):
        if i and word and len(current) + 1 + len(word) > 78 and current.strip():
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    return "\r\n".join(lines) + "\r\n"


def _mailbox(name: str, addr: str) -> str:
    """Return ``name <addr>``: the name as is, quoted when it holds a special character, or encoded-words."""
    if not name:
        return addr
    if name.isascii() and len(name) <= 60 and "=?" not in name:
        if any(c in _SPECIALS for c in name):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{addr}>"
    return f"{_encoded_words(name)} <{addr}>"


@lru_cache(maxsize=32)
def _sender_header(sender: str) -> tuple[str, str]:
    """Return (From header line, envelope address) of the configured sender, through the email package once."""
    header = email_policy.SMTP.header_factory("From", sender)
    addresses = getattr(header, "addresses", ())
    envelope = addresses[0].addr_spec if addresses else sender
    return email_policy.SMTP.fold("From", header), envelope


def _qp(text: str) -> bytes:
    """Return ``text`` (lines ending in \\n) quoted-printable encoded, with CRLF line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def _base64(data: bytes) -> bytes:
    return b"".join(binascii.b2a_base64(data[i:i + 57]).replace(b"\n", b"\r\n") for i in range(0, len(data), 57))


def list_unsubscribe(mailto: str, payload: Mapping[str, Any], base_url: str | None) -> list[str]:
    """Return the List-Unsubscribe header lines: the one-click URL (RFC 8058) when the server's address is
    known and the payload has the learner's key, then the mailto; one line each (a URL is not folded)."""
    key = str(payload["learner"].get("key") or "")
    if not (base_url and _LEARNER_KEY.fullmatch(key)):
        return [f"List-Unsubscribe: <{mailto}>\r\n"]
    web = f"{base_url.rstrip('/')}/unsubscribe/{quote(key, safe='')}"
    return [f"List-Unsubscribe: <{web}>, <{mailto}>\r\n", "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"]


def render(payload: Mapping[str, Any], key: str, *, sender: str | None = None, lang: str | None = None,
           unsubscribe: str | None = None, date: datetime | None = None, base_url: str | None = None) -> WireMessage:
    """Return the reminder e-mail of one delivery row as it goes on the wire (``lang``: the learner's; fr unless en).

    ``sender`` overrides the centre's From (``[reminders] sender``, else its contact e-mail);
    ``unsubscribe`` the mailbox that receives opt-out requests (default: the centre's, else the From); ``date``
    is the moment of sending: the Date header, and the time left the text states (the daemon
    passes its clock; no clock is read here; without it, the planned instant); ``base_url`` the server's
    public address, for the one-click unsubscribe URL (without it, only the mailto). The MIME
    boundaries derive from the key: the same row always gives the same bytes.
    A change notice or an invitation (``payload["type"]``) is written by ``mail/letters.py``.
    """
    if payload.get("type") in ("notice", "invite", "week"):
        from cnam_calendar.mail.letters import render_letter

        return render_letter(payload, key, sender=sender, lang=lang, unsubscribe=unsubscribe, date=date,
                             base_url=base_url)
    learner = payload["learner"]
    lang = "en" if (lang or learner.get("lang")) == "en" else "fr"
    centre = payload["centre"]
    sender_addr, mailbox = addresses(centre, sender, unsubscribe)
    url, unsub_subject = _unsubscribe(payload, mailbox)
    t = _texts(payload, lang, mailbox, unsub_subject, date)
    name = "reminder.ics" if lang == "en" else "rappel.ics"
    return wire(payload, key, lang, subject_for(payload, lang, date), sender_addr, url, base_url, date,
                _plain(t), _html(t, lang), (name, event_ics(payload, lang)))


def wire(payload: Mapping[str, Any], key: str, lang: str, subject: str, sender_addr: str, mailto: str,
         base_url: str | None, date: datetime | None, plain: str, html: str,
         attachment: tuple[str, bytes] | None) -> WireMessage:
    """Return an e-mail to the payload's learner as it goes on the wire: headers (one-click unsubscribe
    when ``base_url`` is known), the plain and HTML parts, and an optional ``.ics`` (file name, bytes).

    Every e-mail of the project (reminders here; notices, Monday letters and invitations in
    ``mail/letters.py``) goes through it; the MIME boundaries derive from the key.
    """
    learner = payload["learner"]
    from_line, envelope_sender = _sender_header(sender_addr)
    to_addr = clean_header(learner["email"], 254)
    to_name = clean_header(f"{learner.get('first_name', '')} {learner.get('last_name', '')}")
    mid = message_id(key)
    tag = mid[1:17]
    mixed, alternative = f"=_mixed_{tag}", f"=_alt_{tag}"
    head = [_unstructured("Subject", subject), from_line, f"To: {_mailbox(to_name, to_addr)}\r\n",
            f"Message-ID: {mid}\r\n"]
    if date is not None:
        head.append(f"Date: {format_datetime(date.astimezone(timezone.utc))}\r\n")
    head += ["Auto-Submitted: auto-generated\r\n", "X-Auto-Response-Suppress: All\r\n",
             *list_unsubscribe(mailto, payload, base_url),
             "MIME-Version: 1.0\r\n", f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n',
             f"Content-Language: {lang}\r\n\r\n"]
    parts = [
        "".join(head).encode("utf-8"),
        f'--{mixed}\r\nContent-Type: multipart/alternative; boundary="{alternative}"\r\n\r\n'.encode("ascii"),
        f'--{alternative}\r\nContent-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii"),
        _qp(plain),
        f'\r\n--{alternative}\r\nContent-Type: text/html; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii"),
        _qp(html),
        f"\r\n--{alternative}--\r\n\r\n".encode("ascii"),
    ]
    if attachment is not None:
        name, data = attachment
        parts += [f'--{mixed}\r\nContent-Type: text/calendar; charset="utf-8"\r\n'
                  "Content-Transfer-Encoding: base64\r\n"
                  f'Content-Disposition: attachment; filename="{name}"\r\n\r\n'.encode("ascii"), _base64(data)]
    parts.append(f"--{mixed}--\r\n".encode("ascii"))
    return WireMessage(b"".join(parts), envelope_sender, (to_addr,))


def compose(payload: Mapping[str, Any], key: str, *, sender: str | None = None, lang: str | None = None,
            unsubscribe: str | None = None, date: datetime | None = None, base_url: str | None = None) -> EmailMessage:
    """Return the reminder e-mail of one delivery row as an ``EmailMessage`` (the bytes of `render`, parsed)."""
    wire = render(payload, key, sender=sender, lang=lang, unsubscribe=unsubscribe, date=date, base_url=base_url)
    msg = email.message_from_bytes(wire.data, policy=email_policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def text_part(msg: EmailMessage) -> str:
    """Return the plain-text body of a composed message."""
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content().replace("\r\n", "\n") if part is not None else ""


__all__ = ["ACTIONS", "clean_header", "compose", "event_ics", "message_id", "render", "subject_for", "text_part"]
