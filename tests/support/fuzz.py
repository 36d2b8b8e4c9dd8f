"""What the fuzz tests (hypothesis) share: bounded by default, longer with CNAM_CALENDAR_FUZZ=nightly.

Each test counts what it tried in STATS; the terminal summary prints the figures of the run:
inputs tried, tracebacks, bad inputs accepted, HTTP answers ≥ 500 (the properties keep the last
three at 0: a single one fails the test with its counterexample).
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("CNAM_CALENDAR_FUZZ", "default")
SCALE = {"default": 1, "nightly": 25}.get(PROFILE)
if SCALE is None:
    raise RuntimeError(f"CNAM_CALENDAR_FUZZ={PROFILE!r} ; attendu : default ou nightly")
STATS: Counter[str] = Counter()


def fuzz_settings(examples: int) -> settings:
    """Return hypothesis settings for ``examples`` inputs by default (×25 in the nightly profile)."""
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=PROFILE == "default",
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


def summary() -> str | None:
    """Return the figures of this run's fuzz tests, or None when none ran."""
    if not STATS:
        return None
    return (
        f"entrées essayées : {STATS['inputs']} (fichiers de règles {STATS['rule_files']}, catalogues "
        f"{STATS['catalogues']}, fichiers d'apprenants {STATS['rosters']}, options et variables "
        f"{STATS['options']}, requêtes HTTP {STATS['requests']}) ; tracebacks : {STATS['tracebacks']} ; "
        f"mauvaises entrées acceptées : {STATS['accepted']} ; réponses 5xx : {STATS['5xx']}")
