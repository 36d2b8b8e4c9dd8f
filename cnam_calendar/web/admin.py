"""The staff console at /admin: sign-in, the centres a person may see, a centre's year, the journal.

French only. Pages come from Jinja2 templates (admin_*.html.j2); the year is the year at a glance
(``web.overview.render_overview``) with the console's parts added. Who may do what is read from the
store on every request (``store.staff``), so a removed account or role stops at once in every worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from cnam_calendar.inputs.catalogue import load_catalogue
from cnam_calendar.rules.checks import parse_year
from cnam_calendar.rules.engine import OVERRIDABLE
from cnam_calendar.rules.errors import CnamCalendarError
from cnam_calendar.rules.model import UE, Centre
from cnam_calendar.service import academic_year, local_date, schedule, year_problems
from cnam_calendar.store import audit
from cnam_calendar.store import staff as staff_store
from cnam_calendar.store.database import Store
from cnam_calendar.templating import environment, render
from cnam_calendar.text.i18n import day_name, long_date
from cnam_calendar.web.admin_edit import Kit, edit_routes, file_version_or_empty, span_text
from cnam_calendar.web.admin_session import (
    FORM_LIMIT,
    AdminConfig,
    Session,
    Sessions,
    client_address,
    over_https,
    proxy_user,
)
from cnam_calendar.web.overview import render_overview
from cnam_calendar.web.security import page_policy

Clock = Callable[[], datetime]
PARIS = ZoneInfo("Europe/Paris")
SIGN_IN = "/admin/connexion"
SEMESTER_NAMES = {"S1": "semestre 1", "S2": "semestre 2", "annual": "annuelle"}
_TEMPLATES = environment("cnam_calendar.web")


class CentreSource(Protocol):
    """What the console reads of the rule files (web.app.Feeds has it): the centres, and where the
    rule files and the output are (the console rewrites the first and rebuilds into the second)."""

    calendars: Path
    out: Path

    def centres(self) -> dict[str, Centre]: ...


class Visitor:
    """One request's person: their session, and the staff member once signed in."""

    def __init__(self, session: Session, member: staff_store.Member | None, refused: str | None = None) -> None:
        self.session, self.member, self.refused = session, member, refused

    @property
    def email(self) -> str | None:
        return self.member.email if self.member else None


def _page(html: str, status: int = 200) -> Response:
    return HTMLResponse(html, status_code=status,
                        headers={"Content-Security-Policy": page_policy(html), "Cache-Control": "no-store"})


def _unavailable() -> Response:
    return PlainTextResponse("Console indisponible : le serveur n'a pas de base.\n", status_code=503)


def _local_time(moment: datetime) -> str:
    local = moment.astimezone(PARIS)
    return f"{long_date(local.date())} à {local:%H:%M:%S}"


def _slot(ue: UE) -> str:
    if not ue.timed or ue.start is None or ue.end is None or ue.weekday is None:
        return ""
    return f"{day_name(date(2024, 1, 1 + ue.weekday))} {ue.start:%H:%M}–{ue.end:%H:%M}"


def _years(centre: Centre, today: date) -> list[int]:
    """Return the years the console offers for a centre: those its file names, the current and the next."""
    current = academic_year(today)
    return sorted({*centre.years, current, current + 1})


def _safe_next(value: str | None) -> str:
    """Return where to go after signing in: a path of the console only (no open redirect)."""
    if value and value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin"


