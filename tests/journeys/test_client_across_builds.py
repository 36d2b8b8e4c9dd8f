"""Journey: a real syncing client (vdirsyncer + khal) kept across two versions of a personal feed.

Camille (Ipst-Cnam, 2026-2027) subscribes to her personal feed with NFA031 (S1, Tuesdays) and NFA035
(annual, FOAD). Then, on the server side: the add/drop deadline moves from Sunday 28 to Friday
26 February 2027 (an override in the centre file), the year-end closure (19 Dec 2026 – 3 Jan 2027)
is cancelled, and she drops NFA035 in a re-imported roster. The same client syncs again: it must show
exactly what a client subscribing afresh shows, and that is the new state worked out by hand:
the deadline on the 26th, no closure, NFA031's classes of 22 and 29 December back, nothing of NFA035.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.conftest import FIXED_NOW
from tests.support import clients
from tests.support.server import running_server

HEADER = "id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,training_start,lang\n"
BEFORE = HEADER + "C1,camille@example.org,Camille,Martin,ipst-cnam,31,individuel,NFA031;NFA035,,,,fr\n"
AFTER = HEADER + "C1,camille@example.org,Camille,Martin,ipst-cnam,31,individuel,NFA031,,,,fr\n"
CLOSURE = 'closures = [{ id = "noel", start = 2026-12-19, end = 2027-01-03, label = "Fermeture de fin d\'année" }]'
MOVED = 'closures = []\noverrides."add-drop-close" = { date = 2027-02-26, reason = "le 28 février est un dimanche" }'
FIRST, LAST = date(2026, 9, 1), date(2027, 9, 30)
ADD_DROP = "Ajout ou suppression d'UE : fin du bulletin rectificatif"
CLOSURE_TITLE = "Fermeture de fin d'année"


def test_a_kept_client_shows_exactly_the_new_state(run_cli, calendars_copy, tmp_path: Path) -> None:
    clients.require_vdirsyncer_khal()
    calendars = calendars_copy()
    db = tmp_path / "cnam.db"
    env = {"CNAM_CALENDAR_DB": str(db)}
    roster = tmp_path / "learners.csv"

    def cli(*args: str):
        result = run_cli("--calendars", str(calendars), *args, clock=FIXED_NOW, env=env)
        assert result.exit_code == 0, result.output
        return result

    roster.write_text(BEFORE, encoding="utf-8")
    cli("learners", "import", str(roster), "--quiet")
    url = cli("learners", "issue-token", "C1", "--base-url", "http://feeds.test").stdout.strip()
    path = url.removeprefix("http://feeds.test")
    kept = tmp_path / "kept"
    with running_server(["--calendars", str(calendars)], cwd=tmp_path, env=env) as base:
        before = clients.vdirsyncer_khal({"camille": base + path}, kept, FIRST, LAST)["camille"]
        assert ("2027-02-28", "2027-02-28") in {(s.start, s.end) for s in before if s.summary == ADD_DROP}
        assert any(s.summary == CLOSURE_TITLE for s in before)
        assert any("NFA035" in s.summary for s in before)
        assert not [s for s in before if "NFA031" in s.summary and s.start.startswith("2026-12-22")]

        centre = calendars / "ipst-cnam.toml"
        text = centre.read_text(encoding="utf-8")
        assert CLOSURE in text
        centre.write_text(text.replace(CLOSURE, MOVED, 1), encoding="utf-8")
        roster.write_text(AFTER, encoding="utf-8")
        cli("learners", "import", str(roster), "--quiet")

        after = clients.vdirsyncer_khal({"camille": base + path}, kept, FIRST, LAST)["camille"]
        fresh = clients.vdirsyncer_khal({"camille": base + path}, tmp_path / "fresh", FIRST, LAST)["camille"]
    assert clients.counted(after) == clients.counted(fresh)
    assert {(s.start, s.end) for s in after if s.summary == ADD_DROP} == {("2027-02-26", "2027-02-26")}
    assert not [s for s in after if s.summary == CLOSURE_TITLE]
    assert not [s for s in after if "NFA035" in s.summary]
    classes = sorted(s.start for s in after if "NFA031" in s.summary and "T" in s.start)
    # S1 Tuesdays 13 Oct 2026 – 12 Jan 2027, none skipped now that the closure is gone: 14 classes
    assert len(classes) == 14 and classes[0] == "2026-10-13T17:45" and classes[-1] == "2027-01-12T17:45"
    assert "2026-12-22T17:45" in classes and "2026-12-29T17:45" in classes
