"""Every kind of feed through calendar engines nobody here wrote, compared with the rules.

The feeds: the institutional calendar.ics and every ue/<CODE>.ics of both centres as `build`
writes them (served from output/ by a plain HTTP server), the combined feed in French and in
English and the personal feeds with and without alarms (served by the real `cnam-calendar
serve`), and the .ics attached to reminder e-mails. The engines: vdirsyncer's http storage synced
to a filesystem storage and listed by khal; Mozilla ical.js with recurrence expansion; libical
through GObject introspection (see tests/support/clients.py). What they show is compared with
what the rules say — the schedule, the UE catalogue and its sessions, the learner's deadlines,
the reminder planner — never with the .ics text.
"""

from __future__ import annotations

import email
import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.inputs.roster import COLUMNS
from cnam_calendar.mail.compose import render
from cnam_calendar.mail.daemon import plan_all
from cnam_calendar.rules.model import UE, Event, Learner, Schedule
from cnam_calendar.rules.personal import deadline_event, learner_deadlines
from cnam_calendar.rules.reminders import Reminder
from cnam_calendar.rules.sessions import exam_events, ue_sessions
from cnam_calendar.service import academic_year, local_date, ouvres_for, schedule
from cnam_calendar.store.database import open_store
from tests.conftest import CALENDARS
from tests.support import clients
from tests.support.clients import Shown, counted
from tests.support.server import running_server


@dataclass
class Feed:
    """One feed: where a client subscribes to it, the file the parsers read, what the rules say it holds."""

    name: str
    url: str
    expected: list[Shown]
    path: Path | None = None
    learner: Learner | None = None  # personal feeds
    alarms: bool = False
    reminders: list[Reminder] = field(default_factory=list)  # attachments: the reminder it was sent with


def title(ue: UE, lang: str) -> str:
    return f"{ue.code} — {ue.title} ({'class' if lang == 'en' else 'cours'})"


def all_day(name: str, event: Event, lang: str) -> Shown:
    return Shown(name, event.label(lang), event.start.isoformat(), event.end.isoformat())


def ue_shows(name: str, ue: UE, sched: Schedule, lang: str) -> list[Shown]:
    """The UE's exam sessions (all day) and each class held, at local time in the centre's zone."""
    out = [all_day(name, e, lang) for e in exam_events(ue, sched)]
    if ue.timed:
        assert ue.start is not None and ue.end is not None
        zone = ZoneInfo(sched.centre.timezone)
        for d in ue_sessions(ue, sched).dates:
            start = datetime.combine(d, ue.start, zone)
            out.append(Shown(name, title(ue, lang), f"{d}T{ue.start:%H:%M}", f"{d}T{ue.end:%H:%M}",
                             int(start.timestamp())))
    return out


def learner_events(learner: Learner, sched: Schedule, catalogue: dict[str, UE]) -> list[Event]:
    ouvres = ouvres_for(sched.centre, sched.year - 1, sched.year + 2)
    return [deadline_event(d) for d in learner_deadlines(learner, sched, ouvres)]


def personal_shows(name: str, learner: Learner, sched: Schedule, catalogue: dict[str, UE]) -> list[Shown]:
    lang = learner.lang
    out = [all_day(name, e, lang) for e in sched.events]
    for code in learner.ues:
        out += ue_shows(name, catalogue[code], sched, lang)
    return out + [all_day(name, e, lang) for e in learner_events(learner, sched, catalogue)]


def cli(cwd: Path, *args: str) -> str:
    run = subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), *args],
                         cwd=cwd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the stdlib's name)
        """Log nothing: the test output is the engines' verdicts."""


