"""Issue 18, point 6: the year page as `build` writes it, in Chromium — no sideways scroll on a phone,
every text contrast at least 4.5:1 by axe-core, the month grid, legend and deadlines on one A4
landscape sheet and the explanations on a second one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CALENDARS, FIXED_NOW, invoke
from tests.support import axe
from tests.support.browser import pdf_page_size_mm, pdf_pages, playwright_chromium

CENTRES = ("ipst-cnam", "cnam-occitanie")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("out")
    result = invoke("--calendars", str(CALENDARS), "build", "--year", "2026", "--out", str(out), clock=FIXED_NOW)
    assert result.exit_code == 0, result.output
    return {c: out / c / "2026" / "index.html" for c in CENTRES}


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    axe.require_axe()
    with playwright_chromium() as browser:
        yield browser


def _open(chromium, index: Path, width: int):
    context = chromium.new_context(viewport={"width": width, "height": 900}, bypass_csp=True, locale="fr-FR")
    page = context.new_page()
    page.goto(index.resolve().as_uri())
    return context, page


@pytest.mark.parametrize("centre", CENTRES)
@pytest.mark.parametrize("width", [390, 1366])
def test_no_sideways_scroll_and_every_contrast_passes(chromium, built, centre: str, width: int) -> None:
    context, page = _open(chromium, built[centre], width)
    try:
        assert axe.horizontal_overflow(page) == 0, f"{centre}: wider than {width} px"
        assert page.evaluate("document.documentElement.scrollWidth") == width
        assert axe.violations(page, ("color-contrast",)) == []
        # the week numbers and the weekend headers were the 3.18:1 ones
        ratio = page.evaluate("""() => {
            const lum = c => { const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map(v => v / 255)
                .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
              return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
            const fg = lum(getComputedStyle(document.querySelector('td.wk')).color);
            return (1 + 0.05) / (fg + 0.05); }""")
        assert ratio >= 4.5
    finally:
        context.close()


def test_axe_does_see_a_bad_contrast(chromium, tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html lang="fr"><title>t</title><p style="color:#8a919c">42</p></html>',
                   encoding="utf-8")
    context, page = _open(chromium, bad, 390)
    try:
        assert [v["id"] for v in axe.violations(page)] == ["color-contrast"]
    finally:
        context.close()


@pytest.mark.parametrize("centre", CENTRES)
def test_prints_on_two_a4_landscape_pages_the_grid_alone_on_the_first(chromium, built, centre: str,
                                                                       tmp_path: Path) -> None:
    context, page = _open(chromium, built[centre], 1366)
    try:
        page.emulate_media(media="print")
        whole = tmp_path / "whole.pdf"
        page.pdf(path=str(whole), prefer_css_page_size=True, print_background=True)
        assert pdf_page_size_mm(whole) == pytest.approx((297.0, 210.0), abs=0.5)
        assert pdf_pages(whole) == 2
        # the first sheet: header, the 13 months with their deadlines, the legend and its « Au verso » note
        page.evaluate("document.querySelector('.details').remove(); document.querySelector('footer').remove()")
        first = tmp_path / "first.pdf"
        page.pdf(path=str(first), prefer_css_page_size=True, print_background=True)
        assert pdf_pages(first) == 1
        notes = page.inner_text(".year")
        assert "CPF : dernière validation possible" in notes.replace("\u00a0", " ")
        assert "Au verso" in notes
    finally:
        context.close()


@pytest.mark.parametrize(("ci", "outcome"), [("1", "1 error"), ("", "1 skipped")])
def test_missing_axe_fails_in_ci_and_skips_elsewhere(ci: str, outcome: str, tmp_path: Path) -> None:
    env = {**os.environ, "CI": ci, "CNAM_AXE_DIR": str(tmp_path / "nowhere")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "tests/e2e/test_overview_a11y.py::test_axe_does_see_a_bad_contrast"], env=env,
                          capture_output=True, text=True, timeout=300, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert outcome in done.stdout and (done.returncode != 0) == bool(ci), done.stdout  # the fixture fails: an error
    assert "axe-core not found" in done.stdout
