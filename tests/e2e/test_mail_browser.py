"""The e-mails' HTML in a real browser at a phone's width (390 px) and a laptop's (1366 px): nothing scrolls sideways.

Regenerate the screenshots of docs/ with:
    UPDATE_DOCS_SCREENSHOT=1 python -m pytest tests/e2e/test_mail_browser.py
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.mail.compose import compose
from cnam_calendar.mail.daemon import plan_all
from cnam_calendar.mail.notices import scan_notices
from cnam_calendar.rules.model import Learner
from cnam_calendar.rules.weekly import weekly_letters
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries
from cnam_calendar.store.invites import invite
from tests.conftest import CALENDARS, REPO
from tests.support.browser import playwright_chromium

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
PAGE = "https://calendrier.example.org/me/q8Jx3vT0bLkR2mWcY7nHsA5dEfG9hPiU4oZ1aB6cD2e"


def mails(tmp_path: Path) -> dict[str, str]:
    """A reminder and a change notice as the daemon would send them, their HTML part."""
    calendars = tmp_path / "calendars"
    shutil.copytree(CALENDARS, calendars)
    store = open_store(f"sqlite:///{tmp_path / 'mail.db'}")
    try:
        store.import_learners([Learner("L1", "camille.martin@example.org", "Camille", "Martin-Delacroix-Beauregard",
                                       "ipst-cnam", "31", "cpf", ("NFA031",), cpf_validated=date(2026, 11, 10))])
        centres = load_centres(calendars)
        plan = plan_all(store, centres, 2026)
        [reminder] = [r for r in plan if r.event_id == "cpf-confirmation" and r.offset_days == 1]
        letter = weekly_letters(plan, {"L1"})[0]  # the Monday letter, had L1 chosen the weekly digest
        scan_notices(store, centres, NOW, 2026)
        path = calendars / "ipst-cnam.toml"
        path.write_text(path.read_text().replace(
            "[years.2026]\n", '[years.2026]\noverrides."add-drop-close" = { date = 2027-02-22, reason = "vote du '
                              'conseil d\'administration du 15 octobre" }\n', 1).replace(
            "start = 2026-12-19, end = 2027-01-03", "start = 2026-12-18, end = 2027-01-03"))
        scan_notices(store, load_centres(calendars), NOW, 2026)
        [notice] = [d for d in list_deliveries(store) if d.key.startswith("notice/")]
        invite(store, [store.get_learner("L1")], {c.id: c for c in centres}, "https://calendrier.example.org", NOW)
        [invitation] = [d for d in list_deliveries(store) if d.key.startswith("invite/")]
    finally:
        store.close()
    html = {}
    moment = {"reminder": reminder.due_at, "notice": NOW + timedelta(minutes=30), "invite": NOW,
              "week": letter.due_at}
    page = {"page_url": PAGE}  # what the daemon adds at sending time, with the link key
    week = {**letter.payload, **page, "changes": notice.payload["changes"]}  # carrying the week's changes
    for name, (payload, key) in {"reminder": ({**reminder.payload, **page}, reminder.key),
                                 "notice": ({**notice.payload, **page}, notice.key),
                                 "invite": (invitation.payload, invitation.key), "week": (week, letter.key)}.items():
        msg = compose(payload, key, date=moment[name])
        html[name] = msg.get_body(("html",)).get_content()
    return html


def week_entries(html: str) -> list[str]:
    """The week's dates of a Monday letter's HTML (each a hero date before the changes' heading)."""
    return html.split("<h2>", 1)[0].split('class="hero-date"')[1:]


@pytest.fixture
def browser():
    with playwright_chromium() as b:
        yield b


@pytest.mark.parametrize("width", [390, 1366])
def test_mails_read_at_phone_and_laptop_widths(tmp_path: Path, browser, width: int) -> None:
    for name, html in mails(tmp_path).items():
        page = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR").new_page()
        file = tmp_path / f"{name}.html"
        file.write_text(html, encoding="utf-8")
        page.goto(file.as_uri())
        sizes = page.evaluate("""() => ({
            scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
            card: document.querySelector('.card').getBoundingClientRect().width,
            body: parseFloat(getComputedStyle(document.body).fontSize),
            date: parseFloat(getComputedStyle(document.querySelector('.hero-date, .button')).fontSize),
            font: getComputedStyle(document.body).fontFamily,
        })""")
        assert sizes["scroll"] <= sizes["inner"], (name, sizes)  # no horizontal scroll
        assert sizes["card"] <= 600, sizes  # a readable measure, however wide the window
        if name != "invite":
            assert page.locator(f'a[href="{PAGE}"]').count() == 1  # the learner's page, in every e-mail
            assert sizes["date"] >= 1.4 * sizes["body"], sizes  # the date stands out
        assert "system-ui" in sizes["font"] or "-apple-system" in sizes["font"], sizes
        if name == "reminder":
            assert page.locator(".hero-left").inner_text() == "demain"
        elif name == "notice":
            assert page.locator(".change").count() == 2
        elif name == "week":
            assert page.locator("h2").first.inner_text() == "Ce qui a changé dans votre calendrier"
            assert page.locator(".change").count() == len(week_entries(html)) + 2
        else:
            assert page.locator("a.button").get_attribute("href").startswith("https://calendrier.example.org/me/")
        shot = tmp_path / f"{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
            target = {"reminder": f"mail-{width}.png", "notice": f"notice-{width}.png",
                      "invite": f"invite-{width}.png", "week": f"week-{width}.png"}[name]
            shutil.copy(shot, REPO / "docs" / target)
        page.context.close()