@pytest.fixture(scope="module")
def static_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on a directory, as a centre would publish output/."""
    root = tmp_path_factory.mktemp("published")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def pick_ues(catalogue: list[UE], *semesters: str) -> list[UE]:
    """One timed UE per semester asked for (S1 crosses the October clock change, S2 the March one)."""
    return [next(u for u in catalogue if u.timed and u.semester == s) for s in semesters]


@pytest.fixture(scope="module")
def worlds(static_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], dict]]:
    """Return a function that sets the world up on first call (after the test checked its engine)."""
    with ExitStack() as stack:
        yield functools.cache(lambda: make_world(stack, static_server, tmp_path_factory))


@pytest.fixture
def world(engine: str, worlds: Callable[[], dict]) -> dict:
    """The feeds, their files and what the rules say each holds; set up once the engine is known to be there."""
    return worlds()


def make_world(stack: ExitStack, static_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    base_static, published = static_server
    year = academic_year(local_date(datetime.now(ZoneInfo("Europe/Paris"))))  # the server's current year
    centres = {c.id: c for c in load_centres(CALENDARS)}
    catalogues = {cid: load_catalogue(c) for cid, c in centres.items()}
    by_code = {cid: {u.code: u for u in cat} for cid, cat in catalogues.items()}
    schedules = {cid: schedule(c, year) for cid, c in centres.items()}
    ipst, occ = "ipst-cnam", "cnam-occitanie"
    feeds: list[Feed] = []

    # institutional and per-UE files, as `build` writes them, published by a plain HTTP server
    cli(published, "build", "--year", str(year), "--out", str(published))
    for cid in (ipst, occ):
        sched = schedules[cid]
        rel = f"{cid}/{year}/calendar.ics"
        feeds.append(Feed(f"inst_{cid.replace('-', '_')}", f"{base_static}/{rel}",
                          [all_day("", e, "fr") for e in sched.events], published / rel))
        for ue in catalogues[cid]:
            rel = f"{cid}/{year}/ue/{ue.code}.ics"
            feeds.append(Feed(f"ue_{cid.replace('-', '_')}_{ue.code}", f"{base_static}/{rel}",
                              ue_shows("", ue, sched, "fr"), published / rel))

    # learners, their personal feeds and the combined feeds, from the real server
    s1, s2 = pick_ues(catalogues[ipst], "S1", "S2")
    (o1,) = pick_ues(catalogues[occ], "S1")
    learners = [
        Learner("P1", "p1@example.org", "Camille", "Martin", ipst, "31", "cpf", (s1.code, s2.code),
                dossier_received=date(year, 11, 10), cpf_validated=date(year, 11, 11)),
        Learner("P2", "p2@example.org", "Bob", "Smith", ipst, "81", "apprentissage", (s2.code,),
                dossier_received=date(year, 9, 15), training_start=date(year, 11, 30), lang="en"),
        Learner("P3", "p3@example.org", "Léa", "Roux", occ, "34", "individuel", (o1.code,),
                dossier_received=date(year, 11, 23)),
    ]
    site = tmp_path_factory.mktemp("site")
    rows = [",".join(COLUMNS)] + [
        ",".join([p.id, p.email, p.first_name, p.last_name, p.centre, p.department, p.status, ";".join(p.ues),
                  *(d.isoformat() if d else "" for d in (p.dossier_received, p.cpf_validated, p.training_start)),
                  p.lang]) for p in learners]
    (site / "learners.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    cli(site, "learners", "import", "learners.csv", "--quiet")
    store = open_store(f"sqlite:///{site / 'cnam-calendar.db'}")
    planned = plan_all(store, list(centres.values()), year)
    store.close()
    base = stack.enter_context(running_server(["--calendars", str(CALENDARS)], cwd=site))
    combined = f"{base}/feeds/{ipst}/{year}.ics?ue={s1.code}&ue={s2.code}"
    for lang, url in (("fr", combined), ("en", combined + "&lang=en")):
        expected = [all_day("", e, lang) for e in schedules[ipst].events]
        expected += ue_shows("", s1, schedules[ipst], lang) + ue_shows("", s2, schedules[ipst], lang)
        feeds.append(Feed(f"combined_{lang}", url, expected))
    for p in learners:
        url = cli(site, "learners", "issue-token", p.id, "--base-url", base).strip()
        expected = personal_shows("", p, schedules[p.centre], by_code[p.centre])
        feeds.append(Feed(f"personal_{p.id}", url, expected, learner=p, alarms=True,
                          reminders=[r for r in planned if r.learner_id == p.id]))
        feeds.append(Feed(f"personal_{p.id}_quiet", url + "?alarms=0", expected, learner=p))

    # the .ics attached to e-mails: one per kind of reminder of each learner
    mails = published / "mail"
    mails.mkdir()
    for p in learners:
        events = {e.id: e for e in (*schedules[p.centre].events, *learner_events(p, schedules[p.centre], {}))}
        for code in p.ues:
            events.update({e.id: e for e in exam_events(by_code[p.centre][code], schedules[p.centre])})
        mine = [r for r in planned if r.learner_id == p.id]
        chosen = {r.event_id.split("-")[0] + r.kind: r for r in mine}  # cpf, withdrawal, exams, …
        for r in chosen.values():
            msg = email.message_from_bytes(render(r.payload, r.key, sender="rappels@example.org", date=r.due_at).data, policy=default_policy)
            (part,) = [a for a in msg.iter_attachments() if a.get_content_type() == "text/calendar"]
            rel = f"mail/{p.id}-{r.event_id}.ics"
            (published / rel).write_bytes(part.get_payload(decode=True))
            feeds.append(Feed(f"mail_{p.id}_{r.event_id.replace('-', '_')}", f"{base_static}/{rel}",
                              [all_day("", events[r.event_id], p.lang)], published / rel, learner=p,
                              reminders=[r]))

    fetched = tmp_path_factory.mktemp("fetched")
    for feed in feeds:
        feed.expected = [replace(s, calendar=feed.name) for s in feed.expected]
        if feed.path is None:
            response = httpx.get(feed.url, timeout=60)
            assert response.status_code == 200, (feed.url, response.status_code)
            feed.path = fetched / f"{feed.name}.ics"
            feed.path.write_bytes(response.content)
    khal_ues = {f"ue_{p.centre.replace('-', '_')}_{code}" for p in learners for code in p.ues}
    return {"feeds": feeds, "year": year, "learners": learners, "khal_ues": khal_ues}


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """Check the engine of the test (its ``engine`` parameter or its name) first: skip or fail before the set-up."""
    name = getattr(request, "param", None) or request.node.name
    if "khal" in name:
        clients.require_vdirsyncer_khal()
    if "icaljs" in name or "attachment" in name:
        clients.require_icaljs()
    if "libical" in name:
        clients.require_libical()
    return name


def compare(feeds: list[Feed], shown: dict[str, list[Shown]], *, with_utc: bool) -> list[str]:
    """Return one line per feed where the engine shows something else than the rules say."""
    problems = []
    for feed in feeds:
        want = counted(s if with_utc else replace(s, utc=None) for s in feed.expected)
        got = counted(shown.get(feed.name, []))
        if got != want:
            missing = sorted(k for k in want if got.get(k, 0) < want[k])[:3]
            extra = sorted(k for k in got if want.get(k, 0) < got[k])[:3]
            problems.append(f"{feed.name}: {sum(want.values())} expected, {sum(got.values())} shown; "
                            f"missing {missing}; extra {extra}")
    return problems


def report(engine: str, feeds: list[Feed]) -> None:
    events = sum(len(f.expected) for f in feeds)
    print(f"\n{engine}: {len(feeds)} files, {events} occurrences compared with the rules, 0 mismatches")


def test_vdirsyncer_and_khal_show_every_event_of_every_feed(engine, world, tmp_path: Path) -> None:
    # khal takes ~4 ms per line it lists (an event spanning a month is a line a day): every kind of
    # feed, but of the per-UE files only those of the learners' UEs (S1 and S2 timed classes, across
    # both clock changes); ical.js and libical read all of them
    feeds: list[Feed] = [f for f in world["feeds"] if not f.name.startswith("ue_") or f.name in world["khal_ues"]]
    year = world["year"]
    shown = clients.vdirsyncer_khal({f.name: f.url for f in feeds}, tmp_path, date(year, 8, 1),
                                    date(year + 1, 10, 31))
    assert compare(feeds, shown, with_utc=False) == []
    report("vdirsyncer + khal", feeds)


def test_icaljs_expands_every_feed_as_the_rules_say(engine, world) -> None:
    feeds: list[Feed] = world["feeds"]
    shown, dump = clients.icaljs({f.name: f.path for f in feeds})
    assert compare(feeds, shown, with_utc=True) == []
    for feed in feeds:  # a subscription or an attachment, not an iTIP message; no calendar-level UID
        assert dump[feed.name]["method"] is None and dump[feed.name]["uid"] is None, feed.name
    report("ical.js", feeds)


def test_libical_reads_every_feed_without_error_as_the_rules_say(engine, world) -> None:
    feeds: list[Feed] = world["feeds"]
    shown, dump = clients.libical({f.name: f.path for f in feeds})
    problems = [f"{name}: {found['parse_errors'] + found['itip_errors']}" for name, found in dump.items()
                if found["parse_errors"] or found["itip_errors"] or not found["itip_ok"]]
    assert problems == []  # no X-LIC-ERROR while parsing, and libical's iTIP (RFC 5546) check is clean
    assert compare(feeds, shown, with_utc=True) == []
    report("libical", feeds)


def alarm_moments(events: list[dict]) -> set[tuple[str, str]]:
    """Return (event UID, local wall-clock time) of every alarm: the all-day start plus the trigger."""
    out = set()
    for event in events:
        for trigger in event["alarms"]:
            (start, _), *_ = event["occurrences"]
            moment = datetime.combine(date.fromisoformat(start["date"]), datetime.min.time())
            out.add((event["uid"], (moment + icalendar.vDuration.from_ical(trigger)).strftime("%Y-%m-%dT%H:%M")))
    return out


@pytest.mark.parametrize("engine", ["icaljs", "libical"], indirect=True)
def test_every_alarm_is_a_planned_e_mail_and_every_e_mail_an_alarm(engine: str, world) -> None:
    feeds = [f for f in world["feeds"] if f.name.startswith("personal_")]
    _, dump = getattr(clients, engine)({f.name: f.path for f in feeds})
    for feed in feeds:
        alarms = alarm_moments(dump[feed.name]["events"])
        if not feed.alarms:
            assert alarms == set(), feed.name
            continue
        emails = {(r.event_uid, r.local_due.strftime("%Y-%m-%dT%H:%M")) for r in feed.reminders}
        assert emails and alarms == emails, feed.name


def test_an_attachment_is_the_event_of_the_learner_s_feed(engine, world) -> None:
    feeds: list[Feed] = world["feeds"]
    attachments = [f for f in feeds if f.name.startswith("mail_")]
    assert {f.learner.id for f in attachments if f.learner} == {"P1", "P2", "P3"}
    _, dump = clients.icaljs({f.name: f.path for f in feeds if f.name.startswith(("mail_", "personal_"))})
    for feed in attachments:
        assert feed.learner is not None
        (event,) = dump[feed.name]["events"]
        (reminder,) = feed.reminders
        personal = {e["uid"] for e in dump[f"personal_{feed.learner.id}"]["events"]}
        assert event["uid"] == reminder.event_uid and event["uid"] in personal, feed.name
