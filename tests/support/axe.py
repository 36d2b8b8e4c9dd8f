"""Deque's axe-core (npm `axe-core`), run inside a page open in Chromium through playwright.

.ci/run installs it in $CNAM_AXE_DIR (default /opt/cnam-axe), as it installs ical.js; a test that needs
it skips on a laptop without it and fails in CI (tests/support/ci.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.support.ci import skip_or_fail

AXE_DIR = Path(os.environ.get("CNAM_AXE_DIR", "/opt/cnam-axe"))


def require_axe() -> Path:
    """Return the path of axe.min.js, or skip (fail in CI) when it is not installed."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        skip_or_fail(f"axe-core not found at {script} (npm install --prefix {AXE_DIR} axe-core, as .ci/run does)")
    return script


def violations(page: Any, rules: tuple[str, ...] = ("color-contrast",)) -> list[dict[str, Any]]:
    """Run axe-core's ``rules`` on the page as it is (the context must bypass the page's CSP)."""
    page.add_script_tag(path=str(require_axe()))
    result = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'rule', values: rules}, resultTypes: ['violations']})",
        list(rules))
    return [{"id": v["id"], "nodes": [(n["target"], n.get("failureSummary", "")) for n in v["nodes"]]}
            for v in result["violations"]]


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no sideways scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))
