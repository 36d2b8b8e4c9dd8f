"""Reminder e-mails: one delivery row's payload → an ``email.message.EmailMessage``, nothing sent here.

French by default, English when the learner's ``lang`` is en. Each message has a plain-text and an
HTML part (everything escaped), the event as a small ``.ics`` (METHOD:PUBLISH), what to do and whom
to contact, the FAQ source, a Message-ID derived from the delivery key (a resend is the same
message), ``Auto-Submitted: auto-generated`` and an opt-out. Every text that reaches a header is
stripped of control characters first, so a name or a title cannot add a header.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import icalendar

from .i18n import long_date

MESSAGE_DOMAIN = "cnam-calendar"
PRODID = "-//cnam-calendar//rappels//FR"
_SPACES = re.compile(r"\s+")

ACTIONS = {  # event id (or prefix) → (fr, en): what the learner has to do before the date
    "cpf-confirmation": (
        "Confirmez votre inscription sur Mon Compte Formation avant cette date : sans confirmation, "
        "le financement CPF n'est pas engagé.",
        "Confirm your registration on Mon Compte Formation before this date: without it, the CPF "
        "funding is not committed."),
    "withdrawal": (
        "Si vous souhaitez supprimer une UE ou annuler votre inscription, faites-en la demande écrite "
        "au centre avant cette date.",
        "If you want to drop a course unit or cancel your registration, send your written request to "
        "the centre before this date."),
    "apprenticeship-contract": (
        "Faites signer votre contrat d'apprentissage avant cette date et transmettez-le au centre.",
        "Have your apprenticeship contract signed before this date and send it to the centre."),
    "cpf-latest-validation": (
        "Si vous financez cette formation par le CPF, la demande doit être validée au plus tard ce jour-là "
        "pour commencer au prochain semestre.",
        "If the CPF funds your training, the request must be validated by this day at the latest to "
        "start next semester."),
    "registration-close": (
        "Finalisez votre inscription avant la clôture.",
        "Complete your registration before it closes."),
    "add-drop-close": (
        "Pour ajouter ou supprimer une UE, déposez le bulletin rectificatif avant cette date.",
        "To add or drop a course unit, hand in the corrective form before this date."),
    "exam": (
        "Vérifiez la date, l'heure et le lieu de votre épreuve sur votre convocation : ils sont publiés "
        "par le service des examens.",
        "Check the date, time and place of your exam on your notice: the exam office publishes them."),
}
_DEFAULT_ACTION = (
    "Vérifiez ce qui est attendu de vous avant cette date ; en cas de doute, contactez le centre.",
    "Check what is expected of you before this date; if in doubt, contact the centre.",
)


def clean_header(value: object, limit: int = 200) -> str:
    """Return ``value`` on one line: control and line-separator characters become spaces."""
    chars = (" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(value or ""))
    return _SPACES.sub(" ", "".join(chars)).strip()[:limit]


def message_id(key: str) -> str:
    """Return the Message-ID of a delivery key: the same key always gives the same message."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{MESSAGE_DOMAIN}>"


def _action(event: Mapping[str, Any], lang: str) -> str:
    i = 1 if lang == "en" else 0
    if event.get("kind") == "exam":
        return ACTIONS["exam"][i]
    event_id = str(event.get("id", ""))
    for prefix, texts in ACTIONS.items():
        if event_id == prefix or event_id.startswith(prefix + "-"):
            return texts[i]
    return _DEFAULT_ACTION[i]


def _when(event: Mapping[str, Any], day: date, lang: str) -> str:
    exam = event.get("kind") == "exam"
    if lang == "en":
        return f"{'from' if exam else 'on'} {long_date(day, 'en')}"
    return f"{'à partir du' if exam else 'le'} {long_date(day)}"


def subject_for(payload: Mapping[str, Any], lang: str) -> str:
    """Return the subject, e.g. « Rappel : Confirmation CPF : date limite le vendredi 13 novembre 2026 (J-1) »."""
    event = payload["event"]
    day = date.fromisoformat(payload["date"])
    n = int(payload["offset_days"])
    if lang == "en":
        return clean_header(f"Reminder: {event['title_en']} {_when(event, day, 'en')} (D-{n})", 250)
    return clean_header(f"Rappel : {event['title']} {_when(event, day, 'fr')} (J-{n})", 250)


def _unsubscribe(payload: Mapping[str, Any], address: str) -> tuple[str, str]:
    """Return (mailto URL, subject) of the opt-out: the opaque learner key, never a name."""
    token = payload["learner"].get("key") or hashlib.sha256(payload["learner"]["id"].encode()).hexdigest()[:32]
    subject = f"stop {token}"
    return f"mailto:{address}?subject={quote(subject)}", subject


