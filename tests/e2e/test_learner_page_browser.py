"""The learner's page in Chromium at 390 px (a phone) and 1366 px (a laptop): what a learner sees and does.

Regenerate the screenshots of docs/ with:
    UPDATE_DOCS_SCREENSHOT=1 python -m pytest tests/e2e/test_learner_page_browser.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from cnam_calendar.store.delivery import mail_preference, set_mail_preference
from tests.conftest import REPO
from tests.support.browser import playwright_chromium
from tests.support.french import WORD
from tests.support.learner_site import Site, learner_site

WIDTHS = (390, 1366)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with learner_site(tmp_path_factory.mktemp("learner-browser")) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    with playwright_chromium() as b:
        yield b


def open_page(browser, width: int, url: str):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # a CSP violation says so
    page.goto(url)
    return page, errors


def no_sideways_scroll(page) -> bool:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # everything unfolded
    return page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_learner_sees_deadlines_and_links_then_gets_a_new_link(site: Site, browser, width: int, tmp_path) -> None:
    token = site.token("A001")
    page, errors = open_page(browser, width, f"{site.base}/me/{token}")
    feed = f"{site.base}/feeds/personal/{token}.ics"
    webcal = "webcal://" + feed.split("://", 1)[1]
    assert page.inner_text("#feed-url") == feed
    assert page.get_attribute("#webcal-url", "href") == webcal
    assert page.get_attribute("#google-url", "href") == "https://calendar.google.com/calendar/r?cid=" + quote(
        webcal, safe="")
    assert page.get_attribute("#outlook-url", "href").startswith(
        "https://outlook.live.com/calendar/0/addfromweb?url=" + quote(feed, safe=""))
    assert page.locator("#subscribe svg").count() == 1 and page.is_visible("#subscribe svg")
    upcoming = page.inner_text("#upcoming")
    assert "CPF : dernière validation possible pour le semestre 2" in upcoming and "dans 78 jours" in upcoming
    assert "Confirmation CPF : date limite" in page.inner_text("#past")
    assert "Examen NFA031 — 1re session" in page.inner_text("#ues")
    assert page.is_visible("#webcal-url") and page.is_visible("#rotate")
    assert no_sideways_scroll(page), page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
    assert errors == []
    shot = tmp_path / f"me-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = false)")
        page.screenshot(path=str(REPO / "docs" / f"me-{width}.png"), full_page=True)

    page.click("#rotate")  # « Obtenir un nouveau lien »
    page.wait_for_url(f"{site.base}/me/**")
    new = page.url.rsplit("/", 1)[1]
    assert new != token
    assert page.inner_text("#feed-url") == f"{site.base}/feeds/personal/{new}.ics"
    unknown = httpx.get(site.base + "/no/such/path", timeout=30)
    for old in (f"{site.base}/me/{token}", feed):
        r = httpx.get(old, timeout=30)
        assert (r.status_code, r.content, r.headers["content-type"]) == (
            404, unknown.content, unknown.headers["content-type"]), old
    assert httpx.get(f"{site.base}/feeds/personal/{new}.ics", timeout=30).status_code == 200
    page.goto(f"{site.base}/me/{token}")
    assert page.inner_text("body").strip() == unknown.text.strip()  # the old page in the browser, too


@pytest.mark.parametrize("width", WIDTHS)
def test_the_preference_form_changes_the_store(site: Site, browser, width: int) -> None:
    set_mail_preference(site.store, "A001", "each")
    page, errors = open_page(browser, width, f"{site.base}/me/{site.token('A001')}")
    page.check("input[name=preference][value=weekly]")
    page.click("#save-mail")
    page.wait_for_selector("#saved")
    assert mail_preference(site.store, "A001") == "weekly"
    assert page.is_checked("input[name=preference][value=weekly]")
    page.check("input[name=preference][value=none]")
    page.click("#save-mail")
    page.wait_for_selector("#saved")
    assert mail_preference(site.store, "A001") == "none"
    assert errors == []
    set_mail_preference(site.store, "A001", "each")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_english_page_reads_in_english(site: Site, browser, width: int) -> None:
    page, _ = open_page(browser, width, f"{site.base}/me/{site.token('A002')}")
    assert no_sideways_scroll(page)
    text = page.inner_text("body")
    for own in ("Programmation avancée en Java", "Ipst-Cnam (Toulouse, Albi)", "Fermeture de fin d'année"):
        text = text.replace(own, " ")  # the centre's own words (see test_learner_page.py)
    assert "My upcoming deadlines" in text and "in 83 days" in text
    assert WORD.findall(text) == []


def test_unsubscribe_confirmation_in_the_browser(site: Site, browser) -> None:
    set_mail_preference(site.store, "A002", "each")
    page, errors = open_page(browser, 390, f"{site.base}/unsubscribe/{site.store.learner_key('A002')}")
    assert mail_preference(site.store, "A002") == "each"  # opening the link changes nothing
    assert no_sideways_scroll(page)
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        page.screenshot(path=str(REPO / "docs" / "unsubscribe-390.png"), full_page=True)
    page.click("#confirm")
    page.wait_for_selector("#done")
    assert mail_preference(site.store, "A002") == "none"
    assert errors == []
    set_mail_preference(site.store, "A002", "each")
