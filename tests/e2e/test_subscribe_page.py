"""Issue 18, point 7 (and issue 14's left-over): the subscription page on a phone, in French and English.

The result is scrolled into view, « Lien https » only for an https link, French typography, each UE with its
site, day and time, ticked UEs kept when the centre changes; English with ?lang=en or Accept-Language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.web.subscribe import page_lang, render_page
from tests.conftest import CALENDARS
from tests.support import axe
from tests.support.browser import playwright_chromium
from tests.support.server import running_server

PHONE = {"width": 390, "height": 844}
CENTRES = {c.id: c for c in load_centres(CALENDARS)}
CATALOGUES = {cid: load_catalogue(c) for cid, c in CENTRES.items()}
ONLY_IPST = sorted({u.code for u in CATALOGUES["ipst-cnam"]} - {u.code for u in CATALOGUES["cnam-occitanie"]})
BOTH = sorted({u.code for u in CATALOGUES["ipst-cnam"]} & {u.code for u in CATALOGUES["cnam-occitanie"]})


class Text(HTMLParser):
    """The text a reader sees (no style, no script), and the form's hidden fields."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden: list[tuple[str, str]] = []
        self.skip = 0
        self.feed(html)
        self.text = "".join(self.chunks)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.skip += tag in ("style", "script")
        if tag == "input" and a.get("type") == "hidden":
            self.hidden.append((a.get("name") or "", a.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.chunks.append(data)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path_factory.mktemp("srv")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_chromium() as b:
        yield b


def _page(browser, locale: str = "fr-FR"):
    return browser.new_context(viewport=PHONE, locale=locale, bypass_csp=True).new_page()


def _render(link: str | None, lang: str = "fr", kept: tuple[str, ...] = ()) -> str:
    centre = CENTRES["ipst-cnam"]
    catalogue = CATALOGUES["ipst-cnam"]
    return render_page(list(CENTRES.values()), [2026, 2027], centre, 2026, catalogue, catalogue[:1], link, lang, kept)


def test_the_result_is_scrolled_into_view_on_a_phone(base: str, browser) -> None:
    page = _page(browser)
    page.goto(base + "/")
    with page.expect_navigation():
        page.select_option("#centre", "ipst-cnam")
    assert page.evaluate("scrollY") == 0  # choosing the centre shows its UEs, not a result
    page.check("input[value=NFA031]")
    page.click("#go")
    page.wait_for_selector("#feed-url")
    top = page.evaluate("document.getElementById('result').getBoundingClientRect().top")
    assert page.evaluate("scrollY") > 0 and 0 <= top < PHONE["height"] / 4, top
    assert page.evaluate("document.activeElement.id") == "result"
    assert axe.horizontal_overflow(page) == 0
    assert axe.violations(page) == []
    page.context.close()


def test_https_label_only_for_an_https_link() -> None:
    http = Text(_render("http://127.0.0.1:8000/feeds/ipst-cnam/2026.ics")).text
    https = Text(_render("https://calendrier.example.org/feeds/ipst-cnam/2026.ics")).text
    assert "Lien http (Google" in http and "https" not in http.replace("https://calendrier", "")
    assert "Lien https (Google" in https and "collez le lien https" in https
    assert "Link (https) for Google" in Text(_render("https://c.example.org/f.ics", "en")).text


def test_french_typography() -> None:
    text = Text(_render("https://calendrier.example.org/feeds/ipst-cnam/2026.ics")).text
    assert not re.search(r" [;:!?»]|« ", text), re.findall(r".{12}(?: [;:!?»]|« ).{6}", text)
    assert "Votre lien d'abonnement" in text
    assert "«\u00a0Autres agendas\u00a0»" in text and "heures\u202f; il apparaît" in text
    assert "(Google\u00a0: 12 à 24 h)" in text
    english = Text(_render("https://calendrier.example.org/f.ics", "en")).text
    assert "\u00a0:" not in english and "\u202f" not in english and "(Google: every 12 to 24 h)" in english


def test_each_ue_shows_its_site_day_and_time() -> None:
    html = _render(None)
    text = Text(html).text.replace("\u00a0", " ")
    assert "NFA031 — Programmation avec Java : notions de base" in text
    assert "semestre 1 · cours du soir · Toulouse · le mardi de 17 h 45 à 21 h 30 · 6 ECTS" in text
    foad = next(u for u in CATALOGUES["ipst-cnam"] if u.modality == "FOAD")
    assert re.search(rf"{foad.code} — [^·]+· FOAD · à distance · sans séance à heure fixe · ", text), foad.code
    english = Text(_render(None, "en")).text
    assert "semester 1 · evening classes · Toulouse · Tuesday, 17:45 to 21:30 · 6 ECTS" in english


def test_ticked_ues_are_kept_when_the_centre_changes(base: str, browser) -> None:
    assert BOTH and ONLY_IPST
    page = _page(browser)
    page.goto(base + "/?centre=ipst-cnam")
    page.check(f"input[value={BOTH[0]}]")
    page.check(f"input[value={ONLY_IPST[0]}]")
    with page.expect_navigation():
        page.select_option("#centre", "cnam-occitanie")
    assert page.is_checked(f"input[value={BOTH[0]}]")  # offered here too: still ticked
    assert ONLY_IPST[0] in page.inner_text("#kept")
    page.click("#go")
    page.wait_for_selector("#feed-url")
    link = page.input_value("#feed-url")
    assert f"ue={BOTH[0]}" in link and ONLY_IPST[0] not in link  # the link holds only what the centre offers
    with page.expect_navigation():
        page.select_option("#centre", "ipst-cnam")
    assert page.is_checked(f"input[value={BOTH[0]}]") and page.is_checked(f"input[value={ONLY_IPST[0]}]")
    page.context.close()


def test_english_by_query_or_accept_language(base: str, browser) -> None:
    r = httpx.get(base + "/?lang=en&centre=ipst-cnam&ue=nfa031", timeout=30)
    assert r.status_code == 200 and r.headers["vary"] == "Accept-Language"
    page = Text(r.text)
    assert '<html lang="en">' in r.text and "Your subscription link" in page.text and "Your centre" in page.text
    for french in ("Votre", "Obtenir", "Mode d'emploi", "Lien ", "semestre", "Copier"):
        assert french not in page.text, french
    assert "/feeds/ipst-cnam/" in r.text and "ue=NFA031&amp;lang=en" in r.text  # English titles in the feed too
    assert ("lang", "en") in page.hidden
    said = httpx.get(base + "/", headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"}, timeout=30)
    assert '<html lang="en">' in said.text
    french = httpx.get(base + "/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}, timeout=30)
    assert '<html lang="fr">' in french.text and "Votre centre" in french.text
    assert '<html lang="fr">' in httpx.get(base + "/?lang=fr", headers={"Accept-Language": "en"}, timeout=30).text
    bad = httpx.get(base + "/?lang=de", timeout=30)
    assert bad.status_code == 400 and "langue « de » inconnue ; attendu : fr ou en" in bad.text
    # in the browser, the English page and its form stay English
    tab = _page(browser, "en-GB")
    tab.goto(base + "/")
    with tab.expect_navigation():
        tab.select_option("#centre", "ipst-cnam")
    tab.check("input[value=NFA031]")
    tab.click("#go")
    tab.wait_for_selector("#feed-url")
    assert tab.inner_text("#result h2") == "Your subscription link" and "lang=en" in tab.url
    tab.context.close()


@pytest.mark.parametrize(("asked", "header", "lang"), [
    (None, {}, "fr"), ("en", {"fr": 1.0}, "en"), ("fr", {"en": 1.0}, "fr"), (None, {"en-us": 1.0}, "en"),
    (None, {"en": 0.5, "fr": 0.5}, "fr"), (None, {"de": 1.0, "en": 0.2}, "en"), ("EN", {}, None), ("", {}, None),
])
def test_page_lang(asked: str | None, header: dict[str, float], lang: str | None) -> None:
    assert page_lang(asked, header) == lang
