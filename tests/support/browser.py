"""Headless Chromium (Debian's `chromium`) driven from its command line: DOM dumps, screenshots, PDFs.

No Selenium or Playwright: Chromium itself renders the page, with a throw-away profile and no network
service of its own (no sync, no component updates, no QUIC).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.ci import require_module, skip_or_fail

TIMEOUT = 90  # seconds; a cold start of Chromium in a container takes a few
WINDOW = (1600, 1100)
FRENCH_ENV = {"LANG": "fr_FR.UTF-8"}  # the browser's own locale: what a French user's Chromium has
FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--disable-quic",
    "--lang=fr-FR",  # with LANG (FRENCH_ENV) and Debian's chromium-l10n: date fields read jj/mm/aaaa, as in France
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """Return the path of the Chromium binary ($CHROMIUM, else `chromium` on PATH), or None."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


def require_chromium() -> str:
    """Return Chromium's path; skip the test when it is missing, or fail in CI (any non-empty ``CI``)."""
    path = find_chromium()
    if path is None:
        reason = (
            "headless Chromium not found: `chromium` is not on PATH (install it with "
            "`apt-get install chromium`, as .ci/run does, or set CHROMIUM=/path/to/chromium)"
        )
        skip_or_fail(reason)
    return path


def file_url(path: str | os.PathLike[str]) -> str:
    """Return the file:// URL of a local file."""
    return Path(path).resolve().as_uri()


def run_chromium(url: str, *args: str, chromium: str | None = None, window: tuple[int, int] = WINDOW,
                 timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once on ``url`` with extra ``args``, in a fresh profile; raise on failure."""
    binary = chromium or require_chromium()
    with tempfile.TemporaryDirectory(prefix="cnam-chromium-") as profile:
        command = [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}",
                   *args, url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                              env={**os.environ, **FRENCH_ENV})
    if done.returncode != 0:
        raise RuntimeError(
            f"chromium exited with status {done.returncode} on {url}:\n{done.stderr[-4000:]}"
        )
    return done


def dump_dom(url: str, **kwargs) -> str:
    """Return the DOM of ``url`` as Chromium rendered it (serialised HTML)."""
    return run_chromium(url, "--dump-dom", **kwargs).stdout


def screenshot(url: str, target: str | os.PathLike[str], **kwargs) -> Path:
    """Save a PNG of the first window-size pixels of ``url`` to ``target`` and return its path."""
    path = Path(target).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(url, f"--screenshot={path}", **kwargs)
    if not path.exists():
        raise RuntimeError(f"chromium wrote no screenshot to {path}")
    return path


def print_pdf(url: str, target: str | os.PathLike[str], **kwargs) -> Path:
    """Print ``url`` to a PDF (print media, the page's own @page size) and return its path."""
    path = Path(target).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(url, f"--print-to-pdf={path}", "--no-pdf-header-footer", **kwargs)
    if not path.exists():
        raise RuntimeError(f"chromium wrote no PDF to {path}")
    return path


_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_MEDIABOX = re.compile(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]")


def pdf_pages(path: str | os.PathLike[str]) -> int:
    """Count the pages of a PDF written by Chromium (its page objects are not compressed)."""
    return len(_PAGE.findall(Path(path).read_bytes()))


def pdf_page_size_mm(path: str | os.PathLike[str]) -> tuple[float, float]:
    """Return (width, height) in millimetres of the first page of a PDF written by Chromium."""
    match = _MEDIABOX.search(Path(path).read_bytes())
    if match is None:
        raise ValueError(f"{path}: no /MediaBox found")
    x0, y0, x1, y1 = (float(v) for v in match.groups())
    return round((x1 - x0) * 25.4 / 72, 1), round((y1 - y0) * 25.4 / 72, 1)


@contextmanager
def playwright_chromium() -> Iterator[Any]:
    """Debian's Chromium driven by playwright (never a browser of playwright's own): yield the Browser."""
    chromium = require_chromium()
    sync_api = require_module("playwright.sync_api", "playwright (extra test) n'est pas installé")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[f for f in FLAGS if f != "--headless"],
                                    env={**os.environ, **FRENCH_ENV})
        try:
            yield browser
        finally:
            browser.close()
