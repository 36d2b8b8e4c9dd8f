"""The year-at-a-glance page: its HTML (pure) and the page as headless Chromium renders and prints it."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cnam_calendar import service
from cnam_calendar.inputs import config
from cnam_calendar.rules.model import Schedule
from cnam_calendar.text.explain import render_all
from cnam_calendar.web.overview import render_overview

try:
    from tests.support import browser
except ModuleNotFoundError:  # plain `pytest` without `pythonpath = ["."]`: tests/ itself is on sys.path
    from support import browser  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
YEAR = 2026
LINKS = (
    ("Calendrier de l'année (semestres, examens, jours fériés, échéances)", "calendar.ics"),
    ("UTC501 — Outils mathématiques pour l'informatique", "ue/UTC501.ics"),
    ("NFP121 — Programmation avancée", "ue/NFP121.ics"),
)
DOCS_SCREENSHOT = ROOT / "docs" / "overview.png"
DOCS_WINDOW = (1600, 730)  # the header, the 13 months and the legend


class Page(HTMLParser):
    """The parts of the page the tests look at: day cells, month grids, legend, links, text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.days: dict[str, dict[str, str]] = {}
        self.months: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()
        self.chunks: list[str] = []
        self.feed(html)
        self.close()
        self.text = re.sub(r"\s+", " ", "".join(self.chunks))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "td" and "data-date" in a:
            self.days[a["data-date"]] = a
        if tag == "section" and "month" in a.get("class", "").split():
            self.months.append(a.get("data-month", ""))
        if tag == "a" and "href" in a:
            self.hrefs.append(a["href"])

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    def kinds(self, day: str) -> set[str]:
        return set(self.days[day]["data-kinds"].split())


@pytest.fixture(scope="module")
def ipst() -> Schedule:
    centres = {c.id: c for c in config.load_centres(ROOT / "calendars")}
    return service.schedule(centres["ipst-cnam"], YEAR)


@pytest.fixture(scope="module")
def chromium() -> str:
    return browser.require_chromium()


# --- the HTML itself, no browser ---------------------------------------------------------------


def test_page_is_self_contained_and_deterministic(ipst: Schedule) -> None:
    html = render_overview(ipst, LINKS)
    assert html.startswith("<!DOCTYPE html>")
    assert html == render_overview(ipst, LINKS)
    assert '<html lang="fr">' in html
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in html, external
    assert "@page { size: A4 landscape; margin: 10mm; }" in html
    assert "-webkit-print-color-adjust: exact" in html


def test_every_day_of_september_to_september_has_one_cell(ipst: Schedule) -> None:
    page = Page(render_overview(ipst, LINKS))
    first, last = date(YEAR, 9, 1), date(YEAR + 1, 9, 30)
    expected = {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}
    assert set(page.days) == expected
    assert page.months == [f"{YEAR + (m > 12)}-{(m - 1) % 12 + 1:02d}" for m in range(9, 22)]


def test_each_event_marks_its_days(ipst: Schedule) -> None:
    page = Page(render_overview(ipst, LINKS))
    for event in ipst.events:
        day = event.start
        while day <= event.end:
            if day.isoformat() in page.days:
                assert event.kind in page.kinds(day.isoformat()), (event.id, day)
                assert event.id in page.days[day.isoformat()]["data-events"].split()
                assert page.days[day.isoformat()]["title"], day
            day += timedelta(days=1)
    assert page.kinds("2026-11-11") == {"semester", "holiday"}
    assert page.kinds("2026-10-12") == {"semester"}
    assert page.kinds("2026-12-24") == {"semester", "closure"}
    assert page.kinds("2027-01-20") == {"exam"}
    assert page.kinds("2026-09-15") == set()
    assert "Armistice" in page.days["2026-11-11"]["title"]
    assert "k-holiday" in page.days["2026-11-11"]["class"].split()
    assert "we" in page.days["2026-10-11"]["class"].split()  # a Sunday
    assert "dl" in page.days["2026-10-11"]["class"].split()  # registration closes (semester 1)


