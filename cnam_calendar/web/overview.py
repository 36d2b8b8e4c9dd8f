"""The year at a glance: one self-contained HTML page per centre-year, to read on screen or pin on a wall.

PURE: no file, clock or network access. The page has no external asset and no script; it prints on
one A4 landscape sheet for the month grid, then the details (periods, deadlines, feeds).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import PurePath

from cnam_calendar.messages import gettext, ngettext
from cnam_calendar.rules.model import Event, Schedule
from cnam_calendar.templating import environment, render
from cnam_calendar.text.explain import render_all
from cnam_calendar.text.i18n import LANGS, day_name, long_date, month_name

# Which background a day takes when several events cover it (the others stay in data-kinds and title).
FILL_PRIORITY = ("holiday", "closure", "exam", "semester")
KINDS = ("semester", "exam", "holiday", "closure", "deadline")

_SHORT_MONTHS = {
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
def _short(d: date, lang: str, *, year: bool = False) -> str:
    text = f"{d.day} {_SHORT_MONTHS[lang][d.month - 1]}"
    return f"{text} {d.year}" if year else text


def _months(year: int) -> list[tuple[int, int]]:
    """Return (year, month) from September Y to September Y+1: 13 months."""
    return [(year + (m > 12), (m - 1) % 12 + 1) for m in range(9, 22)]


def _shade(event: Event, semesters: Sequence[Event]) -> str:
    """Return the CSS class of an event's colour; semesters alternate two shades."""
    if event.kind == "semester":
        return "k-sem1" if semesters.index(event) % 2 == 0 else "k-sem2"
    return f"k-{event.kind}"


def _by_day(schedule: Schedule) -> dict[date, list[Event]]:
    """Return the events covering each day (kinds the page knows only)."""
    days: dict[date, list[Event]] = {}
    for event in schedule.events:
        if event.kind not in KINDS:
            continue
        day = event.start
        while day <= event.end:
            days.setdefault(day, []).append(event)
            day += timedelta(days=1)
    return days


def _day_cell(day: date, events: list[Event], semesters: Sequence[Event], lang: str) -> dict[str, object]:
    """Return one day's cell: colour, marker, data-date/data-kinds/data-events and a title."""
    kinds = [k for k in KINDS if any(e.kind == k for e in events)]
    classes = ["day"]
    if day.weekday() >= 5:
        classes.append("we")
    fill = next((e for k in FILL_PRIORITY for e in events if e.kind == k), None)
    if fill is not None:
        classes.append(_shade(fill, semesters))
    if "deadline" in kinds:
        classes.append("dl")
    labels = " · ".join(_kind_label(e, lang) for e in events)
    return {"classes": " ".join(classes), "date": day.isoformat(), "kinds": " ".join(kinds),
            "events": " ".join(e.id for e in events), "day": day.day, "holiday": "holiday" in kinds,
            "title": gettext(lang, "%(day)s : %(what)s", day=long_date(day, lang), what=labels) if events else ""}


def _kind_label(event: Event, lang: str) -> str:
    """Return what an event is called in a day's tooltip."""
    label = event.label(lang)
    if event.kind == "holiday":
        return f"{label} ({gettext(lang, 'Jour férié').lower()})"
    if event.kind == "deadline":
        return gettext(lang, "Échéance : %(label)s", label=label)
    return label


def _notes(year: int, month: int, schedule: Schedule, semesters: Sequence[Event], lang: str) -> list[dict]:
    """List what starts or ends in the month, under its grid, so the wall copy reads without the legend."""
    items: list[tuple[date, int, dict[str, object]]] = []
    for event in schedule.events:
        if event.kind not in KINDS:
            continue
        shade, label = _shade(event, semesters), event.label(lang)
        if event.start == event.end:
            if (event.start.year, event.start.month) == (year, month):
                items.append((event.start, 0, {"shade": shade, "when": event.start.day, "text": label}))
            continue
        starts = (event.start.year, event.start.month) == (year, month)
        ends = (event.end.year, event.end.month) == (year, month)
        if starts and ends:
            span = f"{event.start.day}–{event.end.day}"
            items.append((event.start, 1, {"shade": shade, "when": span, "text": label}))
            continue
        if starts:
            text = gettext(lang, "%(label)s : début", label=label)
            items.append((event.start, 1, {"shade": shade, "when": event.start.day, "text": text}))
        if ends:
            text = gettext(lang, "%(label)s : fin", label=label)
            items.append((event.end, 1, {"shade": shade, "when": event.end.day, "text": text, "end": True}))
    items.sort(key=lambda item: (item[0], item[1]))
    return [item for _, _, item in items]


