"""The learner's own page (`/me/<token>`) and the unsubscribe endpoints (`/unsubscribe/<key>`).

`/me/<token>` shows, in the learner's language, their feed (https, webcal, Google, Outlook.com, a QR
code of the page, how-tos), their upcoming and past deadlines with the countdown and the explanation,
their UEs with sessions and exam sessions, their e-mail preference and a button for a new link.
Its forms carry a CSRF token: an HMAC, under the store's secret, of the action and of the hash of
the page's token (nothing to store; a new link changes it). `/unsubscribe/<key>` takes the opaque
learner key of the e-mails: GET shows a confirmation, POST (RFC 8058 one-click, body
``List-Unsubscribe=One-Click``) opts out at once.

Unknown or rotated tokens and keys answer the server's one 404. Pages send ``Referrer-Policy:
no-referrer`` (the URL is a secret), ``Cache-Control: no-store`` and a CSP without scripts (the
inline style allowed by its hash).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from cnam_calendar.ical.personal import personal_deadline_events
from cnam_calendar.messages import countdown, decimal, gettext
from cnam_calendar.rules.model import UE, Centre, Event, Learner
from cnam_calendar.rules.sessions import exam_events, session_explanation, ue_sessions
from cnam_calendar.service import academic_year, checked_schedule, local_date, ouvres_for
from cnam_calendar.store.database import Store, hash_token
from cnam_calendar.store.delivery import MAIL_PREFERENCES, mail_preference, set_mail_preference, set_opt_out
from cnam_calendar.store.keys import LearnerKeys
from cnam_calendar.templating import environment, render
from cnam_calendar.text.explain import MODALITIES_EN, SEMESTER_LABELS, render_all
from cnam_calendar.text.i18n import day_name, long_date
from cnam_calendar.web.security import page_policy
from cnam_calendar.web.subscribe import qr_svg, webcal

MAX_FORM = 4096  # bytes: the forms of these pages are a few dozen
ONE_CLICK = ("List-Unsubscribe", "One-Click")  # RFC 8058 §3.1


@dataclass(frozen=True)
class Dated:
    """One dated item of the page, written in the learner's language."""

    title: str
    when: str
    left: str
    steps: tuple[str, ...]
    url: str
    past: bool


@dataclass(frozen=True)
class UeView:
    code: str
    title: str
    facts: str
    sessions: str
    next_session: str
    steps: tuple[str, ...]
    exams: tuple[Dated, ...]


def private_page(html: str, status_code: int = 200) -> Response:
    """An HTML page whose URL is a secret: its own style by hash, no Referer, never stored by a cache."""
    return HTMLResponse(html, status_code=status_code, headers={
        "Content-Security-Policy": page_policy(html), "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store"})