def test_lists_deadlines_with_their_steps_periods_and_links(ipst: Schedule) -> None:
    page = Page(render_overview(ipst, LINKS))
    deadlines = [e for e in ipst.events if e.kind == "deadline"]
    assert deadlines
    for event in deadlines:
        assert event.title in page.text
        for step in render_all(event.explanation):
            assert re.sub(r"\s+", " ", step) in page.text
    for event in ipst.events:
        if event.kind in ("semester", "exam"):
            assert event.title in page.text
    assert page.hrefs == [href for _, href in LINKS]
    assert "mardi 6 octobre 2026" in page.text
    assert "legend" in page.ids


def test_text_is_escaped(ipst: Schedule) -> None:
    centre = replace(ipst.centre, name="Centre <b>&</b>")
    html = render_overview(replace(ipst, centre=centre), [('<script>"x"</script>', 'ue/a"b.ics')])
    assert "<b>&</b>" not in html
    assert "Centre &lt;b&gt;&amp;&lt;/b&gt; — année 2026-2027" in html
    assert "<script>" not in html
    assert 'href="ue/a&quot;b.ics"' in html


def test_english_headings_and_legend(ipst: Schedule) -> None:
    page = Page(render_overview(ipst, LINKS, lang="en"))
    for text in ("academic year 2026-2027", "Key", "Exam session", "Public holiday", "Deadlines",
                 "September", "Semester 1", "Semester 2"):
        assert text in page.text, text
    assert "Légende" not in page.text
    with pytest.raises(ValueError):
        render_overview(ipst, LINKS, lang="de")


# --- the page in headless Chromium ------------------------------------------------------------


def test_page_renders_in_chromium(ipst: Schedule, chromium: str, tmp_path: Path) -> None:
    index = tmp_path / "index.html"
    index.write_text(render_overview(ipst, LINKS), encoding="utf-8")
    url = browser.file_url(index)

    page = Page(browser.dump_dom(url, chromium=chromium))
    assert f"{ipst.centre.name} — année 2026-2027" in page.text
    for semester in ("Semestre 1", "Semestre 2"):
        assert semester in page.text
    deadlines = [e for e in ipst.events if e.kind == "deadline"]
    assert len(deadlines) >= 5
    for event in deadlines:
        assert event.title in page.text, event.id
    assert "legend" in page.ids and "Légende" in page.text
    assert len(page.months) == 13
    assert "holiday" in page.kinds("2026-11-11")
    assert "semester" in page.kinds("2026-10-12")
    assert "script" not in page.tags
    assert "calendar.ics" in page.hrefs

    shot = browser.screenshot(url, tmp_path / "overview.png", chromium=chromium)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a blank 1600×1100 page is a few kilobytes
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        docs = browser.screenshot(url, tmp_path / "docs.png", chromium=chromium, window=DOCS_WINDOW)
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(docs, DOCS_SCREENSHOT)


def test_month_grid_prints_on_one_a4_landscape_page(ipst: Schedule, chromium: str, tmp_path: Path) -> None:
    html = render_overview(ipst, LINKS)
    whole = tmp_path / "index.html"
    whole.write_text(html, encoding="utf-8")
    pdf = browser.print_pdf(browser.file_url(whole), tmp_path / "index.pdf", chromium=chromium)
    assert browser.pdf_page_size_mm(pdf) == pytest.approx((297.0, 210.0), abs=0.5)
    # The months and the legend alone, cut before the details: they must fill one sheet, no more.
    grid = tmp_path / "grid.html"
    grid.write_text(html.split('<div class="details">')[0] + "</main></body></html>", encoding="utf-8")
    grid_pdf = browser.print_pdf(browser.file_url(grid), tmp_path / "grid.pdf", chromium=chromium)
    assert browser.pdf_pages(grid_pdf) == 1
    assert browser.pdf_pages(pdf) == 2  # the explanations, periods and links on a second sheet, no third
