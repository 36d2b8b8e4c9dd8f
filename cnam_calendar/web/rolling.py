"""Rolling feeds over HTTP: the year-less URLs, rendered and cached like the yearly ones (see ical/rolling.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from threading import Lock

from cnam_calendar.ical import build as build_mod
from cnam_calendar.ical import rolling
from cnam_calendar.ical.feed_cache import Rendered, rendered
from cnam_calendar.rules.model import Centre
from cnam_calendar.service import checked_schedule, local_date
from cnam_calendar.web.app import Feeds, _catalogue, _centres, source_stamp


@lru_cache(maxsize=256)
def rolling_feed(calendars: Path, out: Path, centre_id: str, years: tuple[int, ...], codes: tuple[str, ...],
                 lang: str, generation: tuple, today: date) -> Rendered:
    """Return the rolling feed of a centre (with the UEs ``codes``) over ``years``, with its validators."""
    centre = _centres(calendars, generation)[centre_id]
    by_code = {u.code: u for u in _catalogue(calendars, centre_id, generation)}
    ues = [by_code[c] for c in codes]
    scheds = [checked_schedule(centre, year) for year in years]
    manifests = [build_mod.load_manifest(out, centre, year) for year in years]
    return rendered(rolling.rolling_feed(scheds, [ues] * len(years), manifests, source_stamp(centre), today, lang))


_MERGED: OrderedDict[tuple, Rendered] = OrderedDict()
_MERGED_LOCK = Lock()
_MERGED_MAX = 4096


def merged_personal(feeds: Sequence[Rendered], opening: bytes) -> Rendered:
    """Return one personal feed made of each year's (``feeds``), remembered by their ETags."""
    key = (opening, *(f.etag for f in feeds))
    with _MERGED_LOCK:
        found = _MERGED.get(key)
        if found is not None:
            _MERGED.move_to_end(key)
            return found
    result = rendered(rolling.merge(opening, [f.body for f in feeds]))
    with _MERGED_LOCK:
        _MERGED[key] = result
        while len(_MERGED) > _MERGED_MAX:
            _MERGED.popitem(last=False)
    return result


@lru_cache(maxsize=64)
def personal_opening(calendars: Path, centre_id: str, years: tuple[int, ...], lang: str, generation: tuple) -> bytes:
    """Return the opening (name, one VTIMEZONE) of a learner's feed spanning ``years``."""
    centre = _centres(calendars, generation)[centre_id]
    scheds = [checked_schedule(centre, year) for year in years]
    return rolling.head(scheds, rolling.feed_name(centre, lang, personal=True))


def personal_feed_over(feeds: Feeds, centre: Centre, years: tuple[int, ...], generation: tuple,
                       args: tuple) -> Rendered:
    """Return a learner's feed over ``years`` (their rendering per year is cached by ``Feeds.personal``)."""
    today = local_date(feeds.clock())
    learner, rest = args[0], args[1:]
    # the learner's own deadlines do not depend on the year: once, with the running year's UIDs
    without_own = replace(learner, cpf_validated=None, dossier_received=None, training_start=None)
    parts = [feeds.personal(centre, today, generation, year).rendered(learner if i == 0 else without_own, *rest)
             for i, year in enumerate(years)]
    lang = learner.lang if learner.lang in ("fr", "en") else "fr"
    return merged_personal(parts, personal_opening(feeds.calendars, centre.id, years, lang, generation))
