"""Change notices and invitations: a delivery row's payload → the message on the wire (as ``compose.render``).

A payload's ``type`` says which: ``notice`` (``store.notices``: what moved, was cancelled or added
in the learner's calendar, old → new and why) or ``invite`` (``cli learners invite``: the link to
the learner's page). Same frame as the reminders (``mail/templates/frame.html.j2``: phone first,
600 px at most, system fonts), same headers (Message-ID from the key, ``Auto-Submitted``, the
opt-out), entirely in the learner's language; a notice carries its changed events as ``.ics``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from cnam_calendar.mail import compose
from cnam_calendar.mail.compose import (
    PRODID,
    _ics_line,
    _ics_text,
    clean_header,
    countdown,
)
from cnam_calendar.mail.smtp import WireMessage
from cnam_calendar.messages import gettext, ngettext
from cnam_calendar.templating import render as render_template
from cnam_calendar.text.explain import render_all
from cnam_calendar.text.i18n import long_date

CHANGE_LABELS = {"moved": compose.N_("Date modifiée"), "cancelled": compose.N_("Annulé"),
                 "added": compose.N_("Nouveau")}


def _lang(payload: Mapping[str, Any], lang: str | None) -> str:
    return "en" if (lang or payload["learner"].get("lang")) == "en" else "fr"


def span(entry: Sequence[Any], lang: str) -> str:
    """Write an event's dates: « jeudi 1er octobre 2026 », « du … au … », with its hours when it has some."""
    start, end, hours = date.fromisoformat(entry[0]), date.fromisoformat(entry[1]), entry[2]
    text = long_date(start, lang) if start == end else gettext(
        lang, "du %(start)s au %(end)s", start=long_date(start, lang), end=long_date(end, lang))
    return f"{text}, {hours.replace('-', '–')}" if hours else text


def _common(payload: Mapping[str, Any], lang: str, mailbox: str) -> dict[str, Any]:
    learner, centre = payload["learner"], payload["centre"]
    name = clean_header(f"{learner.get('first_name', '')} {learner.get('last_name', '')}", 200)
    url, subject = compose._unsubscribe(payload, mailbox)
    return {
        "hello": gettext(lang, "Bonjour %(name)s,", name=name),
        "contact_head": gettext(lang, "Qui contacter"),
        "contact_name": centre.get("name") or "", "contact_email": centre.get("email") or "",
        "contact_phone": centre.get("phone") or "",
        "faq": centre.get("faq_url") or "", "faq_label": "FAQ",
        "faq_link": gettext(lang, "Questions fréquentes (FAQ)"),
        "page_link": payload.get("page_url") or "",
        "page_label": gettext(lang, "Ma page : mes échéances et mon calendrier"),
        "page_head": gettext(lang, "Votre page (échéances, calendrier)"),  # the plain text's: one colon, then the link
        "stop": gettext(lang, "Ce message est automatique. Pour ne plus recevoir ces rappels par e-mail, écrivez à "
                              "%(address)s avec l'objet « %(subject)s » ; votre calendrier (abonnement) reste à jour.",
                        address=mailbox, subject=subject),
        "colon": ":" if lang == "en" else " :",
        "unsubscribe_url": url,
    }


def _change_items(found: Sequence[Mapping[str, Any]], lang: str, today: date) -> list[dict[str, Any]]:
    """Return what the e-mail says of each change: label, title, old → new, days left, why."""
    items = []
    for c in found:
        entry = c["new"] or c["old"]
        title = entry[4] if lang == "en" else entry[3]
        left = ""
        if c["new"] is not None:
            n = (date.fromisoformat(c["new"][0]) - today).days
            left = countdown(n, lang) if n >= 0 else ""
        items.append({
            "change": c["change"], "label": gettext(lang, CHANGE_LABELS[c["change"]]), "title": title,
            "old": span(c["old"], lang) if c["old"] else "", "new": span(c["new"], lang) if c["new"] else "",
            "old_label": gettext(lang, "Avant") if c["new"] else gettext(lang, "Prévu"), "left": left,
            "steps": list(render_all(c.get("steps", []), lang)) if c["new"] else [],
        })
    return items


def _today(payload: Mapping[str, Any], moment: datetime | None) -> date:
    zone = ZoneInfo(payload["centre"].get("timezone") or "Europe/Paris")
    when = moment if moment is not None else datetime.fromisoformat(payload["due_local"])
    return when.astimezone(zone).date()


def _notice_texts(payload: Mapping[str, Any], lang: str, mailbox: str, moment: datetime | None) -> dict[str, Any]:
    items = _change_items(payload["changes"], lang, _today(payload, moment))
    n = len(items)
    if n == 1:
        subject = gettext(lang, "%(label)s : %(title)s", label=items[0]["label"], title=items[0]["title"])
    else:
        subject = ngettext(lang, "%(num)d date a changé dans votre calendrier",
                           "%(num)d dates ont changé dans votre calendrier", n)
    if payload.get("digest"):
        subject = gettext(lang, "Résumé de la semaine : %(subject)s", subject=subject)
    lead = ngettext(lang, "Une date de votre calendrier a changé.", "%(num)d dates de votre calendrier ont changé.", n)
    return {**_common(payload, lang, mailbox), "title": subject, "subject": subject, "lead": lead, "changes": items,
            "why_head": gettext(lang, "Pourquoi cette date"), "feed_note": _feed_note(lang)}


