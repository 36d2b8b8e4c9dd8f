"""Schedules to RFC 5545 bytes: stable UIDs, change-tracked SEQUENCE, deterministic output."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import icalendar

from cnam_calendar import __version__
from cnam_calendar.rules.model import UE, Centre, Event
from cnam_calendar.rules.sessions import Sessions, session_explanation
from cnam_calendar.text.explain import render_all
from cnam_calendar.text.i18n import source_line

PRODID = f"-//cnam-calendar//cnam-calendar {__version__}//FR"
REFRESH = timedelta(hours=6)
DESCRIPTION_LIMIT = 4000  # characters; keeps a feed far below Google's ~1 MB
END = b"END:VCALENDAR\r\n"
UNSTAMPED = datetime(1970, 1, 1, tzinfo=timezone.utc)  # replaced by track(); never "now" (Event.new's default)


@dataclass(frozen=True)
class Item:
    """One VEVENT to publish, without its change-tracking stamps, and the last day it concerns."""

    uid: str
    component: icalendar.Event
    last_day: date
    feed: str = "calendar.ics"  # which file of the centre-year carries it


def uid_for(event_id: str, centre_id: str, year: int) -> str:
    """Return the UID of an institutional event: stable across rebuilds, unique across years."""
    return f"{event_id}.{centre_id}.{year}@cnam-calendar"


def describe(event: Event, lang: str = "fr") -> str:
    """Return the plain-text DESCRIPTION: the explanation in ``lang``, then the source."""
    text = "\n".join(render_all(event.explanation, lang))
    if event.source is not None:
        text += "\n\n" + source_line(event.source.cite(), lang)
    return text[:DESCRIPTION_LIMIT]


def event_item(event: Event, centre: Centre, year: int, lang: str = "fr", feed: str = "calendar.ics") -> Item:
    """Turn an all-day engine event into a feed item (DTEND exclusive, transparent)."""
    categories = list(event.categories)
    if lang == "en":
        from cnam_calendar.rules.engine import KIND_LABELS  # late import: ics only needs the labels here

        categories[0] = KIND_LABELS[event.kind][1]
    component = icalendar.Event.new(
        uid=uid_for(event.id, centre.id, year),
        stamp=UNSTAMPED,
        summary=event.label(lang),
        start=event.start,
        end=event.end + timedelta(days=1),
        description=describe(event, lang),
        categories=categories,
        transparency="TRANSPARENT",
        url=(event.source.url if event.source and event.source.url else centre.faq_url) or None,
    )
    return Item(component["UID"], component, event.end, feed)


def add_alarms(component: icalendar.Event, offsets_days: Iterable[int], at: time, text: str) -> None:
    """Add one DISPLAY alarm per offset: N days before the (all-day) event, at local time ``at``."""
    for n in offsets_days:
        alarm = icalendar.Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", text)
        alarm.add("TRIGGER", timedelta(days=-n, hours=at.hour, minutes=at.minute))
        component.add_component(alarm)


def location(ue: UE, centre: Centre) -> str | None:
    """Return « site, salle X » for a UE that meets somewhere."""
    site = next((s for s in centre.sites if s.id == ue.site), None)
    parts = [site.name if site else ue.site, f"salle {ue.room}" if ue.room else ""]
    if site and site.address:
        parts.append(site.address)
    text = ", ".join(p for p in parts if p)
    return text or None


def sessions_item(s: Sessions, centre: Centre, year: int, lang: str = "fr", feed: str = "") -> Item | None:
    """Turn the weekly sessions of a UE into one VEVENT with RRULE and EXDATE, in the centre's zone."""
    from zoneinfo import ZoneInfo

    ue = s.ue
    if not ue.timed or s.first is None or s.last is None:
        return None
    assert ue.start is not None and ue.end is not None
    tz = ZoneInfo(centre.timezone)
    start = datetime.combine(s.first, ue.start, tz)
    title = f"{ue.code} — {ue.title}" + (" (class)" if lang == "en" else " (cours)")
    component = icalendar.Event.new(
        uid=uid_for(f"ue-{ue.code}-sessions", centre.id, year),
        stamp=UNSTAMPED,
        summary=title,
        start=start,
        end=datetime.combine(s.first, ue.end, tz),
        description="\n".join(render_all(session_explanation(s, centre.timezone), lang))[:DESCRIPTION_LIMIT],
        categories=["Class" if lang == "en" else "Cours", ue.code],
        location=location(ue, centre),
        transparency="OPAQUE",
        url=centre.faq_url or None,
    )
    until = datetime.combine(s.last, ue.start, tz).astimezone(timezone.utc)
    component.add("RRULE", {"FREQ": "WEEKLY", "UNTIL": until})
    if s.skipped:
        component.add("EXDATE", [datetime.combine(d, ue.start, tz) for d, _ in s.skipped])
    return Item(component["UID"], component, s.last, feed or f"ue/{ue.code}.ics")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class Stamped:
    """A VEVENT ready to publish: its serialised bytes, the feed it goes to, and where it sorts."""

    feed: str
    sort_key: tuple[str, str]
    data: bytes


UNSTAMPED_LINE = b"DTSTAMP:19700101T000000Z\r\n"  # how UNSTAMPED serialises


def stamp_lines(sequence: int, modified: datetime) -> bytes:
    """Return the DTSTAMP, LAST-MODIFIED (both ``modified``, in UTC) and SEQUENCE lines."""
    when = _utc(modified).strftime("%Y%m%dT%H%M%SZ").encode()
    return b"DTSTAMP:%s\r\nLAST-MODIFIED:%s\r\nSEQUENCE:%d\r\n" % (when, when, sequence)