def admin_routes(centres: CentreSource, store: Store | None, clock: Clock,
                 config: AdminConfig | None = None) -> list[BaseRoute]:
    """Return the console's routes over the rule files, the store (accounts, journal) and a clock."""
    config = config or AdminConfig()
    state: dict[str, Sessions] = {}

    def sessions() -> Sessions:
        if "s" not in state:  # the key is read once per worker, at the first console request
            assert store is not None
            state["s"] = Sessions(staff_store.session_secret(store))
        return state["s"]

    def visitor(request: Request) -> Visitor:
        """Work out who is asking: the trusted proxy's header first, else the session cookie."""
        assert store is not None
        now = clock()
        session = sessions().read(request, now)
        claimed = proxy_user(request, config)
        if claimed is not None:
            email = staff_store.normal_email(claimed)
            found = staff_store.member(store, email)
            if found is None:
                return Visitor(session.signed_out() if session.email else session, None, refused=email)
            if session.email != email or session.method != "proxy" or session.generation != found.generation:
                session = session.signed_in(email, found.generation, "proxy", now)
                audit.record(store, email, "sign-in-proxy", "", None, f"depuis {client_address(request, config)}")
            return Visitor(session, found)
        if session.email is None:
            return Visitor(session, None)
        found = staff_store.member(store, session.email)
        if found is None or found.generation != session.generation:
            return Visitor(session.signed_out(), None)  # removed, reset or another role taken away since
        return Visitor(session, found)

    def respond(request: Request, who: Visitor, response: Response) -> Response:
        return sessions().write(response, who.session, over_https(request, config))

    def show(request: Request, who: Visitor, template: str, status: int = 200, **context: Any) -> Response:
        html = render(_TEMPLATES, template, me=who.email, csrf=sessions().csrf(who.session), **context)
        return respond(request, who, _page(html, status))

    def message(request: Request, who: Visitor, status: int, heading: str, text: str, back: str = "/admin"
                ) -> Response:
        return show(request, who, "admin_message.html.j2", status, heading=heading, message=text, back=back)

    def to_sign_in(request: Request, who: Visitor) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        suite = "" if target == "/admin" else "?" + urlencode({"suite": target})
        return respond(request, who, RedirectResponse(SIGN_IN + suite, status_code=303))

    def no_access(request: Request, who: Visitor) -> Response:
        return message(request, who, 403, "Accès refusé",
                       f"Le compte « {who.refused} » transmis par le mandataire n'a pas de rôle dans la console ; "
                       "demandez-en un à l'administrateur du serveur (cnam-calendar staff add).")

    async def signed_in(request: Request) -> Visitor | Response:
        if store is None:
            return _unavailable()
        who = await run_in_threadpool(visitor, request)
        if who.refused:
            return no_access(request, who)
        if who.member is None:
            return to_sign_in(request, who)
        return who

    async def form(request: Request, who: Visitor) -> dict[str, str] | Response:
        """Read a urlencoded form and check its CSRF token (403 without it)."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > FORM_LIMIT:
                return PlainTextResponse("Formulaire trop long.\n", status_code=413)
        try:
            fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), max_num_fields=20).items()}
        except (UnicodeDecodeError, ValueError):
            fields = {}
        if not sessions().csrf_ok(who.session, fields.get("csrf")):
            return message(request, who, 403, "Formulaire refusé",
                           "Ce formulaire a expiré ou ne vient pas de la console (jeton de sécurité absent ou "
                           "périmé) ; rechargez la page et recommencez.", back=SIGN_IN)
        return fields

    async def home(request: Request) -> Response:
        who = await signed_in(request)
        if isinstance(who, Response):
            return who
        assert who.member is not None
        known = centres.centres()
        today = local_date(clock())
        listed = [{"id": c, "name": known[c].name, "role": role, "role_label": staff_store.ROLE_LABELS[role],
                   "years": _years(known[c], today)}
                  for c, role in who.member.roles.items() if c in known]
        return show(request, who, "admin_centres.html.j2", centres=listed)

    async def sign_in_form(request: Request) -> Response:
        if store is None:
            return _unavailable()
        who = await run_in_threadpool(visitor, request)
        if who.refused:
            return no_access(request, who)
        suite = _safe_next(request.query_params.get("suite"))
        if who.member is not None:
            return respond(request, who, RedirectResponse(suite, status_code=303))
        return show(request, who, "admin_signin.html.j2", message="", email="", suite=suite)

    async def sign_in(request: Request) -> Response:
        if store is None:
            return _unavailable()
        who = await run_in_threadpool(visitor, request)
        fields = await form(request, who)
        if isinstance(fields, Response):
            return fields
        email = fields.get("email", "").strip()[:254]
        suite = _safe_next(fields.get("suite"))
        address = client_address(request, config)
        outcome = await run_in_threadpool(staff_store.sign_in, store, email, fields.get("password", ""), address)
        if outcome.member is None:
            if outcome.refused == "throttled" and outcome.retry_at is not None:
                text = ("Trop de tentatives de connexion manquées ; réessayez après "
                        f"{outcome.retry_at.astimezone(PARIS):%H:%M} (heure de Paris), ou demandez une "
                        "réinitialisation (cnam-calendar staff reset).")
                status = 429
            else:
                text = "Adresse ou mot de passe incorrect."
                status = 401
            why = "trop de tentatives" if status == 429 else "mot de passe refusé"
            await run_in_threadpool(audit.record, store, staff_store.normal_email(email) or "?", "sign-in-refused",
                                    "", None, f"depuis {address} ({why})")
            response = show(request, who, "admin_signin.html.j2", status, message=text, email=email, suite=suite)
            if status == 429:
                wait = max(1, int((outcome.retry_at - clock()).total_seconds())) if outcome.retry_at else 60
                response.headers["Retry-After"] = str(wait)
            return response
        member = outcome.member
        who = Visitor(who.session.signed_in(member.email, member.generation, "password", clock()), member)
        await run_in_threadpool(audit.record, store, member.email, "sign-in", "", None, f"depuis {address}")
        return respond(request, who, RedirectResponse(suite, status_code=303))

    async def sign_out(request: Request) -> Response:
        who = await signed_in(request)
        if isinstance(who, Response):
            return who
        fields = await form(request, who)
        if isinstance(fields, Response):
            return fields
        assert store is not None and who.email is not None
        await run_in_threadpool(audit.record, store, who.email, "sign-out", "", None,
                                f"depuis {client_address(request, config)}")
        who = Visitor(who.session.signed_out(), None)
        return respond(request, who, RedirectResponse(SIGN_IN, status_code=303))

    async def year_page(request: Request) -> Response:
        who = await signed_in(request)
        if isinstance(who, Response):
            return who
        assert who.member is not None
        centre = centres.centres().get(request.path_params["centre"])
        year = parse_year(request.path_params["year"])
        if centre is None or year is None or not staff_store.may(who.member.roles, centre.id, "see"):
            return message(request, who, 404, "Introuvable",
                           "Cette page n'existe pas, ou ce centre n'est pas parmi les vôtres.")
        html = await run_in_threadpool(_year_html, centre, year, who.member.roles, who.email,
                                       sessions().csrf(who.session), request.query_params.get("publie") == "1")
        return respond(request, who, _page(html))

    async def journal_page(request: Request) -> Response:
        who = await signed_in(request)
        if isinstance(who, Response):
            return who
        assert store is not None and who.member is not None
        mine = [c for c in who.member.roles if staff_store.may(who.member.roles, c, "see")]
        rows = await run_in_threadpool(lambda: audit.entries(store, 200, centres=mine, who=who.email))
        entries = [{"action": e.action, "when": _local_time(e.at), "who": e.who, "label": e.label,
                    "where": " ".join(x for x in (e.centre or "", e.file) if x),
                    "change": e.change}
                   for e in rows]
        return show(request, who, "admin_journal.html.j2", entries=entries)

    def _year_html(centre: Centre, year: int, roles: Mapping[str, str], me: str | None, csrf: str,
                   published: bool = False) -> str:
        files = [f"calendars/{PurePath(centre.path).name}" if centre.path else f"calendars/{centre.id}.toml",
                 f"calendars/{PurePath(centre.catalogue_file).name}" if centre.catalogue_file
                 else f"calendars/{centre.id}.ues.csv"]
        try:
            catalogue: tuple[UE, ...] | None = load_catalogue(centre)
            problems: list[str] = []
        except CnamCalendarError as exc:  # shown with the year's problems, as `check` lists it
            catalogue, problems = None, exc.lines()
        problems += year_problems(centre, year, catalogue)
        role = roles.get(centre.id, "viewer")
        ues = [{"code": u.code, "title": u.title, "ects": u.ects, "semester": SEMESTER_NAMES.get(u.semester, u.semester),
                "modality": u.modality, "slot": _slot(u), "room": u.room} for u in catalogue or ()]
        links = [("Calendrier du centre (.ics)", f"/feeds/{centre.id}/{year}.ics")]
        try:
            sched = schedule(centre, year)
        except CnamCalendarError as exc:
            problems = problems or exc.lines()
            return render(_TEMPLATES, "admin_message.html.j2", me=me, csrf=csrf, heading="Année illisible",
                          message=" ; ".join(problems), back="/admin")
        settings = centre.year(year)
        pins = [{"id": o.event_id, "reason": o.reason, "when": span_text(o.start, o.end)}
                for o in settings.overrides.values()]
        closures = [{"id": c.id, "label": c.label, "when": span_text(c.start, c.end)} for c in settings.closures]
        rules_file = Path(centre.path) if centre.path else centres.calendars / f"{centre.id}.toml"
        return render_overview(sched, links, template="admin_year.html.j2", me=me, csrf=csrf,
                               centre_id=centre.id, centre_name=centre.name, role=role,
                               role_label=staff_store.ROLE_LABELS[role],
                               may_edit=staff_store.may(roles, centre.id, "edit"), files=files,
                               problems=problems, ues=ues, overridable=OVERRIDABLE, pins=pins, closures=closures,
                               rules_version=file_version_or_empty(rules_file), published=published,
                               holdback=centre.reminders.notice_holdback_minutes)

    kit = Kit(calendars=lambda: centres.calendars, out=lambda: centres.out, centres=centres.centres, store=store,
              clock=clock, signed_in=signed_in, form=form, show=show, message=message, respond=respond)
    return [
        *edit_routes(kit),  # changes: a form, its preview, publishing (web/admin_edit.py)
        Route("/admin", home, methods=["GET", "HEAD"]),
        Route("/admin/", lambda request: RedirectResponse("/admin", status_code=308), methods=["GET", "HEAD"]),
        Route(SIGN_IN, sign_in_form, methods=["GET", "HEAD"]),
        Route(SIGN_IN, sign_in, methods=["POST"]),
        Route("/admin/deconnexion", sign_out, methods=["POST"]),
        Route("/admin/journal", journal_page, methods=["GET", "HEAD"]),
        Route("/admin/{centre}/{year}", year_page, methods=["GET", "HEAD"]),
    ]

