"""Changes from the staff console over real HTTP: form, preview with learner counts, publish, conflicts.

A copy of the shipped calendars/ is served (the console rewrites it) by the app under uvicorn with a
clock; the store is made by `init`, the learners by `learners import`, the output by `build`, as an
operator would. After publishing, `reminders plan` (what the daemon runs) queues the change notices.
"""

from __future__ import annotations

import difflib
import html
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest

from cnam_calendar.store import audit
from cnam_calendar.store import staff as staff_store
from cnam_calendar.store.database import Store, open_store
from cnam_calendar.store.delivery import list_deliveries
from tests.conftest import CALENDARS
from tests.support.app_server import Travel, app_server

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 9, 15, 10, 0, tzinfo=PARIS)  # September: the year has begun, its semesters not yet
PASSWORD = "une phrase de passe assez longue"
HEADER = "id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,training_start,lang\n"
ROSTER = HEADER + "".join((
    "L1,camille@example.org,Camille,Martin,ipst-cnam,31,individuel,NFA031;NFA035,,,,fr\n",
    "L2,jules@example.org,Jules,Bernard,ipst-cnam,81,cpf,NFA032,2026-06-01,2026-06-03,,fr\n",
    "L3,lea@example.org,Léa,Petit,ipst-cnam,31,individuel,NFA031,,,,en\n",
))


