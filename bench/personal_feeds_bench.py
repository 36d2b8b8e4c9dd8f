"""Benchmark of the personal feeds (issue 4, "How it is shown": all 50,000 learners' feeds).

Run from the project root (it reads calendars/):

    python bench/personal_feeds_bench.py            # 50,000 learners, naive on 1,000 of them; a few minutes
    python bench/personal_feeds_bench.py --quick    # 5,000 learners, naive on 200; well under a minute
    python bench/personal_feeds_bench.py --write    # also time ours writing one file per learner

Setup (not timed): `generate_learners(N, seed, centres, catalogue codes, 2026)`, imported into a
temporary SQLite store, read back with `Store.learners()`; each learner's opaque key
(`Store.learner_key`) and last change (`Store.changed_at_all`) are looked up once, so the three
ways below get exactly the same inputs. The schedule of each centre-year is computed once and
shared by all three: the engine is not what is measured here, the feed writing is.

Each way produces every feed as bytes in memory, with VALARMs (alarms=True):

(a) ours: one `PersonalFeeds` per centre, `render(learner, key, changed)` per learner;
(b) naive: per learner, a whole calendar from scratch with icalendar through the project's
    building blocks, nothing cached: `build.institutional_items` + `build.ue_items` of the
    learner's UEs, their VALARMs, `ics.track(..., readonly=True)`, the personal deadlines as
    icalendar events, `build.feed_bytes` (`ics.calendar_bytes`). Too slow for all N: it runs on
    an evenly spread sample and the total is EXTRAPOLATED from the sample's rate;
(c) templates, the limit: the head, the institutional block and each UE's block are bytes made
    once per variant (centre, lang, cpf) with the same building blocks; per learner only the
    personal deadlines are computed (the same engine call as ours) and written as VEVENT text with
    f-strings, RFC 5545 escaping and folding done by hand, then joined.

Checks (the script fails only on a wrong result): (c) equals (a) byte for byte on a sample;
(b) has the same calendar head and the same VEVENTs, byte for byte, as (a) (only their order
differs: `calendar_bytes` sorts by start); every feed is under 500 KB.

The lines to quote are the two ratios at the end: "ours vs naive" (target >= 10x faster) and
"ours vs templates" (target <= 2x the limit's time). Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this work tree, wherever pip points

from cnam_calendar import ics  # noqa: E402
from cnam_calendar.files import atomic_write  # noqa: E402
from cnam_calendar.ical import build
from cnam_calendar.ical.personal import PersonalFeeds  # noqa: E402
from cnam_calendar.inputs.catalogue import load_catalogue  # noqa: E402
from cnam_calendar.inputs.config import load_centres  # noqa: E402
from cnam_calendar.inputs.roster import catalogue_codes, generate_learners  # noqa: E402
from cnam_calendar.rules.dates import WorkingCalendar  # noqa: E402
from cnam_calendar.rules.engine import KIND_LABELS  # noqa: E402
from cnam_calendar.rules.model import UE, Event, Learner, Schedule  # noqa: E402
from cnam_calendar.rules.personal import deadline_event, learner_deadlines  # noqa: E402
from cnam_calendar.rules.sessions import exam_events  # noqa: E402
from cnam_calendar.service import local_date, ouvres_for, schedule  # noqa: E402
from cnam_calendar.store.database import open_store  # noqa: E402

YEAR = 2026
SEED = 20260901
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
MAX_FEED_BYTES = 500_000
TARGET_NAIVE = 10.0  # ours at least 10x faster than naive
TARGET_LIMIT = 2.0  # ours at most 2x the templates' time


@dataclass
class CentreYear:
    """What the three ways share for one centre: schedule, catalogue, working days, stamps."""

    sched: Schedule
    catalogue: dict[str, UE]
    ouvres: WorkingCalendar
    manifest: dict[str, dict]
    stamp: datetime
    today: date
    blocks: dict[tuple, bytes] = field(default_factory=dict)  # used by (c) only
    heads: dict[str, bytes] = field(default_factory=dict)  # used by (c) only


# ---------------------------------------------------------------------------------------------
# The ics API before and after `track` returned serialised `ics.Stamped` events (both supported,
# so that the bench runs on either side of that change).

STAMPED = hasattr(ics, "stamped")


def stamped_entry(tracked):
    """Return what `build.feed_bytes` takes from one `track` result."""
    return tracked if STAMPED else tracked[1]


def tracked_bytes(tracked: list) -> bytes:
    """Serialise `track`'s results in the order ours puts them in a block."""
    if STAMPED:
        return b"".join(e.data for e in sorted(tracked, key=lambda e: e.sort_key))
    return b"".join(c.to_ical() for _, c in tracked)


