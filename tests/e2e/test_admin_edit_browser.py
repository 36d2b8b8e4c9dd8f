"""A clerk pins `semester-1` one week earlier in Chromium (Playwright), at 390 px and 1366 px.

The same site as tests/e2e/test_admin_edit.py (a copy of calendars/, learners imported, 2026 built,
the app under uvicorn with a clock in September 2026). Regenerate the images of docs/console.md with:
    UPDATE_DOCS_SCREENSHOT=1 python -m pytest tests/e2e/test_admin_edit_browser.py
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_admin_browser import no_sideways_scroll, shoot
from tests.e2e.test_admin_edit import PASSWORD, calendar_days
from tests.e2e.test_admin_edit import site as site  # noqa: PLC0414 (the fixture, shared)
from tests.support.browser import playwright_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright_chromium() as launched:
        yield launched


@pytest.mark.parametrize("width", [390, 1366])
def test_a_clerk_pins_semester_1_previews_and_publishes(site, browser, tmp_path, width: int) -> None:
    base, root, _ = site
    context = browser.new_context(viewport={"width": width, "height": 900 if width > 500 else 844}, locale="fr-FR")
    page = context.new_page()
    try:
        page.goto(base + "/admin/ipst-cnam/2026")
        page.fill("#email", "editrice@example.org")
        page.fill("#password", PASSWORD)
        page.click("#signin-submit")
        page.wait_for_selector("#editor-tools")
        no_sideways_scroll(page)
        page.click("#ev-semester-1 summary")
        page.click("#ev-semester-1 >> text=Fixer cette date")
        page.wait_for_selector("#edit")
        assert page.input_value("#start") == "2026-10-12" and page.input_value("#end") == "2027-01-16"
        page.fill("#start", "2026-10-05")
        page.fill("#end", "2027-01-09")
        page.fill("#reason", "rentrée avancée, vote du conseil du 12 mai")
        no_sideways_scroll(page)
        shoot(page, tmp_path, f"admin-edit-{width}.png")
        page.click("#preview")
        page.wait_for_selector("#changes")
        for event in ("semester-1", "exam-winter", "registration-close-s1", "cpf-latest-validation-s1"):
            item = page.locator(f'li.change.moved[data-event="{event}"]')
            assert item.count() == 1, event
            assert "apprenant" in item.inner_text()
        assert page.locator('li.change.moved[data-event="semester-1"] .count').inner_text() == "3 apprenants concernés"
        assert "overrides.semester-1" in page.inner_text("#file-diff")
        no_sideways_scroll(page)
        shoot(page, tmp_path, f"admin-preview-{width}.png", height=1600 if width > 500 else 2400)
        page.click("#publish-submit")
        page.wait_for_selector("#published")
        assert "Modification publiée" in page.inner_text("#published")
        assert page.locator('#pins li[data-event="semester-1"]').count() == 1
        no_sideways_scroll(page)
        shoot(page, tmp_path, f"admin-published-{width}.png", height=900 if width > 500 else 1400)
    finally:
        context.close()
    assert calendar_days(root / "output")["semester-1"] == "2026-10-05"