@pytest.fixture
def site(run_cli, tmp_path: Path) -> Iterator[tuple[str, Path, Store]]:
    calendars, out, db = tmp_path / "calendars", tmp_path / "output", tmp_path / "cnam.db"
    shutil.copytree(CALENDARS, calendars)
    env = {"CNAM_CALENDAR_DB": str(db)}
    for args in (("init",), ("learners", "import", str(tmp_path / "roster.csv"), "--quiet"),
                 ("build", "--year", "2026", "--out", str(out)), ("reminders", "plan")):
        if args[0] == "learners":
            (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
        done = run_cli("--calendars", str(calendars), *args, clock=NOW, env=env)
        assert done.exit_code == 0, done.output
    store = open_store(f"sqlite:///{db}", clock=lambda: NOW)
    for email, role in (("editrice@example.org", "editor"), ("autre@example.org", "editor"),
                        ("lecteur@example.org", "viewer")):
        staff_store.add(store, email, "ipst-cnam", role, staff_store.hash_password(PASSWORD))
    with app_server(calendars, out, Travel(NOW), store) as base:
        yield base, tmp_path, store
    store.close()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def plain(page: str) -> str:
    """Return a page's text with HTML's apostrophes and French typography's spaces made plain."""
    for escaped, text in (("&#39;", "'"), ("&#x27;", "'"), ("&quot;", '"'), ("\u202f", " "), ("\xa0", " ")):
        page = page.replace(escaped, text)
    return page


def hidden(page: str, form_id: str) -> dict[str, str]:
    form = page[page.index(f'id="{form_id}"'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


@contextmanager
def signed_in(base: str, email: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=60) as c:
        form = c.get("/admin/connexion")
        r = c.post("/admin/connexion", data={"csrf": csrf_of(form.text), "email": email, "password": PASSWORD,
                                             "suite": "/admin"})
        assert r.status_code == 303, r.text
        yield c


def pin_form(c: httpx.Client, fresh: bool = True) -> dict[str, str]:
    page = c.get("/admin/ipst-cnam/2026/modifier", params={"quoi": "date", "id": "semester-1"})
    assert page.status_code == 200, page.text
    if fresh:  # the form starts from what the rule gives
        assert 'value="2026-10-12"' in page.text and 'value="2027-01-16"' in page.text
    return {**hidden(page.text, "edit"), "event": "semester-1", "start": "2026-10-05", "end": "2027-01-09",
            "reason": "rentrée avancée, vote du conseil du 12 mai"}


def preview_of(c: httpx.Client, fields: dict[str, str]) -> httpx.Response:
    return c.post("/admin/ipst-cnam/2026/apercu", data=fields)


def moved(page: str) -> dict[str, int]:
    """Return event id → learners concerned, for each change listed in a preview."""
    return {m[0]: int(m[1]) for m in re.findall(
        r'<li class="change moved" data-event="([^"]+)">.*?data-learners="(\d+)"', page, re.S)}


def calendar_days(out: Path) -> dict[str, str]:
    cal = icalendar.Calendar.from_ical((out / "ipst-cnam" / "2026" / "calendar.ics").read_bytes())
    return {str(e["UID"]).split(".")[0]: e.decoded("DTSTART").isoformat() for e in cal.walk("VEVENT")}


def test_an_editor_pins_semester_1_a_week_earlier_and_the_year_follows(site, run_cli) -> None:
    base, root, store = site
    rules = root / "calendars" / "ipst-cnam.toml"
    before_text = rules.read_text(encoding="utf-8")
    before_days = calendar_days(root / "output")
    with signed_in(base, "editrice@example.org") as c:
        fields = pin_form(c)
        page = preview_of(c, fields)
        assert page.status_code == 200, page.text
        found = moved(page.text)
        for event in ("semester-1", "exam-winter", "registration-close-s1", "cpf-latest-validation-s1"):
            assert event in found, (event, found)
        assert found["semester-1"] == 3 and found["registration-close-s1"] == 3
        assert found["cpf-latest-validation-s1"] == 1  # CPF deadlines concern the CPF learner only
        assert "lundi 12 octobre 2026" in page.text and "lundi 5 octobre 2026" in page.text
        assert 'overrides.semester-1 = { start = 2026-10-05, end = 2027-01-09' in page.text  # the file's new line
        assert rules.read_text(encoding="utf-8") == before_text  # a preview writes nothing
        correct = html.unescape(re.search(r'href="([^"]+)" id="correct"', page.text)[1])
        again = c.get(correct)  # « Corriger » brings the form back with what was typed
        assert again.status_code == 200 and 'value="2026-10-05"' in again.text and "vote du conseil" in again.text
        publish = c.post("/admin/ipst-cnam/2026/publier", data=hidden(page.text, "publish"))
        assert publish.status_code == 303 and publish.headers["location"].startswith("/admin/ipst-cnam/2026?publie=1")
        year = c.get(publish.headers["location"])
        assert 'id="published"' in year.text and 'data-event="semester-1"' in year.text
    after_text = rules.read_text(encoding="utf-8")
    changed = [line for line in difflib.unified_diff(before_text.splitlines(), after_text.splitlines(), n=0, lineterm="")
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ['+overrides.semester-1 = { start = 2026-10-05, end = 2027-01-09, '
                       'reason = "rentrée avancée, vote du conseil du 12 mai" }']
    after_days = calendar_days(root / "output")
    assert after_days["semester-1"] == "2026-10-05" != before_days["semester-1"]
    assert after_days["exam-winter"] == "2027-01-11"
    assert after_days["registration-close-s1"] == "2026-10-04"
    assert after_days["cpf-latest-validation-s1"] < before_days["cpf-latest-validation-s1"]
    journal = audit.entries(store, 5, centres=["ipst-cnam"])
    assert journal[0].action == "edit" and journal[0].who == "editrice@example.org"
    assert "ipst-cnam.toml" in journal[0].file and "2026-10-05" in (journal[0].after or "")
    # what the daemon runs: the notices follow the published dates, held back
    planned = run_cli("--calendars", str(root / "calendars"), "reminders", "plan", clock=NOW,
                      env={"CNAM_CALENDAR_DB": str(root / "cnam.db")})
    assert planned.exit_code == 0, planned.output
    notices = [d for d in list_deliveries(store) if d.key.startswith("notice/")]
    assert {d.key.split("/")[1] for d in notices} == {"L1", "L2", "L3"}
    for notice in notices:  # each says what the rebuilt calendar.ics says, after the hold-back window
        assert notice.due_at.astimezone(PARIS) >= NOW + timedelta(minutes=30)
        told = {c["uid"].split(".")[0]: c for c in notice.payload["changes"]}
        for event in ("semester-1", "registration-close-s1"):
            assert told[event]["change"] == "moved" and told[event]["new"][0] == after_days[event], told[event]


def test_two_editors_publishing_at_once_one_wins_the_other_is_told_to_reload(site) -> None:
    base, root, _ = site
    rules = root / "calendars" / "ipst-cnam.toml"
    with signed_in(base, "editrice@example.org") as a, signed_in(base, "autre@example.org") as b:
        forms = []
        for c, start in ((a, "2026-10-05"), (b, "2026-10-19")):
            fields = {**pin_form(c), "start": start}
            page = preview_of(c, fields)
            assert page.status_code == 200, page.text
            forms.append((c, hidden(page.text, "publish")))
        answers: list[int] = []
        gate = threading.Barrier(2)

        def go(c: httpx.Client, data: dict[str, str]) -> None:
            gate.wait()
            answers.append(c.post("/admin/ipst-cnam/2026/publier", data=data).status_code)

        threads = [threading.Thread(target=go, args=f) for f in forms]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers) == [303, 409]
    text = rules.read_text(encoding="utf-8")
    assert text.count("overrides.semester-1") == 1
    with signed_in(base, "autre@example.org") as b:
        stale = {**hidden(preview_of(b, {**pin_form(b, fresh=False), "start": "2026-10-19"}).text, "publish")}
        rules.write_text(text + "# une ligne ajoutée à la main\n", encoding="utf-8")  # someone edits by hand
        r = b.post("/admin/ipst-cnam/2026/publier", data=stale)
        assert r.status_code == 409
        assert "a changé depuis l'ouverture de la page" in plain(r.text) and "rechargez la page" in plain(r.text)
        assert rules.read_text(encoding="utf-8").endswith("# une ligne ajoutée à la main\n")  # never overwritten


def test_a_viewer_sees_but_cannot_change_and_a_form_without_csrf_is_refused(site) -> None:
    base, root, _ = site
    rules = root / "calendars" / "ipst-cnam.toml"
    text = rules.read_text(encoding="utf-8")
    with signed_in(base, "lecteur@example.org") as v:
        year = v.get("/admin/ipst-cnam/2026")
        assert year.status_code == 200 and 'id="editor-tools"' not in year.text and "/modifier" not in year.text
        assert v.get("/admin/ipst-cnam/2026/modifier").status_code == 403
        r = v.post("/admin/ipst-cnam/2026/publier", data={"csrf": csrf_of(year.text), "quoi": "date",
                                                           "event": "semester-1", "start": "2026-10-05"})
        assert r.status_code == 403 and "lecteur" in r.text
    with signed_in(base, "editrice@example.org") as c:
        fields = pin_form(c)
        fields.pop("csrf")
        assert preview_of(c, fields).status_code == 403
        assert c.post("/admin/ipst-cnam/2026/publier", data=fields).status_code == 403
    with httpx.Client(base_url=base) as anonymous:
        r = anonymous.post("/admin/ipst-cnam/2026/publier", data={"quoi": "date"})
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/connexion")
    assert rules.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(("change", "expected"), [
    ({"start": "2026-10-05", "end": "2026-09-01"}, "« semester-1 » finit (2026-09-01) avant de commencer (2026-10-05)"),
    ({"start": "2025-10-05"}, "date 2025-10-05 hors de l'année"),
    ({"start": "pas une date"}, "n'est pas une date ; attendu : AAAA-MM-JJ"),
    ({"reason": "  "}, "years.2026.overrides.semester-1.reason : motif manquant (attendu : reason = \"…\" "
                       "(le centre exige le motif de chaque date fixée : [rules] require_override_reason))"),
])
def test_bad_input_comes_back_in_the_form_with_checks_messages_and_changes_nothing(site, run_cli, change,
                                                                                   expected) -> None:
    base, root, _ = site
    rules = root / "calendars" / "ipst-cnam.toml"
    text = rules.read_text(encoding="utf-8")
    output = (root / "output" / "ipst-cnam" / "2026" / "calendar.ics").read_bytes()
    with signed_in(base, "editrice@example.org") as c:
        fields = {**pin_form(c), **change}
        for step in ("apercu", "publier"):
            r = c.post(f"/admin/ipst-cnam/2026/{step}", data=fields)
            assert r.status_code == 422, r.text
            assert 'id="form-problems"' in r.text and expected in plain(r.text), r.text
            assert 'name="start"' in r.text  # the form again, with what was typed
            assert str(root) not in plain(r.text)  # files named calendars/…, not by the server's own path
    assert rules.read_text(encoding="utf-8") == text
    assert (root / "output" / "ipst-cnam" / "2026" / "calendar.ics").read_bytes() == output


def test_closures_and_ue_rows_are_edited_with_comments_kept(site) -> None:
    base, root, _ = site
    rules, catalogue = root / "calendars" / "ipst-cnam.toml", root / "calendars" / "ipst-cnam.ues.csv"
    with signed_in(base, "editrice@example.org") as c:
        page = c.get("/admin/ipst-cnam/2026/modifier", params={"quoi": "fermeture"})
        fields = {**hidden(page.text, "edit"), "id": "pont-11-novembre", "label": "Pont du 11 novembre",
                  "start": "2026-11-12", "end": "2026-11-14"}
        preview = preview_of(c, fields)
        assert preview.status_code == 200, preview.text
        assert c.post("/admin/ipst-cnam/2026/publier", data=hidden(preview.text, "publish")).status_code == 303
        text = rules.read_text(encoding="utf-8")
        assert 'id = "pont-11-novembre"' in text and "# How staff pin an exact date" in text
        year = c.get("/admin/ipst-cnam/2026")
        assert 'data-closure="pont-11-novembre"' in year.text
        page = c.get("/admin/ipst-cnam/2026/modifier", params={"quoi": "ue", "code": "NFA031"})
        assert 'value="T-204"' in page.text
        fields = {**hidden(page.text, "edit"), **{k: v for k, v in re.findall(
            r'<input type="text" id="ue-[a-z]+" name="([a-z]+)" value="([^"]*)"', page.text)}, "room": "T-301"}
        preview = preview_of(c, fields)
        assert preview.status_code == 200, preview.text
        assert "-NFA031,Programmation avec Java : notions de base,6,S1,cours du soir,toulouse,mardi,17:45,21:30,T-204" \
            in preview.text
        before = catalogue.read_text(encoding="utf-8").splitlines()
        assert c.post("/admin/ipst-cnam/2026/publier", data=hidden(preview.text, "publish")).status_code == 303
        after = catalogue.read_text(encoding="utf-8").splitlines()
        assert [(a, b) for a, b in zip(before, after, strict=True) if a != b] == [
            (before[1], before[1].replace("T-204", "T-301"))]


def test_check_says_of_a_pin_without_reason_what_the_form_says(run_cli, tmp_path: Path) -> None:
    calendars = tmp_path / "calendars"
    shutil.copytree(CALENDARS, calendars)
    rules = calendars / "ipst-cnam.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        '[years.2027]', 'overrides."semester-1" = { start = 2026-10-05, end = 2027-01-09 }\n\n[years.2027]'),
        encoding="utf-8")
    done = run_cli("--calendars", str(calendars), "check", clock=NOW)
    assert done.exit_code == 1  # check: 1 when the files have problems
    assert "years.2026.overrides.semester-1.reason : motif manquant" in plain(done.output), done.output