def stamp_personal(component: icalendar.Event, stamp: datetime):
    """Stamp a personal event (SEQUENCE 0) the way `track` does."""
    if STAMPED:
        return ics.stamped(component, "", 0, stamp)
    ics.stamp_component(component, 0, stamp)
    return component


# ---------------------------------------------------------------------------------------------
# (b) naive: icalendar from scratch for every learner


def alarm_text(lang: str) -> str:
    return "Reminder: deadline approaching" if lang == "en" else "Rappel : échéance proche"


def add_item_alarms(cy: CentreYear, items: list[ics.Item], events: Sequence[Event], lang: str, cpf: bool) -> None:
    """Add the VALARMs ours adds: deadlines (CPF ones only for CPF learners) and UE exams."""
    policy = cy.sched.centre.reminders
    by_uid = {ics.uid_for(e.id, cy.sched.centre.id, cy.sched.year): e for e in events}
    for item in items:
        event = by_uid.get(item.uid)
        if event is None:
            continue
        if event.kind == "deadline" and (cpf or not event.id.startswith("cpf-latest")):
            ics.add_alarms(item.component, policy.offsets_days, policy.time, alarm_text(lang))
        elif event.kind == "exam" and event.id.startswith("ue-"):
            ics.add_alarms(item.component, policy.exam_offsets_days, policy.time,
                           "Reminder: exam session" if lang == "en" else "Rappel : session d'examens")


def shared_items(cy: CentreYear, code: str, lang: str, cpf: bool) -> list[ics.Item]:
    """Return fresh icalendar items, with alarms, of the institutional events ("") or one UE."""
    if code:
        ue = cy.catalogue[code]
        events, items = exam_events(ue, cy.sched), build.ue_items(cy.sched, ue, lang)
    else:
        events, items = list(cy.sched.events), build.institutional_items(cy.sched, lang)
    add_item_alarms(cy, items, events, lang, cpf)
    return items


def feed_name(sched: Schedule, lang: str) -> str:
    return ("My calendar — " if lang == "en" else "Mon calendrier — ") + build.calendar_name(sched, lang)


def naive_feed(cy: CentreYear, learner: Learner, key: str, changed: datetime) -> bytes:
    """Build the learner's whole calendar with icalendar, nothing reused from another learner."""
    lang = learner.lang if learner.lang in ("fr", "en") else "fr"
    cpf = learner.status == "cpf"
    sched, policy = cy.sched, cy.sched.centre.reminders
    items = shared_items(cy, "", lang, cpf)
    for code in learner.ues:
        if code in cy.catalogue:
            items.extend(shared_items(cy, code, lang, cpf))
    tracked, _ = ics.track(items, cy.manifest, cy.stamp, cy.today, readonly=True)
    components = [stamped_entry(t) for t in tracked]
    stamp = max(changed, cy.stamp)
    for d in learner_deadlines(learner, sched, cy.ouvres):
        event = deadline_event(d)
        component = ics.event_item(event, sched.centre, sched.year, lang).component
        component["UID"] = f"{event.id}.{key}.{sched.centre.id}.{sched.year}@cnam-calendar"
        ics.add_alarms(component, policy.offsets_days, policy.time, alarm_text(lang))
        components.append(stamp_personal(component, stamp))
    return build.feed_bytes(sched, components, name=feed_name(sched, lang), uid_suffix=".personal")


