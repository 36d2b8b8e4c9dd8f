"""The subscription page: pick a centre, a year and UEs, get the links, a QR code and how-tos."""

from __future__ import annotations

import io
from collections.abc import Sequence
from urllib.parse import quote

from markupsafe import Markup

from cnam_calendar.rules.model import UE, Centre
from cnam_calendar.templating import environment, render

SEMESTER_NAMES = {"S1": "semestre 1", "S2": "semestre 2", "annual": "annuelle"}

HOWTO = (
    ("Google Agenda (ordinateur)",
     "Ouvrez calendar.google.com, « Autres agendas » → « + » → « À partir de l'URL », collez le lien https, "
     "puis « Ajouter l'agenda ». Google met à jour l'abonnement toutes les 12 à 24 heures ; il apparaît "
     "ensuite sur votre téléphone."),
    ("iPhone, iPad",
     "Touchez le lien webcal ou scannez le QR code, puis « S'abonner ». Ou : Réglages → Calendrier → Comptes → "
     "Ajouter un compte → Autre → « Ajouter un calendrier avec abonnement »."),
    ("Mac (Calendrier)", "Fichier → « Nouvel abonnement à un calendrier… », collez le lien, choisissez "
     "l'actualisation « toutes les heures »."),
    ("Outlook", "Calendrier → « Ajouter un calendrier » → « S'abonner à partir du web », collez le lien https."),
    ("Android", "Ajoutez le lien dans Google Agenda depuis un ordinateur (ci-dessus), ou utilisez ICSx⁵."),
    ("Thunderbird", "Agenda → « Nouvel agenda » → « Sur le réseau », collez le lien https."),
)
_TEMPLATES = environment("cnam_calendar.web")


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


def render_page(centres: Sequence[Centre], years: Sequence[int], centre: Centre | None, year: int,
                catalogue: Sequence[UE], chosen: Sequence[UE], link: str | None) -> str:
    """Render the subscription page (French): templates/subscribe.html.j2."""
    context: dict[str, object] = {"qr": "", "webcal": "", "google": ""}
    if link:
        wc = webcal(link)
        # the QR code is qrcode's own SVG document, inserted as markup
        context = {"qr": Markup(qr_svg(link)), "webcal": wc,
                   "google": "https://calendar.google.com/calendar/render?cid=" + quote(wc, safe="")}
    return render(_TEMPLATES, "subscribe.html.j2", centres=centres, years=years, centre=centre, year=year,
                  catalogue=catalogue, chosen=chosen, picked={u.code for u in chosen}, link=link,
                  semester_names=SEMESTER_NAMES, howto=HOWTO, **context)
