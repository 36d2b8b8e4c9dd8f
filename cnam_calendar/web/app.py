"""The HTTP side: feeds, the subscription page, the year at a glance. No socket code here.

`make_app(...)` returns an ASGI app; `cnam-calendar serve` runs it under uvicorn.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import date, datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from cnam_calendar.ical import build as build_mod
from cnam_calendar.ical.feed_cache import PersonalCache, Rendered, Validators, rendered
from cnam_calendar.ical.personal import PersonalFeeds
from cnam_calendar.ical.rolling import built_years, rolling_years
from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.inputs.config import load_centres
from cnam_calendar.oplog import N_
from cnam_calendar.rules.checks import parse_year
from cnam_calendar.rules.errors import CnamCalendarError, ConfigError
from cnam_calendar.rules.model import UE, Centre
from cnam_calendar.service import academic_year, checked_schedule, local_date, ouvres_for
from cnam_calendar.store.database import Store
from cnam_calendar.web.admin import admin_routes
from cnam_calendar.web.admin_session import AdminConfig
from cnam_calendar.web.learner import learner_routes
from cnam_calendar.web.metrics import HttpMetrics, RequestMetrics
from cnam_calendar.web.security import ExtraHeaders, page_policy, security_headers

Clock = Callable[[], datetime]
log = logging.getLogger("cnam_calendar.web")
NOT_FOUND_BODY = "Introuvable.\n"
ICS_TYPE = "text/calendar; charset=utf-8"


def not_found() -> Response:
    """The one 404 of the server: unknown paths, centres and tokens all look the same."""
    return PlainTextResponse(NOT_FOUND_BODY, status_code=404)


def page(html: str) -> Response:
    """An HTML page with the Content-Security-Policy that lets exactly its own inline style and script run."""
    return HTMLResponse(html, headers={"Content-Security-Policy": page_policy(html)})


def unavailable() -> Response:
    """A 503 for what the operator must fix (a rule file unreadable since the start): clients retry later."""
    return PlainTextResponse("Calendrier momentanément indisponible : le centre met à jour ses règles. "
                             "Réessayez dans quelques minutes.\n", status_code=503, headers={"Retry-After": "300"})


def bad_request(message: str) -> Response:
    """A 400 that says what is wrong and what is expected."""
    return PlainTextResponse(f"Requête invalide : {message}\n", status_code=400)


_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")  # RFC 9110 §12.4.2


def accepted_codings(header: str) -> dict[str, float]:
    """Return the weight of each content coding an Accept-Encoding header names (a malformed weight is 0)."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                value = value.strip()
                q = float(value) if _QVALUE.fullmatch(value) else 0.0
        if name:
            weights.setdefault(name.lower(), q)
    return weights


def _accepts_gzip(request: Request) -> bool:
    weights = accepted_codings(request.headers.get("accept-encoding", ""))
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """Evaluate If-None-Match, then If-Modified-Since only when there is none (RFC 9110 §13.2.2)."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        if inm.strip() == "*":
            return True
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def _etag(feed: Validators, gzipped: bool) -> str:
    """Return the ETag of the representation sent: the gzip one has its own."""
    return feed.etag[:-1] + '-gz"' if gzipped else feed.etag


def not_modified(request: Request, feed: Validators) -> bool:
    """Tell whether the request's conditions say the client already has this feed."""
    return _not_modified(request, _etag(feed, _accepts_gzip(request)), feed.last_modified)


def calendar_response(request: Request, feed: Validators, *, private: bool, filename: str) -> Response:
    """Serve a feed with validators, conditional requests, HEAD and gzip when asked for.

    ``feed`` is a ``Rendered`` feed, or only its ``Validators`` when ``not_modified`` holds (a 304).
    """
    gzipped = _accepts_gzip(request)
    headers = {
        "Cache-Control": ("private" if private else "public") + ", max-age=3600",
        "Last-Modified": format_datetime(feed.last_modified.astimezone(timezone.utc), usegmt=True),
        "Vary": "Accept-Encoding",
        "Content-Disposition": f'inline; filename="{filename}"',
        "ETag": _etag(feed, gzipped),
    }
    if _not_modified(request, headers["ETag"], feed.last_modified):
        return Response(status_code=304, headers=headers)
    if not isinstance(feed, Rendered):  # pragma: no cover - a caller's mistake, not a request's
        raise TypeError("calendar_response: a 200 needs the rendered feed")
    data = feed.gzipped if gzipped else feed.body
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(data if request.method != "HEAD" else b"", status_code=200, media_type=ICS_TYPE,
                    headers={**headers, "Content-Length": str(len(data))})