def refused(lang: str) -> Response:
    """The answer to a form without a valid CSRF token: 403, nothing changed."""
    return PlainTextResponse(gettext(lang, "Formulaire expiré ou invalide : rechargez la page et recommencez.") + "\n",
                             status_code=403, headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


def csrf_token(store: Store, token: str, action: str) -> str:
    """Return the CSRF token of ``action`` on the page of ``token``: an HMAC under the store's secret.

    The learner key is that HMAC; ``csrf:…`` cannot be a learner id (ids hold no colon), so the two
    never meet.
    """
    return store.learner_key(f"csrf:{action}:{hash_token(token)}")


def _lang(learner: Learner) -> str:
    return "en" if learner.lang == "en" else "fr"


def _when(event: Event, lang: str) -> str:
    if event.end > event.start:
        return gettext(lang, "du %(start)s au %(end)s", start=long_date(event.start, lang),
                       end=long_date(event.end, lang))
    return long_date(event.start, lang)


def _left(event: Event, today: date, lang: str) -> str:
    if event.start <= today <= event.end and event.end > event.start:
        return gettext(lang, "en cours")
    return countdown((event.start - today).days, lang)


def dated(event: Event, today: date, lang: str, fallback_url: str) -> Dated:
    """Return an event as the page shows it: title, date, time left, explanation, source link."""
    source = event.source
    return Dated(event.label(lang), _when(event, lang), _left(event, today, lang), render_all(event.explanation, lang),
                 (source.url if source and source.url else fallback_url), event.end < today)


def _ue_view(ue: UE, sched: Any, today: date, lang: str, centre: Centre) -> UeView:
    en = lang == "en"
    semester = SEMESTER_LABELS.get(ue.semester, (ue.semester, ue.semester))[1 if en else 0]
    modality = MODALITIES_EN.get(ue.modality, ue.modality) if en else ue.modality
    ects = gettext(lang, "%(ects)s ECTS", ects=decimal(ue.ects, lang))
    facts = f"{semester} · {modality} · {ects}"
    s = ue_sessions(ue, sched)
    sessions = next_session = ""
    if ue.timed and s.dates:
        assert ue.start is not None and ue.end is not None
        sessions = gettext(lang, "le %(day)s de %(start)s à %(end)s, %(count)s séances du %(first)s au %(last)s",
                           day=day_name(s.dates[0], lang), start=ue.start.strftime("%H:%M"), end=ue.end.strftime("%H:%M"),
                           count=len(s.dates), first=long_date(s.dates[0], lang), last=long_date(s.dates[-1], lang))
        coming = next((d for d in s.dates if d >= today), None)
        if coming is not None:
            next_session = gettext(lang, "Prochaine séance : %(date)s (%(left)s)", date=long_date(coming, lang),
                                   left=countdown((coming - today).days, lang))
    exams = tuple(dated(e, today, lang, centre.faq_url) for e in exam_events(ue, sched))
    return UeView(ue.code, ue.title, facts, sessions, next_session,
                  render_all(session_explanation(s, centre.timezone), lang), exams)


def render_learner_page(store: Store, learner: Learner, centre: Centre, catalogue: tuple[UE, ...], token: str,
                        base_url: str, now: datetime, saved: bool) -> str:
    """Render `/me/<token>` for ``learner`` at the moment ``now`` (the server's clock)."""
    lang = _lang(learner)
    today = local_date(now, centre.timezone)
    year = academic_year(today)
    sched = checked_schedule(centre, year)
    ouvres = ouvres_for(centre, year - 1, year + 2)
    items = [dated(e, today, lang, centre.faq_url) for e in personal_deadline_events(learner, sched, ouvres)]
    by_code = {u.code: u for u in catalogue}
    ues = [_ue_view(by_code[c], sched, today, lang, centre) for c in dict.fromkeys(learner.ues) if c in by_code]
    feed = f"{base_url}/feeds/personal/{token}.ics"
    page_url = f"{base_url}/me/{token}"
    cal_name = gettext(lang, "Cnam — %(name)s", name=centre.name)
    policy_time = f"{centre.reminders.time:%H:%M}"
    env = environment("cnam_calendar.web", lang)
    return render(
        env, "learner.html.j2", lang=lang, learner=learner, centre=centre, label=f"{year}-{year + 1}",
        today=long_date(today, lang),
        upcoming=[d for d in items if not d.past], past=[d for d in items if d.past], ues=ues,
        unknown_ues=[c for c in learner.ues if c not in by_code],
        feed=feed, webcal=webcal(feed),
        google="https://calendar.google.com/calendar/r?cid=" + quote(webcal(feed), safe=""),
        outlook="https://outlook.live.com/calendar/0/addfromweb?" + urlencode({"url": feed, "name": cal_name}),
        qr=Markup(qr_svg(page_url)),  # qrcode's own SVG document, inserted as markup
        preference=mail_preference(store, learner.id) or "each", policy_time=policy_time, saved=saved,
        csrf_mail=csrf_token(store, token, "mail"), csrf_link=csrf_token(store, token, "new-link"),
        mail_action=f"/me/{token}/mail", link_action=f"/me/{token}/new-link",
    )


async def read_form(request: Request) -> dict[str, str] | None:
    """Return the urlencoded body of a POST as a dict (first value of each name), or None when unreadable."""
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                return None
    except ClientDisconnect:
        return None
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=20, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def learner_routes(store: Store | None, centres: Callable[[], dict[str, Centre]],
                   catalogue: Callable[[Centre], tuple[UE, ...]], clock: Callable[[], datetime], base_url: str,
                   not_found: Callable[[], Response], bad_request: Callable[[str], Response]) -> list[Route]:
    """Return the routes of the learner's page and of the unsubscribe endpoints."""
    keys = LearnerKeys(store) if store is not None else None

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        assert store is not None
        return fn(*args) if store.local else await run_in_threadpool(fn, *args)

    async def found_by_token(request: Request) -> tuple[Learner, Centre] | None:
        if store is None:
            return None
        found = await call(store.feed_learner, request.path_params["token"])
        centre = centres().get(found[0].centre) if found is not None else None
        return None if found is None or centre is None else (found[0], centre)

    async def me(request: Request) -> Response:
        found = await found_by_token(request)
        if found is None:
            return not_found()
        assert store is not None
        learner, centre = found
        html = await run_in_threadpool(render_learner_page, store, learner, centre, catalogue(centre),
                                       request.path_params["token"], base_url, clock(),
                                       request.query_params.get("saved") == "1")
        return private_page(html)

    async def checked_form(request: Request, action: str) -> tuple[Learner, dict[str, str]] | Response:
        found = await found_by_token(request)
        if found is None:
            return not_found()
        assert store is not None
        learner = found[0]
        form = await read_form(request)
        if form is None:
            return bad_request("formulaire illisible ; attendu : application/x-www-form-urlencoded, en UTF-8, "
                               f"{MAX_FORM} octets au plus")
        expected = csrf_token(store, request.path_params["token"], action)
        if not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode()):
            return refused(_lang(learner))
        return learner, form

    async def set_mail(request: Request) -> Response:
        checked = await checked_form(request, "mail")
        if isinstance(checked, Response):
            return checked
        learner, form = checked
        choice = form.get("preference", "")
        if choice not in MAIL_PREFERENCES:
            return bad_request(f"preference={choice[:40]!r} ; attendu : " + ", ".join(MAIL_PREFERENCES))
        await call(set_mail_preference, store, learner.id, choice)
        return RedirectResponse(f"/me/{request.path_params['token']}?saved=1#mail", status_code=303,
                                headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})

    async def new_link(request: Request) -> Response:
        checked = await checked_form(request, "new-link")
        if isinstance(checked, Response):
            return checked
        assert store is not None
        token = await call(store.issue_token, checked[0].id)
        return RedirectResponse(f"/me/{token}", status_code=303,
                                headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})

    async def found_by_key(request: Request) -> tuple[str, Learner] | None:
        if store is None or keys is None:
            return None
        # in the thread pool even on SQLite: the first lookup after an import computes every key (0.5 s per 100,000)
        learner_id = await run_in_threadpool(keys.learner_id, request.path_params["key"])
        learner = await call(store.get_learner, learner_id) if learner_id is not None else None
        return None if learner is None else (learner_id, learner)

    async def unsubscribe(request: Request) -> Response:
        found = await found_by_key(request)
        if found is None:
            return not_found()
        learner_id, learner = found
        lang = _lang(learner)
        done = False
        if request.method == "POST":
            form = await read_form(request)
            if form is None or form.get(ONE_CLICK[0]) != ONE_CLICK[1]:
                return bad_request("attendu : le corps List-Unsubscribe=One-Click (RFC 8058)")
            await call(set_opt_out, store, learner_id, True)
            done = True
        opted_out = done or (await call(mail_preference, store, learner_id)) == "none"
        html = render(environment("cnam_calendar.web", lang), "unsubscribe.html.j2", lang=lang, done=done,
                      opted_out=opted_out, action=f"/unsubscribe/{request.path_params['key']}",
                      field=ONE_CLICK[0], value=ONE_CLICK[1])
        return private_page(html)

    return [
        Route("/me/{token}", me, methods=["GET", "HEAD"]),
        Route("/me/{token}/mail", set_mail, methods=["POST"]),
        Route("/me/{token}/new-link", new_link, methods=["POST"]),
        Route("/unsubscribe/{key}", unsubscribe, methods=["GET", "HEAD", "POST"]),
    ]
