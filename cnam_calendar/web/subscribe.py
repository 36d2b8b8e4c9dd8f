"""The subscription page: pick a centre, a year and UEs, get the links, a QR code and how-tos."""

from __future__ import annotations

import io
from collections.abc import Sequence
from html import escape
from urllib.parse import quote

from cnam_calendar.rules.model import UE, Centre

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

STYLE = """
:root{--ink:#1d2433;--muted:#5b6475;--brand:#c1002a;--line:#d9dde5;--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--bg)}main{max-width:52rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}h1 span{color:var(--brand)}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
form,.card{background:#fff;border:1px solid var(--line);border-radius:.75rem;padding:1rem;margin-bottom:1rem}
label{font-weight:600;display:block;margin:.5rem 0 .25rem}select,input[type=search],input[type=text]{width:100%;
font:inherit;padding:.55rem;border:1px solid var(--line);border-radius:.5rem;background:#fff}
.ues{max-height:22rem;overflow:auto;border:1px solid var(--line);border-radius:.5rem;margin-top:.5rem}
.ue{display:flex;gap:.6rem;align-items:flex-start;padding:.45rem .6rem;border-bottom:1px solid var(--line);
font-weight:400;margin:0}.ue:last-child{border-bottom:0}.ue small{color:var(--muted);display:block}
button,.button{display:inline-block;font:inherit;font-weight:600;background:var(--brand);color:#fff;border:0;
border-radius:.5rem;padding:.6rem 1rem;margin-top:.75rem;text-decoration:none;cursor:pointer}
.button.alt{background:#fff;color:var(--brand);border:1px solid var(--brand)}
.links{display:grid;gap:.5rem}.qr{float:right;width:9rem;margin:0 0 .5rem 1rem}.qr svg{width:100%;height:auto}
.note{color:var(--muted);font-size:.9rem}dt{font-weight:600;margin-top:.6rem}dd{margin:0}
@media (max-width:40rem){.qr{float:none;display:block;margin:0 auto 1rem}}
"""

SCRIPT = """
document.querySelectorAll('[data-filter]').forEach(function(input){
  input.addEventListener('input',function(){var q=input.value.toLowerCase();
    document.querySelectorAll('.ue').forEach(function(row){
      row.style.display=row.textContent.toLowerCase().indexOf(q)<0?'none':'';});});});
document.querySelectorAll('[data-copy]').forEach(function(b){b.addEventListener('click',function(){
  var f=document.getElementById(b.dataset.copy);f.select();
  if(navigator.clipboard){navigator.clipboard.writeText(f.value);}b.textContent='Copié';});});
"""


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
    """Render the subscription page (French)."""
    e = escape
    options = "".join(
        f'<option value="{e(c.id)}"{" selected" if centre and c.id == centre.id else ""}>{e(c.name)}</option>'
        for c in centres)
    year_options = "".join(
        f'<option value="{y}"{" selected" if y == year else ""}>{y}-{y + 1}</option>' for y in years)
    picked = {u.code for u in chosen}
    rows = "".join(
        f'<label class="ue"><input type="checkbox" name="ue" value="{e(u.code)}"'
        f'{" checked" if u.code in picked else ""}><span><b>{e(u.code)}</b> — {e(u.title)}'
        f'<small>{e(SEMESTER_NAMES.get(u.semester, u.semester))} · {e(u.modality)} · {u.ects:g} ECTS</small>'
        "</span></label>" for u in catalogue)
    ue_block = (
        '<label for="filter">Vos UE</label>'
        '<input type="search" id="filter" data-filter placeholder="Rechercher une UE (code ou intitulé)">'
        f'<div class="ues" id="ue-list">{rows}</div>' if centre else
        '<p class="note">Choisissez votre centre, puis « Continuer » pour voir ses UE.</p>')
    result = ""
    if link:
        wc = webcal(link)
        google = "https://calendar.google.com/calendar/render?cid=" + quote(wc, safe="")
        howto = "".join(f"<dt>{e(app)}</dt><dd>{e(text)}</dd>" for app, text in HOWTO)
        names = ", ".join(u.code for u in chosen) or "aucune UE (événements du centre seulement)"
        result = f"""
<section class="card" id="result"><h2>Votre lien d'abonnement</h2>
<div class="qr" role="img" aria-label="QR code du lien">{qr_svg(link)}</div>
<p>Calendrier {e(centre.name if centre else "")}, {year}-{year + 1} : semestres, examens, jours fériés, fermetures,
échéances{", et vos UE : " + e(names) if chosen else ""}.</p>
<div class="links"><label for="feed-url">Lien https (Google, Outlook, Thunderbird)</label>
<input type="text" id="feed-url" readonly value="{e(link)}">
<button type="button" data-copy="feed-url">Copier le lien</button>
<a class="button" id="webcal-url" href="{e(wc)}">S'abonner (iPhone, Mac, Outlook)</a>
<a class="button alt" id="google-url" href="{e(google)}" rel="noopener noreferrer">Ajouter à Google Agenda</a></div>
<p class="note">Les applications relisent le calendrier toutes les quelques heures (Google : 12 à 24 h). Les rappels
d'échéances personnelles sont envoyés par e-mail.</p>
<h2>Mode d'emploi</h2><dl>{howto}</dl></section>"""
    return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>S'abonner au calendrier du Cnam</title>
<style>{STYLE}</style></head><body><main>
<h1><span>Cnam</span> · S'abonner au calendrier de l'année</h1>
<form method="get" action="/" id="subscribe">
<label for="centre">Votre centre</label><select id="centre" name="centre">
<option value="">— choisir —</option>{options}</select>
<label for="year">Année universitaire</label><select id="year" name="year">{year_options}</select>
{ue_block}
<button type="submit" id="go">{"Obtenir mon lien" if centre else "Continuer"}</button></form>
{result}</main><script>{SCRIPT}</script></body></html>"""
