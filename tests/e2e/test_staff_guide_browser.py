"""The staff guide's journey, to the page a clerk opens: year new, a pinned date, a closure, build, Chromium.

`UPDATE_DOCS_SCREENSHOT=1 python -m pytest tests/e2e/test_staff_guide_browser.py` rewrites
docs/guide-annee.png (the screenshot of docs/guide-scolarite.md, 1366 px wide).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.e2e.test_overview_browser import Page
from tests.support import browser

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOT = ROOT / "docs" / "guide-annee.png"
WINDOW = (1366, 900)


def _prepare_2029(run_cli, cal: Path) -> None:
    result = run_cli("--calendars", str(cal), "year", "new", "--centre", "ipst-cnam", "--year", "2029")
    assert result.exit_code == 0, result.output
    path = cal / "ipst-cnam.toml"
    text = path.read_text(encoding="utf-8")
    noel = 'closures = [{ id = "noel", start = 2029-12-22, end = 2030-01-06, label = "Fermeture de fin d\'année" }]'
    assert noel in text
    text = text.replace(noel, 'closures = [\n  { id = "noel", start = 2029-12-22, end = 2030-01-06, label = '
                              '"Fermeture de fin d\'année" },\n  { id = "pont-ascension", start = 2030-05-31, '
                              'end = 2030-05-31, label = "Pont de l\'Ascension" },\n]')
    example = '# overrides."semester-1" = { start = 2029-10-08, reason = "rentrée avancée, vote du conseil du …" }'
    assert example in text
    text = text.replace(example, example.removeprefix("# ").replace("du …", "du 12 mai 2029"))
    path.write_text(text, encoding="utf-8")


def test_the_guide_year_as_chromium_shows_it(run_cli, calendars_copy, tmp_path: Path) -> None:
    chromium = browser.require_chromium()
    cal, out = calendars_copy(catalogues=False), tmp_path / "out"
    _prepare_2029(run_cli, cal)
    assert run_cli("--calendars", str(cal), "check", "--centre", "ipst-cnam").exit_code == 0
    built = run_cli("--calendars", str(cal), "build", "--centre", "ipst-cnam", "--year", "2029", "--out", str(out))
    assert built.exit_code == 0 and built.stderr == "", built.output
    assert "première publication" in built.stdout
    url = browser.file_url(out / "ipst-cnam" / "2029" / "index.html")
    page = Page(browser.dump_dom(url, chromium=chromium, window=WINDOW))
    assert "Ipst-Cnam (Toulouse, Albi) — année 2029-2030" in page.text
    assert "semester" in page.kinds("2029-10-08") and "semester" not in page.kinds("2029-10-07")
    assert "closure" in page.kinds("2029-12-24") and "closure" in page.kinds("2030-05-31")
    assert "Pont de l'Ascension" in page.text and "Fermeture de fin d'année" in page.text
    shot = browser.screenshot(url, tmp_path / "guide.png", chromium=chromium, window=WINDOW)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page is a few kilobytes
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
