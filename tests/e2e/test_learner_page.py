"""The learner's page `/me/<token>` and `/unsubscribe/<key>` over real HTTP (uvicorn, a stopped clock).

Monday 23 November 2026: Alice's CPF confirmation (13 November) is past, the last CPF validation for
semester 2 (Tuesday 9 February 2027) is 78 days away (7 days left in November, 31 in December, 31 in
January, 9 in February), the winter exam session of NFA031 (from Monday 18 January 2027) 56 days.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from cnam_calendar.store.delivery import mail_preference, set_mail_preference
from tests.contract.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)
from tests.support.french import WORD
from tests.support.learner_site import Site, csrf_tokens, learner_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with learner_site(tmp_path_factory.mktemp("learner-page")) as s:
        yield s


def get(site: Site, path: str, **kwargs) -> httpx.Response:
    return httpx.get(site.base + path, timeout=30, **kwargs)


def post(site: Site, path: str, data: dict[str, str] | bytes | None = None, **kwargs) -> httpx.Response:
    if isinstance(data, bytes):
        return httpx.post(site.base + path, content=data, timeout=30, **kwargs)
    return httpx.post(site.base + path, data=data, timeout=30, **kwargs)


def visible_text(page: str) -> str:
    """The text a reader sees: the body without tags, the QR code's path and the style."""
    body = page.split("<body>", 1)[1]
    body = re.sub(r"<svg.*?</svg>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_the_page_shows_links_countdowns_explanations_past_and_exams(site: Site) -> None:
    token = site.token("A001")
    r = get(site, f"/me/{token}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    feed = f"{site.base}/feeds/personal/{token}.ics"
    webcal = "webcal://" + feed.split("://", 1)[1]
    assert f'id="feed-url">{feed}<' in page
    assert f'href="{webcal}"' in page
    assert f'href="https://calendar.google.com/calendar/r?cid={quote(webcal, safe="")}"' in page
    assert (f'href="https://outlook.live.com/calendar/0/addfromweb?url={quote(feed, safe="")}'
            f'&amp;name=Cnam+%E2%80%94+Ipst-Cnam') in page
    assert page.count("<svg") == 1  # the QR code, inline
    upcoming = page.split('id="upcoming"', 1)[1].split("</section>", 1)[0]
    past = page.split('id="past"', 1)[1].split("</section>", 1)[0]
    assert "CPF : dernière validation possible pour le semestre 2" in upcoming
    assert "mardi 9 février 2027" in upcoming and "dans 78 jours" in upcoming
    assert "En comptant 3 jours ouvrés en arrière" in upcoming  # the explanation, as text/explain.py writes it
    assert "Confirmation CPF : date limite" in past and "vendredi 13 novembre 2026" in past
    assert "Confirmation CPF" not in upcoming
    ues = page.split('id="ues"', 1)[1].split("</section>", 1)[0]
    assert "NFA031" in ues and "NFP121" in ues
    assert "Examen NFA031 — 1re session" in ues and "dans 56 jours" in ues
    assert "Prochaine séance" in ues
    assert 'value="each" checked' in page  # the preference the store holds


def test_the_page_headers_keep_the_token_secret(site: Site) -> None:
    token = site.token("A001")
    r = get(site, f"/me/{token}")
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert "script-src" not in csp and "unsafe" not in csp  # no script at all
    style = re.search(r"<style>(.*?)</style>", r.text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style[1].encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "<script" not in r.text and " style=" not in r.text


def test_unknown_and_rotated_tokens_answer_the_one_404(site: Site) -> None:
    unknown = get(site, "/no/such/path")
    old = site.token("A002")
    assert get(site, f"/me/{old}").status_code == 200
    site.token("A002")  # a new link: the old page and the old feed are gone
    for path in (f"/me/{old}", f"/feeds/personal/{old}.ics", "/me/" + "x" * 43, "/me/short", "/me/%FF"):
        r = get(site, path)
        assert (r.status_code, r.content, r.headers["content-type"]) == (
            404, unknown.content, unknown.headers["content-type"]), path


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    token = site.token("A001")
    set_mail_preference(site.store, "A001", "each")
    page = get(site, f"/me/{token}").text
    mail_csrf, link_csrf = csrf_tokens(page)
    for body in ({"preference": "none"}, {"preference": "none", "csrf": ""}, {"preference": "none", "csrf": "0" * 32},
                 {"preference": "none", "csrf": link_csrf}):  # the other form's token does not do either
        r = post(site, f"/me/{token}/mail", body)
        assert r.status_code == 403, body
    for body in ({}, {"csrf": mail_csrf}, {"csrf": "nope"}):
        assert post(site, f"/me/{token}/new-link", body).status_code == 403
    assert mail_preference(site.store, "A001") == "each"
    assert get(site, f"/feeds/personal/{token}.ics").status_code == 200  # still the same link
    assert post(site, f"/me/{token}/mail", {"preference": "sometimes", "csrf": mail_csrf}).status_code == 400
    assert post(site, f"/me/{token}/mail", b"\xff\xfe=\x00", headers={
        "content-type": "application/x-www-form-urlencoded"}).status_code == 400
    assert post(site, f"/me/{token}/mail", {"csrf": mail_csrf, "x": "y" * 5000}).status_code == 400  # too long
    assert mail_preference(site.store, "A001") == "each"


def test_the_preference_form_and_the_new_link_work_with_their_token(site: Site) -> None:
    token = site.token("A001")
    mail_csrf, link_csrf = csrf_tokens(get(site, f"/me/{token}").text)
    r = post(site, f"/me/{token}/mail", {"preference": "weekly", "csrf": mail_csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/me/{token}?saved=1#mail"
    assert mail_preference(site.store, "A001") == "weekly"
    assert 'value="weekly" checked' in get(site, f"/me/{token}").text
    assert post(site, f"/me/{token}/mail", {"preference": "none", "csrf": mail_csrf}).status_code == 303
    assert mail_preference(site.store, "A001") == "none"
    r = post(site, f"/me/{token}/new-link", {"csrf": link_csrf})
    assert r.status_code == 303
    new = r.headers["location"].removeprefix("/me/")
    assert new != token and get(site, f"/me/{new}").status_code == 200
    assert get(site, f"/me/{token}").status_code == 404
    assert get(site, f"/feeds/personal/{new}.ics").status_code == 200
    assert post(site, f"/me/{token}/new-link", {"csrf": link_csrf}).status_code == 404  # the old page is gone
    set_mail_preference(site.store, "A001", "each")


def test_the_english_learners_page_has_no_french_sentence(site: Site) -> None:
    token = site.token("A002")
    page = get(site, f"/me/{token}").text
    assert page.startswith('<!doctype html><html lang="en">')
    text = visible_text(page)
    # the centre's own words are not translated: the UE title, the centre's name, a closure's label (the
    # centre file gives it in French only; tests/unit/test_explain_text.py leaves it out too)
    for own in ("Programmation avancée en Java", "Ipst-Cnam (Toulouse, Albi)", "Bob", "Fermeture de fin d'année"):
        assert own in text
        text = text.replace(own, " ")
    assert "in 83 days" in text and "Sunday 14 February 2027" in text and "Classes: on Wednesday" in text
    assert WORD.findall(text) == [], WORD.findall(text)
    # the check can fail: Alice's page (French) is full of these words
    assert len(WORD.findall(visible_text(get(site, f"/me/{site.token('A001')}").text))) > 20


def test_unsubscribe_get_confirms_and_the_one_click_post_opts_out(site: Site) -> None:
    key = site.store.learner_key("A002")
    set_mail_preference(site.store, "A002", "each")
    r = get(site, f"/unsubscribe/{key}")
    assert r.status_code == 200 and r.headers["referrer-policy"] == "no-referrer"
    assert 'name="List-Unsubscribe" value="One-Click"' in r.text and "Stop the reminders" in r.text
    assert mail_preference(site.store, "A002") == "each"  # a GET (a link scanner) changes nothing
    assert post(site, f"/unsubscribe/{key}", b"").status_code == 400
    assert post(site, f"/unsubscribe/{key}", {"List-Unsubscribe": "Yes"}).status_code == 400
    assert mail_preference(site.store, "A002") == "each"
    r = post(site, f"/unsubscribe/{key}", b"List-Unsubscribe=One-Click",
             headers={"content-type": "application/x-www-form-urlencoded"})  # RFC 8058 §3.2, no cookie, no token
    assert r.status_code == 200 and "Done: you will get no more e-mail reminders." in r.text
    assert mail_preference(site.store, "A002") == "none"
    assert "You already get no e-mail reminders." in get(site, f"/unsubscribe/{key}").text
    set_mail_preference(site.store, "A002", "each")


def test_unsubscribe_with_an_unknown_key_is_the_one_404(site: Site) -> None:
    unknown = get(site, "/no/such/path")
    for key in ("0" * 32, site.store.learner_key("A001").upper(), "stop", "%00", hashlib.sha256(b"A001").hexdigest()[:32]):
        for r in (get(site, f"/unsubscribe/{key}"), post(site, f"/unsubscribe/{key}", b"List-Unsubscribe=One-Click")):
            assert (r.status_code, r.content) == (404, unknown.content), key
    assert mail_preference(site.store, "A001") == "each"


def test_a_french_learner_unsubscribes_in_french(site: Site) -> None:
    key = site.store.learner_key("A001")
    assert "Ne plus recevoir de rappels" in get(site, f"/unsubscribe/{key}").text
    r = post(site, f"/unsubscribe/{key}", {"List-Unsubscribe": "One-Click"})
    assert "C'est fait : vous ne recevrez plus de rappels par e-mail." in r.text
    assert mail_preference(site.store, "A001") == "none"
    set_mail_preference(site.store, "A001", "each")


def test_the_page_renders_for_every_learner_of_a_generated_roster(tmp_path: Path) -> None:
    """Every status, lang and UE mix the generator makes: each page answers 200 with its countdowns."""
    from cnam_calendar.inputs.config import load_centres
    from cnam_calendar.inputs.roster import catalogue_codes, generate_learners
    from tests.conftest import CALENDARS

    centres = load_centres(CALENDARS)
    learners = generate_learners(30, 3, centres, {c: sorted(v) for c, v in catalogue_codes(centres).items()}, 2026)
    with learner_site(tmp_path) as s:
        s.store.import_learners(learners)
        for learner, token in s.store.issue_tokens([x.id for x in learners]):
            r = get(s, f"/me/{token}")
            assert r.status_code == 200, (learner, r.text[:300])
            assert f'<html lang="{"en" if learner.lang == "en" else "fr"}">' in r.text


def test_the_page_and_its_forms_on_both_backends(db_url: str, tmp_path: Path) -> None:  # noqa: F811
    """SQLite reads inline, PostgreSQL through the thread pool: the same page, the same forms."""
    with learner_site(tmp_path, db_url) as s:
        token = s.token("A001")
        page = get(s, f"/me/{token}")
        assert page.status_code == 200 and "dans 78 jours" in page.text
        mail_csrf, link_csrf = csrf_tokens(page.text)
        assert post(s, f"/me/{token}/mail", {"preference": "weekly"}).status_code == 403
        assert post(s, f"/me/{token}/mail", {"preference": "weekly", "csrf": mail_csrf}).status_code == 303
        assert mail_preference(s.store, "A001") == "weekly"
        new = post(s, f"/me/{token}/new-link", {"csrf": link_csrf}).headers["location"].removeprefix("/me/")
        assert get(s, f"/me/{token}").status_code == 404 and get(s, f"/me/{new}").status_code == 200
        key = s.store.learner_key("A001")
        assert post(s, f"/unsubscribe/{key}", {"List-Unsubscribe": "One-Click"}).status_code == 200
        assert mail_preference(s.store, "A001") == "none"
