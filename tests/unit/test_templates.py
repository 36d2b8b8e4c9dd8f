"""The HTML the project writes comes from Jinja2 templates shipped with the package, never from Python strings."""

from __future__ import annotations

import ast
import fnmatch
import re
import tomllib
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from cnam_calendar import templating

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cnam_calendar"
RENDERERS = ("web/overview.py", "web/subscribe.py", "web/learner.py", "mail/compose.py", "mail/letters.py", "web/admin.py")
HTML_TAG = re.compile(r"<(?:!DOCTYPE|html|head|body|p|div|span|li|ul|ol|td|tr|th|table|section|h[1-6]|a|b|small|"
                      r"strong|label|input|option|select|form|button|footer|header|aside|style|script)[\s>]", re.I)


def test_every_template_and_catalogue_is_package_data() -> None:
    """A plain `pip install .` (not editable) carries them: pyproject.toml lists each as package data."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    files = [p for p in PACKAGE.glob("*/templates/*") if p.is_file()]
    assert {p.parent.parent.name for p in files} == {"web", "mail"}
    for path in files:
        package = "cnam_calendar." + path.parent.parent.name
        relative = path.relative_to(path.parent.parent).as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs.get(package, [])), relative
    catalogues = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.glob("locale/*/LC_MESSAGES/*.po")]
    by_lang = {lang: sorted(Path(c).name for c in catalogues if c.startswith(f"locale/{lang}/")) for lang in ("fr", "en")}
    assert "messages.po" in by_lang["fr"] and by_lang["fr"] == by_lang["en"] and len(catalogues) == 2 * len(by_lang["fr"])
    for relative in catalogues:
        assert any(fnmatch.fnmatch(relative, g) for g in globs["cnam_calendar"]), relative


@pytest.mark.parametrize("module", RENDERERS)
def test_renderers_write_no_html_and_escape_nothing_by_hand(module: str) -> None:
    source = (PACKAGE / module).read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "html" not in imported
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert [s for s in strings if HTML_TAG.search(s)] == []


def test_environments_escape_and_refuse_unknown_names() -> None:
    env = templating.environment("cnam_calendar.web")
    page = env.from_string("<p title=\"{{ x }}\">{{ x }}</p>")
    assert page.render(x="<a href='y'>&\"") == (
        "<p title=\"&lt;a href=&#39;y&#39;&gt;&amp;&#34;\">&lt;a href=&#39;y&#39;&gt;&amp;&#34;</p>")
    with pytest.raises(UndefinedError):
        page.render()


def test_render_keeps_the_entity_spelling_of_html_escape() -> None:
    import html

    env = templating.environment("cnam_calendar.mail")
    hostile = "<script>\"O'Neil\" & co</script>"
    out = templating.render(env, "reminder.html.j2", lang="fr", t={
        "lead": hostile, "hello": hostile, "todo_head": "h", "todo": "t", "steps": [hostile], "why_head": "w",
        "source": "", "source_label": "", "colon": " :", "contact": [], "contact_head": "", "faq": "",
        "faq_label": "", "stop": "s", "title": hostile, "title_event": hostile, "hero_date": "d", "hero_left": "l",
        "contact_name": "", "contact_email": "", "contact_phone": "", "page_link": "", "page_label": "",
        "faq_link": ""})
    assert f"<p>{html.escape(hostile)}</p>" in out and f"<li>{html.escape(hostile)}</li>" in out
