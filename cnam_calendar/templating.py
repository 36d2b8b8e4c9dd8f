"""Jinja2 environments for the HTML the project writes: pages (web/) and e-mails (mail/).

Autoescaping on, undefined names an error, templates read as package data, one environment per
language with its gettext catalogue (``messages``). Markupsafe spells an
escaped quote ``&#34;`` and an apostrophe ``&#39;``; the pages and e-mails have always spelt them
``&quot;`` and ``&#x27;`` (the same characters), and ``render`` keeps that spelling so the HTML of a
page or an e-mail stays byte for byte what it was.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from cnam_calendar import messages

_SPELLING = (("&#34;", "&quot;"), ("&#39;", "&#x27;"))


@cache
def environment(package: str, lang: str = "fr") -> Environment:
    """Return the environment of ``package``'s ``templates/`` folder in ``lang``.

    ``_()`` and ``ngettext()`` read the catalogues (``messages``); ``decimal`` writes a number as
    ``lang`` does.
    """
    env = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(messages.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["decimal"] = lambda number: messages.decimal(number, lang)
    env.filters["typo"] = french_spacing if lang == "fr" else (lambda text: text)
    return env


# French typography: a narrow no-break space before ; ! ? and a no-break space before : and inside « »
_BEFORE = re.compile(r" ([;!?])| (:)(?=\s)| (»)|(«) ")


def french_spacing(text: str) -> Markup:
    """Put the no-break spaces of French typography in already-escaped ``text`` (a page's HTML)."""
    def space(m: re.Match[str]) -> str:
        if m[1]:
            return "\u202f" + m[1]
        if m[2]:
            return "\u00a0:"
        return "\u00a0»" if m[3] else "«\u00a0"

    return Markup(_BEFORE.sub(space, str(text)))


def render(env: Environment, name: str, **context: Any) -> str:
    """Render template ``name`` of ``env`` with ``context``."""
    html = env.get_template(name).render(**context)
    for theirs, ours in _SPELLING:
        html = html.replace(theirs, ours)
    return html
