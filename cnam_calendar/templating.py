"""Jinja2 environments for the HTML the project writes: pages (web/) and e-mails (mail/).

Autoescaping on, undefined names an error, templates read as package data. Markupsafe spells an
escaped quote ``&#34;`` and an apostrophe ``&#39;``; the pages and e-mails have always spelt them
``&quot;`` and ``&#x27;`` (the same characters), and ``render`` keeps that spelling so the HTML of a
page or an e-mail stays byte for byte what it was.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

_SPELLING = (("&#34;", "&quot;"), ("&#39;", "&#x27;"))


def environment(package: str) -> Environment:
    """Return the environment of ``package``'s ``templates/`` folder."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(env: Environment, name: str, **context: Any) -> str:
    """Render template ``name`` of ``env`` with ``context``."""
    html = env.get_template(name).render(**context)
    for theirs, ours in _SPELLING:
        html = html.replace(theirs, ours)
    return html