def _feed_note(lang: str) -> str:
    return gettext(lang, "Votre calendrier (abonnement) se met à jour de lui-même : certaines applications ne le "
                         "relisent que toutes les quelques heures.")


def _invite_texts(payload: Mapping[str, Any], lang: str, mailbox: str) -> dict[str, Any]:
    centre_name = payload["centre"].get("name") or ""
    subject = gettext(lang, "%(centre)s : votre calendrier personnel", centre=centre_name)
    return {**_common(payload, lang, mailbox), "title": subject, "subject": subject,
            "page_url": payload.get("page_url") or gettext(lang, "(lien effacé de la base après l'envoi)"),
            "page_link": "",
            "lead": gettext(lang, "Voici votre page personnelle : vos échéances, vos UE et vos sessions d'examens, "
                                  "et l'abonnement de votre agenda à votre calendrier, qui se tient à jour tout seul."),
            "button": gettext(lang, "Ouvrir ma page"),
            "points": [gettext(lang, "Vos échéances, avec le nombre de jours restants et leur explication."),
                       gettext(lang, "Un abonnement pour votre agenda (iPhone, Android, Google, Outlook, "
                                     "Thunderbird) : une seule fois, il passe d'une année à la suivante sans rien "
                                     "changer."),
                       gettext(lang, "Vos e-mails : chaque rappel, un résumé le lundi, ou aucun.")],
            "replaced": gettext(lang, "Ce lien remplace le précédent, qui ne fonctionne plus : si votre agenda était "
                                      "abonné avec l'ancien, abonnez-le de nouveau depuis cette page.")
            if payload.get("replaced") else "",
            "secret": gettext(lang, "Ce lien est personnel : ne le transmettez pas. Votre page permet d'en obtenir "
                                    "un nouveau."),
            "raw_label": gettext(lang, "Si le bouton ne s'ouvre pas, copiez ce lien")}


def _week_texts(payload: Mapping[str, Any], lang: str, mailbox: str, moment: datetime | None) -> dict[str, Any]:
    """The Monday letter: the week's dates, and the week's changes when it carries the digest (``changes``)."""
    today = _today(payload, moment)
    items = []
    for item in payload["items"]:
        event, day = item["event"], date.fromisoformat(item["date"])
        n = (day - today).days
        if n < 0:
            continue  # sent late (after downtime): what is over is left out
        items.append({"title": event["title_en"] if lang == "en" else event["title"],
                      "when": compose._when(event, day, lang), "left": countdown(n, lang),
                      "todo": compose.action(event, lang), "steps": compose.explanation(event, lang)})
    n = len(items)
    subject = ngettext(lang, "Votre semaine : %(num)d date à retenir", "Votre semaine : %(num)d dates à retenir", n)
    changes = _change_items(payload.get("changes") or [], lang, today)
    if changes:
        subject = gettext(lang, "%(week)s, %(changes)s", week=subject, changes=ngettext(
            lang, "%(num)d changement", "%(num)d changements", len(changes)))
    return {**_common(payload, lang, mailbox), "title": subject, "subject": subject, "entries": items,
            "lead": gettext(lang, "Les échéances et examens à venir, réunis comme vous l'avez choisi (un e-mail "
                                  "par semaine, le lundi) :"),
            "todo_head": gettext(lang, "Ce qu'il faut faire"), "why_head": gettext(lang, "Comment cette date est calculée"),
            "changes": changes, "changes_head": gettext(lang, "Ce qui a changé dans votre calendrier"),
            "change_why_head": gettext(lang, "Pourquoi cette date"), "feed_note": _feed_note(lang) if changes else ""}


def _change_lines(changes: Sequence[Mapping[str, Any]], why_head: str, colon: str) -> list[str]:
    lines: list[str] = []
    for c in changes:
        lines.append(f"{c['label']}{colon} {c['title']}")
        if c["old"]:
            lines.append(f"  {c['old_label']}{colon} {c['old']}")
        if c["new"]:
            lines.append(f"  → {c['new']}" + (f" ({c['left']})" if c["left"] else ""))
        if c["steps"]:
            lines.append(f"  {why_head}{colon}")
            lines.extend(f"    • {s}" for s in c["steps"])
        lines.append("")
    return lines


