"""The subscription page in a real browser: choose a centre and two UEs, follow the link it shows.

Regenerate the README screenshot with:
    UPDATE_DOCS_SCREENSHOT=1 python -m pytest tests/e2e/test_subscribe_browser.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import icalendar
import pytest

from tests.conftest import CALENDARS, REPO
from tests.support.browser import playwright_chromium
from tests.support.server import running_server


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path_factory.mktemp("srv")) as url:
        yield url


@pytest.fixture
def page(tmp_path):
    with playwright_chromium() as browser:
        context = browser.new_context(viewport={"width": 430, "height": 1400}, locale="fr-FR")
        yield context.new_page()


def ue_codes(data: bytes) -> set[str]:
    cal = icalendar.Calendar.from_ical(data)
    return {c for e in cal.walk("VEVENT") for c in e.categories if c not in {
        "Semestre", "Examens", "Échéance", "Jour férié", "Fermeture", "Cours"}}


def test_choose_centre_and_two_ues_then_subscribe(base: str, page, tmp_path) -> None:
    page.goto(base + "/")
    with page.expect_navigation():  # choosing a centre reloads the page with its UEs (« Continuer » without script)
        page.select_option("#centre", "ipst-cnam")
    page.wait_for_selector("#ue-list")
    page.fill("#filter", "NFA031")  # the search box filters the list
    assert page.is_visible("input[value=NFA031]") and not page.is_visible("input[value=NFP121]")
    page.check("input[value=NFA031]")
    page.fill("#filter", "")
    page.check("input[value=NFP121]")
    page.click("#go")  # « Obtenir mon lien »
    page.wait_for_selector("#feed-url")
    link = page.input_value("#feed-url")
    assert link.startswith(base + "/feeds/ipst-cnam/")
    assert page.get_attribute("#webcal-url", "href") == "webcal://" + link.split("://", 1)[1]
    assert "calendar.google.com" in page.get_attribute("#google-url", "href")
    assert page.locator("#result svg").count() == 1  # the QR code
    shot = tmp_path / "subscribe.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        page.screenshot(path=str(REPO / "docs" / "subscribe.png"), full_page=True)

    feed = httpx.get(link, timeout=30)
    assert feed.status_code == 200
    assert ue_codes(feed.content) == {"NFA031", "NFP121"}
