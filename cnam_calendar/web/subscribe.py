"""The subscription page: pick a centre, a year and UEs, get the links, a QR code and how-tos.

In French or in English: ``?lang=en`` (or ``fr``) chooses, else the browser's Accept-Language
(English only when it weighs English above French), else French. Every text is in the catalogues
(``locale/*/LC_MESSAGES/messages.po``); the French page gets its non-breaking spaces from the ``typo``
filter (templating.py).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import date, time, timedelta
from urllib.parse import quote, urlsplit

from markupsafe import Markup

from cnam_calendar import messages
from cnam_calendar.rules.model import UE, Centre
from cnam_calendar.templating import environment, render
from cnam_calendar.text.explain import MODALITIES_EN, SEMESTER_LABELS
from cnam_calendar.text.i18n import LANGS, day_name

KEPT_MAX = 40  # ticked codes of another centre carried along the form, at most
_CODE = re.compile(r"[A-Z0-9_-]{1,20}")
_MONDAY = date(2024, 1, 1)


def page_lang(asked: str | None, accept_language: Mapping[str, float]) -> str | None:
    """Return the page's language: ``asked`` (``?lang=``) when given (None when it is not fr or en),
    else English when Accept-Language weighs it above French, else French."""
    if asked is not None:
        return asked if asked in LANGS else None
    best = {"fr": 0.0, "en": 0.0}
    for tag, q in accept_language.items():
        primary = tag.split("-", 1)[0]
        if primary in best:
            best[primary] = max(best[primary], q)
    return "en" if best["en"] > best["fr"] else "fr"


def kept_codes(wanted: Sequence[str], catalogue: Sequence[UE]) -> list[str]:
    """The ticked codes the centre does not offer, kept (as hidden fields) for when the learner goes back."""
    offered = {u.code for u in catalogue}
    codes = dict.fromkeys(c.strip().upper() for c in wanted)
    return [c for c in codes if _CODE.fullmatch(c) and c not in offered][:KEPT_MAX]


def qr_svg(text: str) -> str:
    """Return an inline SVG QR code of ``text``."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg"):]


def webcal(url: str) -> str:
    """Return the webcal:// twin of an http(s) URL."""
    return "webcal://" + url.split("://", 1)[1]


def _clock(t: time, lang: str) -> str:
    return f"{t.hour} h {t.minute:02d}" if lang == "fr" else f"{t:%H:%M}"


def ue_facts(ue: UE, sites: Mapping[str, str], lang: str) -> list[str]:
    """What the list says of a UE besides its code and title: semester, modality, site, day and time, ECTS."""
    semester = SEMESTER_LABELS.get(ue.semester, (ue.semester, ue.semester))[lang == "en"]
    modality = MODALITIES_EN.get(ue.modality, ue.modality) if lang == "en" else ue.modality
    facts = [semester, modality]
    facts.append(sites.get(ue.site, ue.site) if ue.site else messages.gettext(lang, "à distance"))
    if ue.weekday is not None and ue.start is not None and ue.end is not None:
        day = day_name(_MONDAY + timedelta(days=ue.weekday), lang)
        facts.append(messages.gettext(lang, "le %(day)s de %(start)s à %(end)s", day=day,
                                      start=_clock(ue.start, lang), end=_clock(ue.end, lang)))
    else:
        facts.append(messages.gettext(lang, "sans séance à heure fixe"))
    facts.append(f"{messages.decimal(ue.ects, lang)} ECTS")
    return facts


def render_page(centres: Sequence[Centre], years: Sequence[int], centre: Centre | None, year: int,
                catalogue: Sequence[UE], chosen: Sequence[UE], link: str | None, lang: str = "fr",
                kept: Sequence[str] = ()) -> str:
    """Render the subscription page in ``lang``: templates/subscribe.html.j2."""
    context: dict[str, object] = {"qr": "", "webcal": "", "google": "", "scheme": ""}
    if link:
        wc = webcal(link)
        # the QR code is qrcode's own SVG document, inserted as markup
        context = {"qr": Markup(qr_svg(link)), "webcal": wc, "scheme": urlsplit(link).scheme,
                   "google": "https://calendar.google.com/calendar/render?cid=" + quote(wc, safe="")}
    kept_note = messages.ngettext(
        lang, "UE cochée ailleurs, non proposée par ce centre, gardée si vous revenez à votre centre précédent : "
        "%(codes)s.", "UE cochées ailleurs, non proposées par ce centre, gardées si vous revenez à votre centre "
        "précédent : %(codes)s.", len(kept), codes=", ".join(kept))
    sites = {s.id: s.name for s in centre.sites} if centre else {}
    rows = [(u, ue_facts(u, sites, lang)) for u in catalogue]
    return render(environment("cnam_calendar.web", lang), "subscribe.html.j2", centres=centres, years=years,
                  centre=centre, year=year, rows=rows, chosen=chosen, picked={u.code for u in chosen}, link=link,
                  lang=lang, other_lang="en" if lang == "fr" else "fr", kept=kept, kept_note=kept_note, **context)