def _sort_key(component: icalendar.Event) -> tuple[str, str]:
    start = component.get("DTSTART").dt
    key = start.isoformat() if isinstance(start, datetime) else datetime.combine(start, datetime.min.time()).isoformat()
    return (key, str(component["UID"]))


def stamped(component: icalendar.Event, feed: str, sequence: int, modified: datetime,
            text: bytes | None = None) -> Stamped:
    """Serialise ``component`` with DTSTAMP = LAST-MODIFIED = ``modified`` and SEQUENCE.

    Items are made with a fixed placeholder DTSTAMP, so the stamps are spliced into the bytes
    already serialised for the content hash instead of folding every line a second time.
    """
    text = component.to_ical() if text is None else text
    if UNSTAMPED_LINE in text:
        data = text.replace(UNSTAMPED_LINE, stamp_lines(sequence, modified), 1)
    else:
        copy = icalendar.Event()
        copy.update(component)
        copy.subcomponents = list(component.subcomponents)
        for key in ("DTSTAMP", "LAST-MODIFIED", "SEQUENCE"):
            copy.pop(key, None)
        data = copy.to_ical().replace(b"BEGIN:VEVENT\r\n", b"BEGIN:VEVENT\r\n" + stamp_lines(sequence, modified), 1)
    return Stamped(feed, _sort_key(component), data)


def track(
    items: Iterable[Item], manifest: Mapping[str, dict], stamp: datetime, today: date, *, readonly: bool = False
) -> tuple[list[Stamped], dict[str, dict]]:
    """Stamp each item with SEQUENCE/LAST-MODIFIED from ``manifest``; keep removed ones as cancelled.

    ``stamp`` is the time of this build (used only for what changed); ``today`` decides when a
    cancelled event has passed and can go. ``readonly`` (feeds made on demand, in any language)
    takes the stamps the last build recorded for each UID and cancels nothing new.
    Returns the stamped events and the new manifest.
    """
    stamp = _utc(stamp)
    out: list[Stamped] = []
    new: dict[str, dict] = {}
    current = set()
    for item in items:
        current.add(item.uid)
        text = item.component.to_ical()  # serialised once: hashed, stamped and recorded
        digest = hashlib.sha256(text).hexdigest()
        old = manifest.get(item.uid)
        if old and (readonly or old["hash"] == digest) and not old.get("cancelled"):
            sequence, modified = old["sequence"], old["last_modified"]
        else:
            sequence = old["sequence"] + 1 if old else 0
            modified = stamp.isoformat()
        out.append(stamped(item.component, item.feed, sequence, datetime.fromisoformat(modified), text))
        if not readonly:
            new[item.uid] = {"hash": digest, "sequence": sequence, "last_modified": modified, "feed": item.feed,
                             "last_day": item.last_day.isoformat(), "ics": text.decode()}
    for uid, old in manifest.items():
        if uid in current or date.fromisoformat(old["last_day"]) < today or (readonly and not old.get("cancelled")):
            continue  # still published, or a cancelled event whose date has passed: it goes
        component = icalendar.Event.from_ical(old["ics"])
        if old.get("cancelled"):
            sequence, modified = old["sequence"], old["last_modified"]
        else:
            sequence, modified = old["sequence"] + 1, stamp.isoformat()
        component["STATUS"] = "CANCELLED"
        summary = str(component.get("SUMMARY", ""))
        if not summary.startswith("[ANNULÉ]"):
            component["SUMMARY"] = f"[ANNULÉ] {summary}"
        out.append(stamped(component, old.get("feed", "calendar.ics"), sequence, datetime.fromisoformat(modified)))
        new[uid] = {**old, "sequence": sequence, "last_modified": modified, "cancelled": True}
    return out, new


def calendar_bytes(
    events: Iterable[Stamped],
    *,
    name: str,
    tzid: str,
    description: str = "",
    tz_range: tuple[date, date] | None = None,
) -> bytes:
    """Wrap stamped events in a VCALENDAR with the feed properties and one bounded VTIMEZONE.

    No METHOD: a subscription feed is not an iTIP message (RFC 5546 would then require an
    ORGANIZER in every VEVENT), and no calendar-level UID: vdirsyncer copies the VCALENDAR's
    properties into each item it splits off and takes the first UID line as the item's, so every
    event of the feed would collide into one.
    """
    cal = icalendar.Calendar.new(prodid=PRODID, calscale="GREGORIAN", name=name, description=description or None)
    cal.pop("UID", None)  # Calendar.new adds a random one
    cal.add("X-WR-TIMEZONE", tzid)
    cal.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", icalendar.vDuration(REFRESH))
    if tz_range is not None:
        first, last = tz_range
        vtimezone = icalendar.Timezone.from_tzid(tzid, first_date=first - timedelta(days=1),
                                                 last_date=last + timedelta(days=2))
        vtimezone.pop("COMMENT", None)  # icalendar notes the range there; RFC 5545 allows no COMMENT in VTIMEZONE
        cal.add_component(vtimezone)
    body = b"".join(e.data for e in sorted(events, key=lambda e: e.sort_key))
    return cal.to_ical().removesuffix(END) + body + END


def dump_manifest(manifest: Mapping[str, dict]) -> bytes:
    """Serialise a manifest deterministically."""
    return json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode() + b"\n"


def load_manifest(data: bytes | None) -> dict[str, dict]:
    """Parse a manifest; a missing or unreadable one starts afresh."""
    if not data:
        return {}
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