class Feeds:
    """Compute and cache feeds; a change to calendars/ or output/ shows up at the next request."""

    def __init__(self, calendars: Path, out: Path, clock: Clock) -> None:
        self.calendars, self.out, self.clock = calendars, out, clock
        self._personal: dict[tuple[str, int], tuple[tuple, PersonalCache]] = {}

    def generation(self) -> tuple:
        """Return the rule files and the build manifests with their modification times (checked per request)."""
        return _input_times(str(self.calendars), str(self.out))

    def centres(self, generation: tuple | None = None) -> dict[str, Centre]:
        return _centres(self.calendars, self.generation() if generation is None else generation)

    def catalogue(self, centre: Centre) -> tuple[UE, ...]:
        return _catalogue(self.calendars, centre.id, self.generation())

    def personal(self, centre: Centre, today: date, generation: tuple, year: int | None = None) -> PersonalCache:
        """Return the personal feeds of the centre for academic year ``year`` (default: the year of ``today``).

        One cache per centre-year, replaced as a whole (rendered feeds included) when a rule file, a
        build manifest or the day changes.
        """
        slot, inputs = (centre.id, academic_year(today) if year is None else year), (generation, today)
        found = self._personal.get(slot)
        if found is None or found[0] != inputs:
            found = self._personal[slot] = (inputs, _personal_feeds(self.calendars, self.out, centre.id, slot[1],
                                                                    generation, today))
        return found[1]

    def removed_ue(self, centre: Centre, year: int, code: str) -> Rendered | None:
        return _removed_ue(self.calendars, self.out, centre.id, year, code, self.generation(),
                           local_date(self.clock()))

    def feed(self, centre: Centre, year: int, ues: tuple[UE, ...], lang: str) -> Rendered:
        codes = tuple(u.code for u in ues)
        return _feed(self.calendars, self.out, centre.id, year, codes, lang, self.generation(),
                     local_date(self.clock()))

    def years(self, centre: Centre, generation: tuple | None = None) -> tuple[int, ...]:
        """Return the years a rolling URL serves now: the running academic year, and the next once built."""
        generation = self.generation() if generation is None else generation
        return rolling_years(centre, local_date(self.clock()), built_years(self.out, centre, generation))

    def rolling(self, centre: Centre, ues: tuple[UE, ...], lang: str) -> Rendered:
        from cnam_calendar.web.rolling import rolling_feed

        generation = self.generation()
        return rolling_feed(self.calendars, self.out, centre.id, self.years(centre, generation),
                            tuple(u.code for u in ues), lang, generation, local_date(self.clock()))


# The last rule files and catalogues read whole: what the server keeps serving while an edit leaves
# one broken (a typo saved in the middle of a change). The operator reads why in the log.
_LAST_GOOD: dict[tuple, Any] = {}
_SAID: set[str] = set()


def _say_once(message: str, exc: ConfigError) -> None:
    """Log ``message`` (a msgid taking ``%(error)s``) once per problem."""
    text = str(exc)
    if text not in _SAID:
        _SAID.add(text)
        log.warning(message, {"error": text}, extra={"event": "rules-unreadable"})


def _or_last_good(slot: tuple, load: Callable[[], Any]) -> Any:
    """Return ``load()``, remembered for ``slot``; when it raises ConfigError, what it last returned (or raise)."""
    try:
        found = _LAST_GOOD[slot] = load()
    except ConfigError as exc:
        if slot not in _LAST_GOOD:
            raise
        _say_once(N_("fichier de règles illisible, les flux continuent avec sa dernière version lisible : "
                     "%(error)s"), exc)
        return _LAST_GOOD[slot]
    return found


@lru_cache(maxsize=8)
def _centres(calendars: Path, generation: tuple) -> dict[str, Centre]:
    return _or_last_good(("centres", calendars), lambda: {c.id: c for c in load_centres(calendars)})


@lru_cache(maxsize=32)
def _catalogue(calendars: Path, centre_id: str, generation: tuple) -> tuple[UE, ...]:
    return _or_last_good(("catalogue", calendars, centre_id),
                         lambda: load_catalogue(_centres(calendars, generation)[centre_id]))


def source_stamp(centre: Centre) -> datetime:
    """Return when the centre's rule files last changed: the stamp of events no build has recorded."""
    paths = [Path(centre.path), Path(centre.path).with_name(f"{centre.id}.ues.csv")]
    times = [p.stat().st_mtime for p in paths if p.is_file()]
    return datetime.fromtimestamp(int(max(times, default=0)), timezone.utc)


