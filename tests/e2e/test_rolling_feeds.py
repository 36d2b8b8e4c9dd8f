"""Year-less feed URLs over real HTTP: the running academic year, plus the next once it is built (clock-driven)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import httpx
import icalendar
import pytest

from cnam_calendar.ical import build as build_mod
from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.rules.model import Learner
from cnam_calendar.store.database import Store, open_store
from tests.conftest import CALENDARS
from tests.support.app_server import Travel, app_server

JUNE_2027 = datetime(2027, 6, 15, 10, tzinfo=timezone.utc)  # academic year 2026, summer ahead
SEPT_2027 = datetime(2027, 9, 2, 10, tzinfo=timezone.utc)  # academic year 2027
LAST_AUGUST = datetime(2027, 8, 31, 21, 59, tzinfo=timezone.utc)  # 23:59 in Paris: still 2026
FIRST_SEPT = datetime(2027, 8, 31, 22, 0, tzinfo=timezone.utc)  # 00:00 in Paris on 1 September: 2027


def build(out: Path, year: int) -> None:
    centres = load_centres(CALENDARS)
    build_mod.build(centres, [year], out, datetime(2026, 6, 1, tzinfo=timezone.utc), date(2026, 6, 1),
                    catalogues={c.id: load_catalogue(c) for c in centres})


def years_in(body: bytes) -> set[int]:
    """The academic years of a feed, read from its UIDs (<id>.<centre>.<year>@cnam-calendar)."""
    cal = icalendar.Calendar.from_ical(body)
    return {int(str(e["UID"]).rsplit("@", 1)[0].rsplit(".", 1)[1]) for e in cal.walk("VEVENT")}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'rolling.db'}")
    s.import_learners([Learner("A1", "a1@example.org", "Alex", "Martin", "ipst-cnam", "31", "cpf", ("NFA031",),
                               cpf_validated=date(2026, 10, 5), lang="en")])
    yield s
    s.close()


def test_rolling_urls_follow_the_clock_and_the_builds(tmp_path: Path, store: Store) -> None:
    out = tmp_path / "output"
    out.mkdir()
    build(out, 2026)
    clock = Travel(JUNE_2027)
    token = store.issue_token("A1")
    with app_server(CALENDARS, out, clock, store) as base:
        def get(path: str, **kw) -> httpx.Response:
            return httpx.get(base + path, timeout=30, **kw)

        # June 2027, only 2026 built: the running year alone
        centre = get("/feeds/ipst-cnam.ics")
        assert centre.status_code == 200 and centre.headers["content-type"] == "text/calendar; charset=utf-8"
        assert years_in(centre.content) == {2026}
        cal = icalendar.Calendar.from_ical(centre.content)
        assert str(cal["X-WR-CALNAME"]) == "Ipst-Cnam (Toulouse, Albi) — calendrier"
        assert len(cal.walk("VTIMEZONE")) == 1
        ue = get("/feeds/ipst-cnam/ue/NFA031.ics", params={"lang": "en"})
        assert years_in(ue.content) == {2026}
        assert any(str(e["SUMMARY"]).startswith("Exam NFA031") for e in icalendar.Calendar.from_ical(
            ue.content).walk("VEVENT"))
        personal = get(f"/feeds/personal/{token}.ics")
        assert years_in(personal.content) == {2026}

        # next year built in the summer: both years, on the same URLs, personal feed included
        build(out, 2027)
        both = get("/feeds/ipst-cnam.ics")
        assert years_in(both.content) == {2026, 2027}
        cal = icalendar.Calendar.from_ical(both.content)
        assert len(cal.walk("VTIMEZONE")) == 1
        uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
        assert len(uids) == len(set(uids))
        assert {"semester-1.ipst-cnam.2026@cnam-calendar", "semester-1.ipst-cnam.2027@cnam-calendar"} <= set(uids)
        assert years_in(get("/feeds/ipst-cnam/ue/NFA031.ics").content) == {2026, 2027}
        personal = get(f"/feeds/personal/{token}.ics")
        assert personal.status_code == 200 and personal.headers["referrer-policy"] == "no-referrer"
        pcal = icalendar.Calendar.from_ical(personal.content)
        own = [e for e in pcal.walk("VEVENT") if str(e["UID"]).startswith("cpf-confirmation.")]
        assert len(own) == 1  # the learner's own deadline once, not once per year
        assert {y for y in years_in(personal.content)} == {2026, 2027}
        assert "My calendar" in str(pcal["X-WR-CALNAME"])
        # the yearly URLs keep working, each with its own year
        assert years_in(get("/feeds/ipst-cnam/2026.ics").content) == {2026}
        assert years_in(get("/feeds/ipst-cnam/2027/ue/NFA031.ics").content) == {2027}

        # validators: strong ETag, 304, HEAD, gzip with its own ETag, on both kinds of rolling feed
        for path in ("/feeds/ipst-cnam.ics", f"/feeds/personal/{token}.ics"):
            plain = {"Accept-Encoding": "identity"}
            r = get(path, headers=plain)
            etag = r.headers["etag"]
            assert "content-encoding" not in r.headers
            assert get(path, headers={**plain, "If-None-Match": etag}).status_code == 304
            assert get(path, headers={**plain, "If-Modified-Since": r.headers["last-modified"]}).status_code == 304
            head = httpx.head(base + path, headers=plain, timeout=30)
            assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
            gz = httpx.get(base + path, headers={"Accept-Encoding": "gzip"}, timeout=30)
            assert gz.headers["content-encoding"] == "gzip" and gz.headers["etag"] != etag
            assert gz.content == r.content  # httpx decodes it
            raw = httpx.Client().send(httpx.Request("GET", base + path, headers={"Accept-Encoding": "gzip"}),
                                      stream=True)
            assert gzip.decompress(b"".join(raw.iter_raw())) == r.content
            raw.close()

        # the night of 31 August to 1 September, Paris time
        clock.now = LAST_AUGUST
        assert years_in(get("/feeds/ipst-cnam.ics").content) == {2026, 2027}
        clock.now = FIRST_SEPT
        assert years_in(get("/feeds/ipst-cnam.ics").content) == {2027}
        clock.now = SEPT_2027
        assert years_in(get("/feeds/ipst-cnam/ue/NFA031.ics").content) == {2027}
        assert years_in(get(f"/feeds/personal/{token}.ics").content) == {2027}
        # unknown centre or UE: the one 404
        assert get("/feeds/nowhere.ics").status_code == 404
        assert get("/feeds/ipst-cnam/ue/NOPE999.ics").status_code == 404
        assert get("/feeds/ipst-cnam.ics", params={"ue": "NOPE999"}).status_code == 400
        assert get("/feeds/ipst-cnam.ics", params={"lang": "de"}).status_code == 400