def _month(year: int, month: int, schedule: Schedule, by_day: dict[date, list[Event]],
           semesters: Sequence[Event], lang: str) -> dict[str, object]:
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    while len(weeks) < 6:  # every month six rows high, so the grid lines up on the wall
        weeks.append([weeks[-1][-1] + timedelta(days=1 + i) for i in range(7)])
    rows = [{"iso": week[0].isocalendar().week if any(d.month == month for d in week) else "",
             "cells": [_day_cell(d, by_day.get(d, []), semesters, lang) if d.month == month else None
                       for d in week]}
            for week in weeks]
    return {"key": f"{year}-{month:02d}", "year": year, "name": month_name(month, lang), "weeks": rows,
            "notes": _notes(year, month, schedule, semesters, lang)}


def _length(event: Event, lang: str) -> str:
    n = (event.end - event.start).days + 1
    if n >= 14:
        return ngettext(lang, "%(num)d semaine", "%(num)d semaines", round(n / 7))
    return ngettext(lang, "%(num)d jour", "%(num)d jours", n)


def _event(event: Event, semesters: Sequence[Event], lang: str) -> dict[str, object]:
    """Return what the details show of an event: its id, colour, label, dates, length, steps."""
    return {"id": event.id, "shade": _shade(event, semesters), "label": event.label(lang),
            "overridden": event.overridden, "start": long_date(event.start, lang),
            "end": long_date(event.end, lang),
            "length": _length(event, lang), "steps": render_all(event.explanation, lang),
            "source": event.source.cite() if event.source else ""}


def render_overview(schedule: Schedule, links: Sequence[tuple[str, str]], *, lang: str = "fr",
                    template: str = "overview.html.j2", **extra: object) -> str:
    """Render the year-at-a-glance page of a schedule; ``links`` are (label, relative href) of its .ics files.

    A page built on it (the staff console's year) names its own ``template``, which extends
    overview.html.j2, and passes what it adds in ``extra``; it gets every event explained in ``events``.
    """
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGS)}")
    centre = schedule.centre
    semesters = [e for e in schedule.events if e.kind == "semester"]
    by_day = _by_day(schedule)
    source = f"calendars/{PurePath(centre.path).name}" if centre.path else f"calendars/{centre.id}.toml"
    exams = [e for e in schedule.events if e.kind == "exam"]
    days_off = [
        {"shade": _shade(e, semesters), "label": e.label(lang),
         "when": long_date(e.start, lang) if e.start == e.end
         else f"{_short(e.start, lang, year=True)} → {_short(e.end, lang, year=True)}"}
        for e in schedule.events if e.kind in ("holiday", "closure")
    ]
    return render(
        environment("cnam_calendar.web", lang), template,
        lang=lang, year=schedule.year,
        title=gettext(lang, "%(centre)s — année %(label)s", centre=centre.name, label=schedule.label),
        months_label=gettext(lang, "Les mois de l'année %(label)s", label=schedule.label),
        months=[_month(y, m, schedule, by_day, semesters, lang) for y, m in _months(schedule.year)],
        day_names=[day_name(date(2024, 1, 1 + i), lang) for i in range(7)],
        legend_semesters=[{"shade": _shade(e, semesters), "label": e.label(lang),
                           "dates": f"{_short(e.start, lang)} → {_short(e.end, lang, year=True)}"}
                          for e in semesters],
        exam_dates=" ; ".join(f"{_short(e.start, lang)} → {_short(e.end, lang)}" for e in exams),
        deadlines=[_event(e, semesters, lang) for e in schedule.events if e.kind == "deadline"],
        periods=[_event(e, semesters, lang) for e in schedule.events if e.kind in ("semester", "exam")],
        days_off=days_off,
        links=links,
        footer=gettext(lang, "Généré par cnam-calendar à partir de %(path)s. Les dates se calculent selon les "
                             "règles du Cnam ; chaque échéance donne son raisonnement.", path=source),
        contact=[x for x in (centre.contact.email, centre.contact.url) if x],
        events=[_event(e, semesters, lang) for e in schedule.events if e.kind in KINDS] if extra else [],
        **extra,
    )