@lru_cache(maxsize=512)
def _feed(calendars: Path, out: Path, centre_id: str, year: int, codes: tuple[str, ...], lang: str,
          generation: tuple, today: date) -> Rendered:
    centre = _centres(calendars, generation)[centre_id]
    by_code = {u.code: u for u in _catalogue(calendars, centre_id, generation)}
    sched = checked_schedule(centre, year)
    manifest = build_mod.load_manifest(out, centre, year)
    data = build_mod.combined_feed(sched, [by_code[c] for c in codes], manifest, source_stamp(centre), today, lang)
    return rendered(data)


@lru_cache(maxsize=64)
def _removed_ue(calendars: Path, out: Path, centre_id: str, year: int, code: str, generation: tuple,
                today: date) -> Rendered | None:
    centre = _centres(calendars, generation)[centre_id]
    manifest = build_mod.load_manifest(out, centre, year)
    data = build_mod.removed_ue_feed(checked_schedule(centre, year), code, manifest, today)
    return None if data is None else rendered(data)


def _input_times(calendars: str, out: str) -> tuple:
    """Return (path, mtime_ns) of every file of calendars/ and every output/<centre>/<year>/.manifest.json."""
    found = []
    with suppress(OSError), os.scandir(calendars) as entries:
        found.extend((e.path, e.stat().st_mtime_ns) for e in entries if e.is_file())
    with suppress(OSError), os.scandir(out) as centres:
        for centre in centres:
            if centre.is_dir():
                with os.scandir(centre.path) as years:
                    for year in years:
                        if year.name.startswith("."):
                            continue  # a build's staging (.2026.new): not published, never read
                        with suppress(OSError):
                            manifest = os.path.join(year.path, ".manifest.json")
                            found.append((manifest, os.stat(manifest).st_mtime_ns))
    return tuple(sorted(found))


def _personal_feeds(calendars: Path, out: Path, centre_id: str, year: int, generation: tuple,
                    today: date) -> PersonalCache:
    centre = _centres(calendars, generation)[centre_id]
    sched = checked_schedule(centre, year)
    return PersonalCache(PersonalFeeds(sched, _catalogue(calendars, centre_id, generation),
                                       build_mod.load_manifest(out, centre, year), source_stamp(centre), today,
                                       ouvres_for(centre, year - 1, year + 2)))


