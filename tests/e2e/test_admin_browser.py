"""The staff console in Chromium (Playwright): sign in with a local account, open a year, unfold a date.

At 390 px (a phone) and 1366 px (a laptop), the pages never scroll sideways. Regenerate the images
of docs/console.md with:
    UPDATE_DOCS_SCREENSHOT=1 python -m pytest tests/e2e/test_admin_browser.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CALENDARS, REPO
from tests.support.browser import playwright_chromium
from tests.support.server import running_server

PASSWORD = "une phrase de passe assez longue"
WIDTHS = (390, 1366)


def staff_add(cwd: Path, email: str, centre: str, role: str) -> None:
    done = subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), "staff", "add",
                           email, "--centre", centre, "--role", role, "--password-stdin"],
                          cwd=cwd, input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("console")
    subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "init"], cwd=cwd, check=True, capture_output=True,
                   timeout=120)  # the operator creates the store first: staff commands create none
    staff_add(cwd, "camille.martin@example.org", "ipst-cnam", "editor")
    staff_add(cwd, "camille.martin@example.org", "cnam-occitanie", "viewer")
    staff_add(cwd, "dominique@example.org", "ipst-cnam", "viewer")
    with running_server(["--calendars", str(CALENDARS)], cwd=cwd) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_chromium() as launched:
        yield launched


def new_page(browser, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 500 else 844}, locale="fr-FR")
    return context, context.new_page()


def no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")


def shoot(page, tmp_path: Path, name: str, *, height: int | None = None) -> None:
    """Screenshot the viewport, or the page's first ``height`` pixels."""
    options = {"full_page": True, "clip": {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}} \
        if height else {}
    path = tmp_path / name
    page.screenshot(path=str(path), **options)
    assert path.stat().st_size > 10_000
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        page.screenshot(path=str(REPO / "docs" / name), **options)


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/admin/ipst-cnam/2026")  # a deep link: the sign-in brings the person back to it
    assert page.url.startswith(base + "/admin/connexion")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#signin-submit")
    page.wait_for_selector("#problems")
    assert page.url == base + "/admin/ipst-cnam/2026"


@pytest.mark.parametrize("width", WIDTHS)
def test_an_editor_signs_in_opens_the_year_and_unfolds_a_date(base: str, browser, width: int, tmp_path: Path) -> None:
    context, page = new_page(browser, width)
    try:
        page.goto(base + "/admin")
        page.wait_for_selector("#signin")
        no_sideways_scroll(page)
        if width == 390:
            shoot(page, tmp_path, "admin-signin-390.png")
        page.fill("#email", "camille.martin@example.org")
        page.fill("#password", "pas le bon")
        page.click("#signin-submit")
        assert page.inner_text("#signin-error") == "Adresse ou mot de passe incorrect."
        page.fill("#password", PASSWORD)
        page.click("#signin-submit")
        page.wait_for_selector("#centres")
        assert page.locator("#centres > li").evaluate_all("els => els.map(e => e.dataset.centre)") == [
            "cnam-occitanie", "ipst-cnam"]
        no_sideways_scroll(page)
        if width == 390:
            shoot(page, tmp_path, "admin-centres-390.png")
        page.click("a[href='/admin/ipst-cnam/2026']")
        page.wait_for_selector("#problems")
        assert page.is_visible("#editor-tools")
        assert page.inner_text("#role") == "éditeur"
        step = page.locator("#ev-cpf-latest-validation-s1 li", has_text="Dernier jour ouvré avant le début")
        assert not step.is_visible()  # folded until clicked
        page.click("#ev-cpf-latest-validation-s1 summary")
        assert step.is_visible()
        assert page.locator("#catalogue tr[data-ue]").count() == 30
        no_sideways_scroll(page)
        if width == 1366:
            shoot(page, tmp_path, "admin-year-1366.png", height=1240)
        else:
            shoot(page, tmp_path, "admin-year-390.png")
            page.locator("#ev-cpf-latest-validation-s1").scroll_into_view_if_needed()
            page.evaluate("document.getElementById('dates').scrollIntoView()")
            shoot(page, tmp_path, "admin-dates-390.png")
        page.click("a[href='/admin/journal']")
        page.wait_for_selector("#journal")
        actions = page.locator("#journal tr").evaluate_all("els => els.map(e => e.dataset.action)")
        assert "sign-in" in actions and "sign-in-refused" in actions and "staff-add" in actions
        no_sideways_scroll(page)
        if width == 1366:
            shoot(page, tmp_path, "admin-journal-1366.png")
        page.click("text=Se déconnecter")
        page.wait_for_selector("#signin")
    finally:
        context.close()


def test_a_viewer_sees_the_year_without_the_editor_controls(base: str, browser) -> None:
    context, page = new_page(browser, 390)
    try:
        sign_in(page, base, "dominique@example.org")
        assert page.inner_text("#role") == "lecteur"
        assert page.locator("#editor-tools").count() == 0
        assert page.locator("#catalogue tr[data-ue]").count() == 30
        page.goto(base + "/admin/cnam-occitanie/2026")
        assert "pas parmi les vôtres" in page.inner_text("main")
    finally:
        context.close()