def _texts(payload: Mapping[str, Any], lang: str, unsubscribe: str, unsub_subject: str) -> dict[str, Any]:
    event, learner, centre = payload["event"], payload["learner"], payload["centre"]
    day = date.fromisoformat(payload["date"])
    n = int(payload["offset_days"])
    en = lang == "en"
    name = clean_header(f"{learner.get('first_name', '')} {learner.get('last_name', '')}", 200)
    title = event["title_en"] if en else event["title"]
    if en:
        when = f"in {n} day{'s' if n != 1 else ''}" if n else "today"
    else:
        when = f"dans {n} jour{'s' if n != 1 else ''}" if n else "aujourd'hui"
    contact = [c for c in (centre.get("name"), centre.get("email"), centre.get("phone")) if c]
    faq = event.get("url") or centre.get("faq_url") or ""
    return {
        "hello": f"Hello {name}," if en else f"Bonjour {name},",
        "lead": (f"Reminder: {title} {_when(event, day, 'en')} ({when})." if en
                 else f"Rappel : {title} {_when(event, day, 'fr')} ({when})."),
        "todo_head": "What to do" if en else "Ce qu'il faut faire",
        "todo": _action(event, lang),
        "why_head": "How this date is worked out" if en else "Comment cette date est calculée",
        "steps": [str(s) for s in event.get("explanation", [])],
        "source": str(event.get("source") or ""),
        "source_label": "Source" if en else "Source",
        "contact_head": "Whom to contact" if en else "Qui contacter",
        "contact": contact,
        "faq": faq,
        "faq_label": "FAQ",
        "stop": (f"This message is automatic. To stop these reminder e-mails, write to {unsubscribe} with the "
                 f"subject « {unsub_subject} »; your calendar subscription stays up to date." if en else
                 f"Ce message est automatique. Pour ne plus recevoir ces rappels par e-mail, écrivez à "
                 f"{unsubscribe} avec l'objet « {unsub_subject} » ; votre calendrier (abonnement) reste à jour."),
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
    lines.extend(["", "-- ", t["stop"], ""])
    return "\n".join(lines)


def _html(t: Mapping[str, Any], lang: str) -> str:
    e = html.escape
    parts = [f'<!DOCTYPE html><html lang="{e(lang)}"><head><meta charset="utf-8"><title>{e(t["lead"])}</title>'
             "</head><body>",
             f"<p>{e(t['hello'])}</p>", f"<p><strong>{e(t['lead'])}</strong></p>",
             f"<h2>{e(t['todo_head'])}</h2>", f"<p>{e(t['todo'])}</p>"]
    if t["steps"]:
        parts.append(f"<h2>{e(t['why_head'])}</h2><ul>" + "".join(f"<li>{e(s)}</li>" for s in t["steps"]) + "</ul>")
    if t["source"]:
        parts.append(f"<p>{e(t['source_label'])}{e(t['colon'])} {e(t['source'])}</p>")
    if t["contact"]:
        parts.append(f"<h2>{e(t['contact_head'])}</h2><p>" + " — ".join(e(c) for c in t["contact"]) + "</p>")
    if t["faq"]:
        parts.append(f'<p>{e(t["faq_label"])}{e(t["colon"])} <a href="{e(t["faq"], quote=True)}">{e(t["faq"])}</a></p>')
    parts.append(f"<hr><p><small>{e(t['stop'])}</small></p></body></html>")
    return "\n".join(parts) + "\n"


def event_ics(payload: Mapping[str, Any], lang: str) -> bytes:
    """Return a one-event VCALENDAR (METHOD:PUBLISH) for the reminder's event, with its feed UID."""
    event = payload["event"]
    start = date.fromisoformat(event["start"])
    end = date.fromisoformat(event["end"])
    stamp = datetime.fromisoformat(payload["due_local"]).astimezone(timezone.utc)  # deterministic, never "now"
    description = "\n".join(event.get("explanation", []))
    if event.get("source"):
        description += "\n\nSource : " + event["source"]
    component = icalendar.Event.new(
        uid=event["uid"], stamp=stamp, summary=clean_header(event["title_en"] if lang == "en" else event["title"]),
        start=start, end=end + timedelta(days=1), description=description or None,
        transparency=icalendar.TRANSP.TRANSPARENT, url=event.get("url") or None,
    )
    cal = icalendar.Calendar.new(prodid=PRODID, method="PUBLISH")
    cal.add_component(component)
    return cal.to_ical()


def compose(payload: Mapping[str, Any], key: str, *, sender: str, lang: str | None = None,
            unsubscribe: str | None = None, date: datetime | None = None) -> EmailMessage:
    """Return the reminder e-mail of one delivery row (``lang`` defaults to the learner's; fr unless en).

    ``unsubscribe`` is the mailbox that receives opt-out requests (default: ``sender``); ``date``
    sets the Date header (the daemon passes its clock; no clock is read here).
    """
    learner = payload["learner"]
    lang = "en" if (lang or learner.get("lang")) == "en" else "fr"
    sender_addr = clean_header(sender, 254)
    mailbox = clean_header(unsubscribe or sender_addr, 254)
    if "<" in mailbox:
        mailbox = mailbox.split("<", 1)[1].split(">", 1)[0].strip()
    url, unsub_subject = _unsubscribe(payload, mailbox)
    t = _texts(payload, lang, mailbox, unsub_subject)
    msg = EmailMessage()
    msg["Subject"] = subject_for(payload, lang)
    msg["From"] = sender_addr
    msg["To"] = Address(display_name=clean_header(f"{learner.get('first_name', '')} {learner.get('last_name', '')}"),
                        addr_spec=clean_header(learner["email"], 254))
    msg["Message-ID"] = message_id(key)
    if date is not None:
        msg["Date"] = format_datetime(date.astimezone(timezone.utc))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["List-Unsubscribe"] = f"<{url}>"
    msg.set_content(_plain(t))
    msg.add_alternative(_html(t, lang), subtype="html")
    name = "reminder.ics" if lang == "en" else "rappel.ics"
    msg.add_attachment(event_ics(payload, lang), maintype="text", subtype="calendar", filename=name,
                       params={"method": "PUBLISH"})
    msg["Content-Language"] = lang  # after the parts: set_content drops Content-* headers
    return msg


def text_part(msg: EmailMessage) -> str:
    """Return the plain-text body of a composed message."""
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


__all__ = ["ACTIONS", "clean_header", "compose", "event_ics", "message_id", "subject_for", "text_part"]