def worker_pid(scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Say which worker process answered (X-Worker-Pid): for operators and the workers test."""
    return [(b"x-worker-pid", str(os.getpid()).encode())]


def make_app(calendars: Path, out: Path, clock: Clock, base_url: str = "http://127.0.0.1:8000",
             store: Store | None = None, admin: AdminConfig | None = None, access_log: bool = False) -> Starlette:
    """Build the ASGI app over the rule files, the built output, the learners' store and a clock.

    ``access_log``: one log line per request (web/metrics.py), by route template, never a token.
    """
    feeds = Feeds(Path(calendars), Path(out), clock)
    base_url = base_url.rstrip("/")
    metrics = HttpMetrics()  # /metrics (web/metrics.py): requests by route template, never by raw path

    def lookup(request: Request) -> tuple[Centre, int] | Response:
        centre = feeds.centres().get(request.path_params["centre"])
        year = parse_year(request.path_params["year"])
        if centre is None or year is None:
            return not_found()
        return centre, year

    def pick(centre: Centre, codes: Sequence[str]) -> tuple[UE, ...] | Response:
        by_code = {u.code: u for u in feeds.catalogue(centre)}
        unknown = [c for c in codes if c.upper() not in by_code]  # UE codes are read without case
        if unknown:
            return bad_request(f"UE inconnue {', '.join(unknown)} au catalogue de {centre.id} ; "
                               "attendu : des codes du catalogue, ex. ue=NFA031")
        return tuple(by_code[c] for c in dict.fromkeys(c.upper() for c in codes))

    def lang_of(request: Request) -> str | Response:
        lang = request.query_params.get("lang", "fr")
        return lang if lang in ("fr", "en") else bad_request(f"langue « {lang} » inconnue ; attendu : fr ou en")

    async def centre_feed(request: Request) -> Response:
        found = lookup(request)
        if isinstance(found, Response):
            return found
        centre, year = found
        lang = lang_of(request)
        if isinstance(lang, Response):
            return lang
        ues = pick(centre, request.query_params.getlist("ue"))
        if isinstance(ues, Response):
            return ues
        return calendar_response(request, feeds.feed(centre, year, ues, lang), private=False,
                                 filename=f"{centre.id}-{year}.ics")

    async def ue_feed(request: Request) -> Response:
        found = lookup(request)
        if isinstance(found, Response):
            return found
        centre, year = found
        by_code = {u.code: u for u in feeds.catalogue(centre)}
        ue = by_code.get(request.path_params["code"].upper())
        lang = lang_of(request)
        if isinstance(lang, Response):
            return lang
        if ue is None:  # a UE removed from the catalogue: its events, cancelled, until they are past
            removed = feeds.removed_ue(centre, year, request.path_params["code"])
            return not_found() if removed is None else calendar_response(
                request, removed, private=False, filename=f"{centre.id}-{year}-{request.path_params['code']}.ics")
        return calendar_response(request, feeds.feed(centre, year, (ue,), lang), private=False,
                                 filename=f"{centre.id}-{year}-{ue.code}.ics")

    async def personal_feed(request: Request) -> Response:
        # The store is asked on every request (token → learner row and its last change, one indexed
        # query), so a rotated token or an updated learner shows at once in every worker. A SQLite
        # read is cheaper inline than handed to a thread; a query over the network goes to the thread
        # pool, and so does rendering, needed only when the cache does not know the feed yet.
        token = request.path_params["token"]
        if store is None:
            return not_found()
        found = store.feed_learner(token) if store.local else await run_in_threadpool(store.feed_learner, token)
        generation = feeds.generation()
        centre = feeds.centres(generation).get(found[0].centre) if found is not None else None
        if found is None or centre is None:
            return not_found()  # unknown, rotated or malformed token: exactly like any unknown path
        learner, changed = found
        alarms = request.query_params.get("alarms", "1")
        if alarms not in ("0", "1"):
            return bad_request(f"alarms={alarms} ; attendu : alarms=0 (sans alarmes) ou alarms=1")
        args = (learner, store.learner_key(learner.id), changed or source_stamp(centre), alarms == "1")
        years = feeds.years(centre, generation)
        if len(years) > 1:  # the summer, once next year is built: both years in one feed (web/rolling.py)
            from cnam_calendar.web.rolling import personal_feed_over

            feed = await run_in_threadpool(personal_feed_over, feeds, centre, years, generation, args)
            return calendar_response(request, feed, private=True, filename="cnam-personnel.ics")
        cache = feeds.personal(centre, local_date(clock()), generation, years[0])
        feed = cache.peek(*args)
        if not isinstance(feed, Rendered) and not (feed is not None and not_modified(request, feed)):
            feed = await run_in_threadpool(cache.rendered, *args)
        return calendar_response(request, feed, private=True, filename="cnam-personnel.ics")

    def centre_lang(request: Request) -> tuple[Centre, str] | Response:
        centre = feeds.centres().get(request.path_params["centre"])
        if centre is None:
            return not_found()
        lang = lang_of(request)
        return lang if isinstance(lang, Response) else (centre, lang)

    async def rolling_centre_feed(request: Request) -> Response:
        found = centre_lang(request)
        if isinstance(found, Response):
            return found
        centre, lang = found
        ues = pick(centre, request.query_params.getlist("ue"))
        if isinstance(ues, Response):
            return ues
        return calendar_response(request, feeds.rolling(centre, ues, lang), private=False, filename=f"{centre.id}.ics")

    async def rolling_ue_feed(request: Request) -> Response:
        found = centre_lang(request)
        if isinstance(found, Response):
            return found
        centre, lang = found
        code = request.path_params["code"]
        ue = {u.code: u for u in feeds.catalogue(centre)}.get(code)
        if ue is None:  # removed from the catalogue: as the yearly URL of the running year says
            removed = feeds.removed_ue(centre, feeds.years(centre)[0], code)
            return not_found() if removed is None else calendar_response(
                request, removed, private=False, filename=f"{centre.id}-{code}.ics")
        return calendar_response(request, feeds.rolling(centre, (ue,), lang), private=False,
                                 filename=f"{centre.id}-{ue.code}.ics")

    async def overview(request: Request) -> Response:
        from cnam_calendar.web.overview import render_overview

        found = lookup(request)
        if isinstance(found, Response):
            return found
        centre, year = found
        sched = checked_schedule(centre, year)
        links = [("Calendrier du centre (.ics)", f"{base_url}/feeds/{centre.id}/{year}.ics")]
        links += [(f"{u.code} — {u.title}", f"{base_url}/feeds/{centre.id}/{year}/ue/{quote(u.code)}.ics")
                  for u in feeds.catalogue(centre)]
        return page(render_overview(sched, links))

    async def healthz(request: Request) -> Response:
        feeds.centres()
        if store is not None:
            from cnam_calendar.web.health import store_unreachable

            down = await run_in_threadpool(store_unreachable, store)
            if down is not None:
                return down
        return PlainTextResponse("ok\n")

    async def index(request: Request) -> Response:
        from cnam_calendar.web.subscribe import kept_codes, page_lang, render_page

        centres = feeds.centres()
        params = request.query_params
        lang = page_lang(params.get("lang"), accepted_codings(request.headers.get("accept-language", "")))
        if lang is None:
            return bad_request(f"langue « {params.get('lang')} » inconnue ; attendu : fr ou en")
        centre = centres.get(params.get("centre", "")) if params.get("centre") else None
        if params.get("centre") and centre is None:
            return bad_request(f"centre « {params['centre']} » inconnu ; attendu : " + ", ".join(centres))
        current = academic_year(local_date(clock()))
        years = (current, current + 1)
        year = parse_year(params.get("year", str(current)))
        if year is None:
            return bad_request(f"année « {params.get('year')} » invalide ; attendu : AAAA, ex. {current}")
        catalogue = feeds.catalogue(centre) if centre else ()
        wanted = {c.strip().upper() for c in params.getlist("ue")}
        chosen = tuple(u for u in catalogue if u.code in wanted)  # codes of another centre are kept aside
        link = None
        if centre is not None:
            query = urlencode([("ue", u.code) for u in chosen] + ([("lang", "en")] if lang == "en" else []))
            link = f"{base_url}/feeds/{centre.id}/{year}.ics" + (f"?{query}" if query else "")
        response = page(render_page(list(centres.values()), years, centre, year, catalogue, chosen, link, lang,
                                    kept_codes(params.getlist("ue"), catalogue)))
        response.headers["Vary"] = "Accept-Language"
        return response

    async def fallback(request: Request) -> Response:
        return not_found()

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ConfigError):  # the server's own files, never read whole yet: not the request's fault
            _say_once(N_("fichier de règles illisible, jamais lu en entier depuis le démarrage : ce calendrier "
                         "répond 503 jusqu'à sa correction : %(error)s"), exc)
            return unavailable()
        if isinstance(exc, CnamCalendarError):
            return bad_request(str(exc))
        raise exc

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics.endpoint, methods=["GET", "HEAD"]),
        Route("/feeds/personal/{token}.ics", personal_feed, methods=["GET", "HEAD"]),
        Route("/feeds/{centre}.ics", rolling_centre_feed, methods=["GET", "HEAD"]),
        Route("/feeds/{centre}/ue/{code}.ics", rolling_ue_feed, methods=["GET", "HEAD"]),
        Route("/feeds/{centre}/{year}.ics", centre_feed, methods=["GET", "HEAD"]),
        Route("/feeds/{centre}/{year}/ue/{code}.ics", ue_feed, methods=["GET", "HEAD"]),
        Route("/overview/{centre}/{year}", overview, methods=["GET", "HEAD"]),
        *learner_routes(store, feeds.centres, feeds.catalogue, clock, base_url, not_found, bad_request),
        *admin_routes(feeds, store, clock, admin),  # the staff console, /admin (web/admin.py)
        Route("/{path:path}", fallback, methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    ]
    app = Starlette(routes=routes, exception_handlers={CnamCalendarError: on_error},
                    middleware=[Middleware(RequestMetrics, metrics=metrics, routes=routes, access_log=access_log),
                                Middleware(ExtraHeaders, extra=worker_pid),
                                Middleware(ExtraHeaders, extra=security_headers)])
    app.state.feeds = feeds
    app.state.metrics = metrics
    return app


def app_from_env() -> Starlette:
    """Build the app from CNAM_CALENDAR_* variables: the entry point of `serve --workers N`."""
    from cnam_calendar.store.database import DEFAULT_DB, open_store
    from cnam_calendar.store.links import KEY_ENV, default_key_file, read_key

    db = os.environ.get("CNAM_CALENDAR_DB") or DEFAULT_DB
    key_file = os.environ.get(KEY_ENV, default_key_file(db))
    return make_app(
        Path(os.environ.get("CNAM_CALENDAR_CALENDARS", "calendars")),
        Path(os.environ.get("CNAM_CALENDAR_OUT", "output")),
        lambda: datetime.now(timezone.utc),
        os.environ.get("CNAM_CALENDAR_BASE_URL", "http://127.0.0.1:8000"),
        open_store(db, link_key=read_key(key_file or None)),  # « nouveau lien » derives the token (store/links.py)
        AdminConfig.from_env(os.environ),
        access_log=os.environ.get("CNAM_CALENDAR_SERVE_ACCESS_LOG") == "1",
    )