def _plain(t: Mapping[str, Any], kind: str) -> str:
    colon = t["colon"]
    lines = [t["hello"], "", t["lead"], ""]
    if kind == "notice":
        lines.extend(_change_lines(t["changes"], t["why_head"], colon))
        lines.extend([t["feed_note"], ""])
    elif kind == "week":
        for item in t["entries"]:
            lines.append(f"• {item['title']} {item['when']} ({item['left']})")
            lines.append(f"  {t['todo_head']}{colon} {item['todo']}")
            if item["steps"]:
                lines.append(f"  {t['why_head']}{colon}")
                lines.extend(f"    – {s}" for s in item["steps"])
            lines.append("")
        if t["changes"]:
            lines.extend([f"{t['changes_head']}{colon}", ""])
            lines.extend(_change_lines(t["changes"], t["change_why_head"], colon))
            lines.extend([t["feed_note"], ""])
    else:
        lines.extend([f"{t['button']}{colon} {t['page_url']}", ""])
        lines.extend(f"  • {p}" for p in t["points"])
        lines.append("")
        if t["replaced"]:
            lines.extend([t["replaced"], ""])
        lines.extend([t["secret"], ""])
    contact = [c for c in (t["contact_name"], t["contact_email"], t["contact_phone"]) if c]
    if contact:
        lines.append(f"{t['contact_head']}{colon} " + " — ".join(contact))
    if t["faq"]:
        lines.append(f"{t['faq_label']}{colon} {t['faq']}")
    if t["page_link"]:
        lines.append(f"{t['page_head']}{colon} {t['page_link']}")
    lines.extend(["", "-- ", t["stop"], ""])
    return "\n".join(lines)


def notice_ics(payload: Mapping[str, Any], lang: str, stamp: datetime) -> bytes | None:
    """Return the changed all-day events of a notice as a VCALENDAR (cancelled ones STATUS:CANCELLED), or None."""
    out = [b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n", _ics_line("PRODID", PRODID)]
    n = 0
    for c in payload["changes"]:
        entry = c["new"] or c["old"]
        if entry[2]:
            continue  # weekly sessions: the feed carries their recurrence
        start, end = date.fromisoformat(entry[0]), date.fromisoformat(entry[1]) + timedelta(days=1)
        title = clean_header(entry[4] if lang == "en" else entry[3])
        out += [b"BEGIN:VEVENT\r\n", _ics_line("SUMMARY", _ics_text(title)),
                f"DTSTART;VALUE=DATE:{start:%Y%m%d}\r\nDTEND;VALUE=DATE:{end:%Y%m%d}\r\n"
                f"DTSTAMP:{stamp.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}\r\n".encode("ascii"),
                _ics_line("UID", _ics_text(str(c["uid"])))]
        steps = list(render_all(c.get("steps", []), lang)) if c["new"] else []
        if steps:
            out.append(_ics_line("DESCRIPTION", _ics_text("\n".join(steps))))
        if c["new"] is None:
            out.append(b"STATUS:CANCELLED\r\n")
        out.append(b"TRANSP:TRANSPARENT\r\nEND:VEVENT\r\n")
        n += 1
    out.append(b"END:VCALENDAR\r\n")
    return b"".join(out) if n else None


def week_ics(payload: Mapping[str, Any], lang: str, stamp: datetime) -> bytes | None:
    """Return the events of a Monday letter as one VCALENDAR (the feed's UIDs), or None when it has none.

    A letter that carries the week's changes (``changes``) has the changed events too, as a notice has them.
    """
    events = [item["event"] for item in payload["items"]]
    parts = [compose.event_ics({**payload, "event": e, "due_local": stamp.isoformat()}, lang) for e in events]
    changed = notice_ics(payload, lang, stamp) if payload.get("changes") else None
    if changed is not None:
        parts.append(changed)
    if not parts:
        return None
    head, tail = b"END:VCALENDAR\r\n", b"BEGIN:VEVENT\r\n"
    first = parts[0].removesuffix(head)
    rest = [p[p.index(tail):].removesuffix(head) for p in parts[1:]]
    return first + b"".join(rest) + head


def render_letter(payload: Mapping[str, Any], key: str, *, sender: str | None = None, lang: str | None = None,
                  unsubscribe: str | None = None, date: datetime | None = None,
                  base_url: str | None = None) -> WireMessage:
    """Return the notice, Monday letter or invitation of one delivery row as it goes on the wire (see ``compose.render``)."""
    kind = payload["type"]
    lang = _lang(payload, lang)
    centre = payload["centre"]
    sender_addr, mailbox = compose.addresses(centre, sender, unsubscribe)
    t = (_notice_texts(payload, lang, mailbox, date) if kind == "notice" else
         _week_texts(payload, lang, mailbox, date) if kind == "week" else _invite_texts(payload, lang, mailbox))
    html = render_template(compose._TEMPLATES, f"{kind}.html.j2", t=t, lang=lang)
    stamp = date or datetime.fromisoformat(payload.get("due_local") or "2000-01-01T00:00:00+00:00")
    attachment = (notice_ics(payload, lang, stamp) if kind == "notice" else
                  week_ics(payload, lang, stamp) if kind == "week" else None)
    name = {"notice": ("changements.ics", "changes.ics"), "week": ("semaine.ics", "week.ics")}.get(kind, ("", ""))
    return compose.wire(payload, key, lang, clean_header(t["subject"], 250), sender_addr, t["unsubscribe_url"],
                        base_url, date, _plain(t, kind), html,
                        None if attachment is None else (name[lang == "en"], attachment))


__all__ = ["notice_ics", "render_letter", "span"]