# ---------------------------------------------------------------------------------------------
# (c) templates: shared blocks as bytes once, personal VEVENTs as f-strings


def escape(text: str) -> str:
    """RFC 5545 TEXT escaping, as icalendar does it."""
    return (text.replace("\\N", "\n").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> bytes:
    """Encode one content line and fold it at 74 octets plus CRLF, as icalendar does."""
    data = line.encode()
    if len(data) < 75:
        return data + b"\r\n"
    out, start, n = [], 0, len(data)
    while n - start >= 75:
        cut = start + 74
        while data[cut] & 0xC0 == 0x80:  # never inside a UTF-8 sequence
            cut -= 1
        if data[cut - 1] in b"\\^" and cut - 1 > start:  # never just after an escape character
            cut -= 1
        out.append(data[start:cut])
        start = cut
    out.append(data[start:])
    return b"\r\n ".join(out) + b"\r\n"


def ical_date(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def alarms_block(cy: CentreYear, lang: str) -> bytes:
    policy = cy.sched.centre.reminders
    text = fold("DESCRIPTION:" + escape(alarm_text(lang)))
    out = []
    for n in policy.offsets_days:
        trigger = icalendar.vDuration(timedelta(days=-n, hours=policy.time.hour, minutes=policy.time.minute))
        out.append(b"BEGIN:VALARM\r\nACTION:DISPLAY\r\n" + text + b"TRIGGER:" + trigger.to_ical()
                   + b"\r\nEND:VALARM\r\n")
    return b"".join(out)


def template_block(cy: CentreYear, code: str, lang: str, cpf: bool) -> bytes:
    """Return the bytes of the institutional events ("") or of one UE, made once per variant."""
    variant = (code, lang, cpf)
    if variant not in cy.blocks:
        tracked, _ = ics.track(shared_items(cy, code, lang, cpf), cy.manifest, cy.stamp, cy.today, readonly=True)
        cy.blocks[variant] = tracked_bytes(tracked)
    return cy.blocks[variant]


def template_head(cy: CentreYear, lang: str) -> bytes:
    if lang not in cy.heads:
        data = build.feed_bytes(cy.sched, [], name=feed_name(cy.sched, lang), uid_suffix=".personal")
        cy.heads[lang] = data[: -len(b"END:VCALENDAR\r\n")]
        cy.blocks[("alarms", lang)] = alarms_block(cy, lang)
    return cy.heads[lang]


def template_feed(cy: CentreYear, learner: Learner, key: str, changed: datetime) -> bytes:
    """Write the learner's feed with string templates around the precomputed blocks."""
    lang = learner.lang if learner.lang in ("fr", "en") else "fr"
    cpf = learner.status == "cpf"
    sched = cy.sched
    parts = [template_head(cy, lang), template_block(cy, "", lang, cpf)]
    parts.extend(template_block(cy, code, lang, cpf) for code in learner.ues if code in cy.catalogue)
    stamp = max(changed, cy.stamp).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    alarms = cy.blocks[("alarms", lang)]
    centre, year = sched.centre, sched.year
    for d in learner_deadlines(learner, sched, cy.ouvres):
        event = deadline_event(d)
        categories = list(event.categories)
        if lang == "en":
            categories[0] = KIND_LABELS[event.kind][1]
        url = (event.source.url if event.source and event.source.url else centre.faq_url) or None
        parts.append(b"".join((
            b"BEGIN:VEVENT\r\n",
            fold("SUMMARY:" + escape(event.label(lang))),
            f"DTSTART;VALUE=DATE:{ical_date(event.start)}\r\n"
            f"DTEND;VALUE=DATE:{ical_date(event.end + timedelta(days=1))}\r\n".encode(),
            f"DTSTAMP:{stamp}\r\nLAST-MODIFIED:{stamp}\r\nSEQUENCE:0\r\n".encode() if STAMPED
            else f"DTSTAMP:{stamp}\r\n".encode(),
            fold(f"UID:{event.id}.{key}.{centre.id}.{year}@cnam-calendar"),
            b"" if STAMPED else b"SEQUENCE:0\r\n",
            fold("CATEGORIES:" + ",".join(escape(c) for c in categories)),
            fold("DESCRIPTION:" + escape(ics.describe(event))),
            b"" if STAMPED else f"LAST-MODIFIED:{stamp}\r\n".encode(),
            b"TRANSP:TRANSPARENT\r\n",
            fold("URL:" + url) if url else b"",
            alarms,
            b"END:VEVENT\r\n",
        )))
    parts.append(b"END:VCALENDAR\r\n")
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------


def vevents(data: bytes) -> tuple[bytes, list[bytes]]:
    """Split a feed into its head (up to the first VEVENT) and its sorted VEVENT texts."""
    first = data.find(b"BEGIN:VEVENT\r\n")
    chunks = [b"BEGIN:VEVENT\r\n" + c for c in data[first:].split(b"BEGIN:VEVENT\r\n")[1:]]
    chunks[-1] = chunks[-1].removesuffix(b"END:VCALENDAR\r\n")
    return data[:first], sorted(chunks)


def spread(items: list, n: int) -> list:
    """Return ``n`` items evenly spread over ``items`` (all when there are fewer)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def run(fn, learners: Sequence[Learner]) -> tuple[float, list[int]]:
    """Time ``fn(learner)`` over ``learners``; return seconds and the feed sizes."""
    t0 = time.perf_counter()
    sizes = [len(fn(lr)) for lr in learners]
    return time.perf_counter() - t0, sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000, help="learners (default 50,000)")
    parser.add_argument("--naive-sample", type=int, default=1_000, help="learners timed the naive way")
    parser.add_argument("--check-sample", type=int, default=2_000, help="learners whose feeds are compared")
    parser.add_argument("--write", action="store_true", help="also time ours writing one .ics per learner")
    parser.add_argument("--quick", action="store_true", help="5,000 learners, naive on 200")
    args = parser.parse_args()
    if args.quick:
        args.count, args.naive_sample, args.check_sample = 5_000, 200, 500
    n = args.count

    centres = load_centres("calendars")
    codes = {cid: sorted(c) for cid, c in catalogue_codes(centres).items()}
    print(f"python {platform.python_version()}, icalendar {icalendar.__version__}, {platform.machine()}, "
          f"{n:,} learners, year {YEAR}-{YEAR + 1}, alarms on")

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        generated = generate_learners(n, SEED, centres, codes, YEAR)
        store = open_store(f"sqlite:///{Path(tmp) / 'bench.db'}", clock=lambda: NOW)
        report = store.import_learners(generated)
        assert report.created == n, report
        learners = store.learners()
        keys = {lr.id: store.learner_key(lr.id) for lr in learners}
        changed = store.changed_at_all()
        store.close()
        print(f"setup: generate + import into SQLite + read back {time.perf_counter() - t0:.1f} s (not timed below)")
        assert len(learners) == n and len(changed) == n

        today = local_date(NOW)
        shared = {c.id: CentreYear(schedule(c, YEAR), {u.code: u for u in load_catalogue(c)},
                                   ouvres_for(c, YEAR - 1, YEAR + 2), build.load_manifest(Path("output"), c, YEAR),
                                   NOW, today) for c in centres}
        learners = [lr for lr in learners if lr.centre in shared]
        per_ue = sum(len(lr.ues) for lr in learners) / len(learners)
        print(f"{len(learners):,} learners over {len(shared)} centres, {per_ue:.2f} UEs each on average")

        # (a) ours
        t0 = time.perf_counter()
        makers = {cid: PersonalFeeds(cy.sched, list(cy.catalogue.values()), cy.manifest, cy.stamp, today, cy.ouvres)
                  for cid, cy in shared.items()}

        def ours(lr: Learner) -> bytes:
            return makers[lr.centre].render(lr, keys[lr.id], changed[lr.id])

        _, sizes = run(ours, learners)
        t_ours_total = time.perf_counter() - t0  # with the makers' construction and their first blocks

        # (b) naive, on a sample
        sample = spread(learners, args.naive_sample)
        t_naive_sample, _ = run(lambda lr: naive_feed(shared[lr.centre], lr, keys[lr.id], changed[lr.id]),
                                sample)
        t_naive = t_naive_sample / len(sample) * len(learners)

        # (c) templates
        t0 = time.perf_counter()
        t_tpl, tpl_sizes = run(lambda lr: template_feed(shared[lr.centre], lr, keys[lr.id],
                                                                     changed[lr.id]), learners)
        t_tpl_total = time.perf_counter() - t0
        assert tpl_sizes == sizes, "templates and ours differ in size for some learner"

        # optional: ours writing files
        t_write = None
        if args.write:
            out = Path(tmp) / "feeds"
            out.mkdir()
            fresh = {cid: PersonalFeeds(cy.sched, list(cy.catalogue.values()), cy.manifest, cy.stamp, today,
                                        cy.ouvres) for cid, cy in shared.items()}
            t0 = time.perf_counter()
            for lr in learners:
                atomic_write(out / f"{keys[lr.id]}.ics",
                             fresh[lr.centre].render(lr, keys[lr.id], changed[lr.id]), durable=False)
            t_write = time.perf_counter() - t0
            assert sum(p.stat().st_size for p in out.iterdir()) == sum(sizes)

        # checks (not timed)
        checked = spread(learners, args.check_sample)
        for lr in checked:
            a = ours(lr)
            c = template_feed(shared[lr.centre], lr, keys[lr.id], changed[lr.id])
            if a != c:
                raise SystemExit(f"templates differ from ours for {lr.id}:\n{a.decode()[-3000:]}\n---\n"
                                 f"{c.decode()[-3000:]}")
        naive_checked = sample[: min(len(sample), 200)]
        for lr in naive_checked:
            if vevents(ours(lr)) != vevents(naive_feed(shared[lr.centre], lr, keys[lr.id], changed[lr.id])):
                raise SystemExit(f"naive and ours do not hold the same calendar head and VEVENTs for {lr.id}")
        biggest = max(sizes)
        if biggest >= MAX_FEED_BYTES:
            raise SystemExit(f"a feed is {biggest:,} bytes, over the {MAX_FEED_BYTES:,} limit")

    m = len(learners)

    def line(name: str, seconds: float, note: str = "") -> str:
        return f"{name:<34} {seconds:8.2f} s  {m / seconds:9,.0f} learners/s{note}"

    print()
    print(line("(a) ours, PersonalFeeds.render", t_ours_total, "  (incl. building the shared blocks)"))
    print(line("(b) naive, icalendar per learner", t_naive,
               f"  EXTRAPOLATED from {len(sample):,} learners in {t_naive_sample:.2f} s"))
    print(line("(c) templates (the limit)", t_tpl_total))
    if t_write is not None:
        print(line("(a) + write one file per learner", t_write, f"  ({m / t_write:,.0f} files/s, durable=False)"))
    print(f"bytes per feed: median {statistics.median(sizes):,.0f}, max {biggest:,} "
          f"(limit {MAX_FEED_BYTES:,}: ok), total {sum(sizes) / 1e6:,.0f} MB")
    print(f"checks: templates == ours byte for byte on {len(checked):,} learners (sizes equal on all {m:,}); "
          f"naive holds the same head and VEVENTs as ours on {len(naive_checked):,}")
    speedup = t_naive / t_ours_total
    limit = t_ours_total / t_tpl_total
    print(f"ratio ours vs naive: {speedup:.1f}x faster (target >= {TARGET_NAIVE:.0f}x: "
          f"{'met' if speedup >= TARGET_NAIVE else 'MISSED'})")
    print(f"ratio ours vs templates: {limit:.1f}x the limit's time (target <= {TARGET_LIMIT:.0f}x: "
          f"{'met' if limit <= TARGET_LIMIT else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
