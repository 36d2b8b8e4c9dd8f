"""The one rule for a missing part (PostgreSQL, Chromium, playwright): skip on a laptop, fail in CI.

CI is any non-empty ``CI`` variable (GitHub sets ``true``, others ``1`` or ``yes``): there a
missing part is a failure, so the suite cannot go green by skipping what it was meant to prove.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """Tell whether we run in CI: ``CI`` is set to anything but the empty string."""
    return bool(os.environ.get("CI", "").strip())


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when in CI."""
    if in_ci():
        pytest.fail(f"{reason} — CI={os.environ['CI']!r} : en CI c'est un échec, pas un saut", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, reason: str) -> ModuleType:
    """Import ``name``, or skip (fail in CI) with ``reason`` when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        skip_or_fail(f"{reason} ({exc})")
