"""Read .ics files with libical (Evolution's engine, through GObject introspection) and print what it shows.

Run with the system interpreter, which has Debian's python3-gi and gir1.2-ical-3.0 (the project's
virtualenv has neither): ``/usr/bin/python3 libical_dump.py FILE.ics...``. Prints JSON: per file,
the X-LIC-ERROR properties libical added while parsing, the outcome of its iTIP (RFC 5546)
restriction check and the errors that check added, and every VEVENT with its occurrences
(recurrences expanded with EXDATEs applied) and its alarm triggers.
"""

import json
import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib as I  # noqa: E402

SPAN = ("19700101T000000Z", "20991231T000000Z")


def errors(comp):
    """Return the X-LIC-ERROR lines of ``comp`` and of everything inside it."""
    found = []
    prop = comp.get_first_property(I.PropertyKind.XLICERROR_PROPERTY)
    while prop is not None:
        found.append(prop.as_ical_string().replace("\r\n ", "").strip())
        prop = comp.get_next_property(I.PropertyKind.XLICERROR_PROPERTY)
    sub = comp.get_first_component(I.ComponentKind.ANY_COMPONENT)
    while sub is not None:
        found += errors(sub)
        sub = comp.get_next_component(I.ComponentKind.ANY_COMPONENT)
    return found


def when(t, zone):
    if t.is_date():
        return {"date": f"{t.get_year():04d}-{t.get_month():02d}-{t.get_day():02d}"}
    local = t.convert_to_zone(zone) if zone is not None else t
    return {"local": f"{local.get_year():04d}-{local.get_month():02d}-{local.get_day():02d}T"
                     f"{local.get_hour():02d}:{local.get_minute():02d}",
            "utc": t.as_timet_with_zone(t.get_timezone()) if t.get_timezone() else None,
            "zone": t.get_tzid()}


def span_time(timet, zone, is_date):
    """Return an occurrence of a recurrence span (a UTC instant), in the event's zone."""
    utc = I.Time.new_from_timet_with_zone(timet, is_date, I.Timezone.get_utc_timezone())
    if is_date:
        return when(utc, None)
    local = utc.convert_to_zone(zone) if zone is not None else utc
    return {"local": f"{local.get_year():04d}-{local.get_month():02d}-{local.get_day():02d}T"
                     f"{local.get_hour():02d}:{local.get_minute():02d}", "utc": timet,
            "zone": zone.get_tzid() if zone is not None else None}


def main(files):
    out = {}
    for path in files:
        with open(path, encoding="utf-8") as f:
            cal = I.Component.new_from_string(f.read())
        parse_errors = errors(cal)
        events = []
        ev = cal.get_first_component(I.ComponentKind.VEVENT_COMPONENT)
        while ev is not None:
            start, end = ev.get_dtstart(), ev.get_dtend()
            zone = start.get_timezone()
            occurrences = []
            if ev.get_first_property(I.PropertyKind.RRULE_PROPERTY) is not None:
                spans = []
                ev.foreach_recurrence(I.Time.new_from_string(SPAN[0]), I.Time.new_from_string(SPAN[1]),
                                      lambda comp, span, data, spans=spans: spans.append((span.get_start(),
                                                                                          span.get_end())), None)
                occurrences = [[span_time(a, zone, start.is_date()), span_time(b, zone, start.is_date())]
                               for a, b in spans]
            else:
                occurrences.append([when(start, zone), when(end, zone)])
            alarms = []
            alarm = ev.get_first_component(I.ComponentKind.VALARM_COMPONENT)
            while alarm is not None:
                trigger = alarm.get_first_property(I.PropertyKind.TRIGGER_PROPERTY)
                alarms.append(trigger.get_value_as_string())
                alarm = ev.get_next_component(I.ComponentKind.VALARM_COMPONENT)
            events.append({"uid": ev.get_uid(), "summary": ev.get_summary(), "occurrences": occurrences,
                           "alarms": alarms})
            ev = cal.get_next_component(I.ComponentKind.VEVENT_COMPONENT)
        itip_ok = bool(I.restriction_check(cal))  # adds X-LIC-ERROR (INVALID-ITIP) where it fails
        itip_errors = [e for e in errors(cal) if e not in parse_errors]
        out[path] = {"parse_errors": parse_errors, "itip_ok": itip_ok, "itip_errors": itip_errors, "events": events}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
