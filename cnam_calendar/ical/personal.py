"""Personal feeds, fast: the shared part of a centre-year is serialised once, each learner adds a few events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from cnam_calendar.ical import build as build_mod
from cnam_calendar.ical import ics, splice
from cnam_calendar.rules.dates import WorkingCalendar
from cnam_calendar.rules.model import UE, Event, Schedule
from cnam_calendar.rules.personal import applies, deadline_event, learner_deadlines
from cnam_calendar.rules.reminders import reminder_offsets

if TYPE_CHECKING:  # pragma: no cover
    from cnam_calendar.rules.model import Learner

END = ics.END


class PersonalFeeds:
    """Render the personal feeds of one centre-year; build once, then call ``render`` per learner."""

    def __init__(self, sched: Schedule, catalogue: Sequence[UE], manifest: dict[str, dict], stamp: datetime,
                 today: date, ouvres: WorkingCalendar) -> None:
        self.sched, self.stamp, self.today, self.ouvres = sched, stamp, today, ouvres
        self.catalogue = {u.code: u for u in catalogue}
        self.manifest = manifest
        self._blocks: dict[tuple, bytes] = {}
        self._heads: dict[str, tuple[bytes, bytes]] = {}
        self._personal_events: dict[tuple, splice.Template] = {}
        self._uid_lines: dict[tuple[str, int], splice.FoldedLines] = {}

    def _alarm_text(self, lang: str) -> str:
        return "Reminder: deadline approaching" if lang == "en" else "Rappel : échéance proche"

    def _with_alarms(self, items: list[ics.Item], events: Sequence[Event], lang: str, cpf: bool) -> None:
        policy = self.sched.centre.reminders
        by_uid = {ics.uid_for(e.id, self.sched.centre.id, self.sched.year): e for e in events}
        for item in items:
            event = by_uid.get(item.uid)
            if event is None:
                continue
            if event.kind == "deadline" and (cpf or not event.id.startswith("cpf-latest")):
                ics.add_alarms(item.component, reminder_offsets(policy.offsets_days, event.start), policy.time,
                               self._alarm_text(lang))
            elif event.kind == "exam" and event.id.startswith("ue-"):
                ics.add_alarms(item.component, reminder_offsets(policy.exam_offsets_days, event.start), policy.time,
                               "Reminder: exam session" if lang == "en" else "Rappel : session d'examens")

    def _block(self, key: str, lang: str, alarms: bool, cpf: bool) -> bytes:
        """Serialise the institutional events (key "") or one UE's events, once per variant."""
        cache_key = (key, lang, alarms, cpf)
        if cache_key not in self._blocks:
            if key:
                ue = self.catalogue[key]
                from cnam_calendar.rules.sessions import exam_events

                events = exam_events(ue, self.sched)
                items = build_mod.ue_items(self.sched, ue, lang)
            else:
                events = list(self.sched.events)
                items = build_mod.institutional_items(self.sched, lang)
            if alarms:
                self._with_alarms(items, events, lang, cpf)
            events, _ = ics.track(items, self.manifest, self.stamp, self.today, readonly=True)
            self._blocks[cache_key] = b"".join(e.data for e in sorted(events, key=lambda e: e.sort_key))
        return self._blocks[cache_key]

    def _head(self, lang: str) -> tuple[bytes, bytes]:
        if lang not in self._heads:
            name = build_mod.calendar_name(self.sched, lang)
            name = ("My calendar — " if lang == "en" else "Mon calendrier — ") + name
            data = build_mod.feed_bytes(self.sched, [], name=name)
            self._heads[lang] = (data[: -len(END)], END)
        return self._heads[lang]

    def _personal(self, event: Event, origin: date, lang: str, alarms: bool) -> splice.Template:
        """Serialise a personal deadline once per content and variant; learners only differ by UID and stamps."""
        policy = self.sched.centre.reminders
        offsets = reminder_offsets(policy.offsets_days, event.start, origin) if alarms else ()
        cache_key = (event, offsets, lang, alarms)
        found = self._personal_events.get(cache_key)
        if found is None:
            component = ics.event_item(event, self.sched.centre, self.sched.year, lang).component
            component["UID"] = splice.PLACEHOLDER_UID
            if alarms:
                ics.add_alarms(component, offsets, policy.time, self._alarm_text(lang))
            found = self._personal_events[cache_key] = splice.template(component)
        return found

    def _uid_line(self, event_id: str, key: str) -> bytes:
        """Return the folded UID line of a learner's event: the key is the only part that varies."""
        lines = self._uid_lines.get((event_id, len(key)))
        if lines is None:
            suffix = f".{self.sched.centre.id}.{self.sched.year}@cnam-calendar"
            lines = self._uid_lines[(event_id, len(key))] = splice.FoldedLines("UID", event_id + ".", len(key), suffix)
        return lines.line(key)

    def render(self, learner: Learner, key: str, changed: datetime, *, alarms: bool = True) -> bytes:
        """Return the learner's feed; ``key`` is their opaque feed key, ``changed`` when their data last changed."""
        lang = learner.lang if learner.lang in ("fr", "en") else "fr"
        cpf = learner.status == "cpf"
        head, tail = self._head(lang)
        parts = [head, self._block("", lang, alarms, cpf)]
        parts.extend(self._block(code, lang, alarms, cpf) for code in learner.ues if code in self.catalogue)
        deadlines = learner_deadlines(learner, self.sched, self.ouvres)
        if deadlines:
            stamps = ics.stamp_lines(0, max(changed, self.stamp))
            for d in deadlines:
                event = deadline_event(d)
                parts.append(self._personal(event, d.origin, lang, alarms).fill(self._uid_line(event.id, key), stamps))
        parts.append(tail)
        return b"".join(parts)


def personal_deadline_events(learner: Learner, sched: Schedule, ouvres: WorkingCalendar) -> list[Event]:
    """Return every deadline event that concerns the learner: personal ones and the centre's that apply."""
    own = [deadline_event(d) for d in learner_deadlines(learner, sched, ouvres)]
    institutional = [e for e in sched.events if e.kind == "deadline" and applies(e, learner)]
    return sorted(own + institutional, key=lambda e: (e.start, e.id))
