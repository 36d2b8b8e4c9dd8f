"""`cnam-calendar reminders …` end to end: plan (written once), preview one e-mail, status, opt-out."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from cnam_calendar.inputs.roster import COLUMNS
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import claim_due, list_deliveries, mark_sent

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)
UES_HEADER = "code,title,ects,semester,modality,site,weekday,start,end,room\n"
CATALOGUES = {
    "ipst-cnam": "NFA001,Algorithmique,6,S1,FOAD,,,,,\nNFA002,Programmation,6,S2,FOAD,,,,,\n",
    "cnam-occitanie": "UTC501,Mathématiques,4,S1,FOAD,,,,,\n",
}
ROSTER = [
    "A1,alice@example.org,Alice,Martin,ipst-cnam,31,cpf,NFA001,2026-11-02,2026-11-10,,fr",
    "B2,bob@example.org,Bob,Smith,cnam-occitanie,34,apprentissage,UTC501,,,2026-10-05,en",
]


def _n(count: int, singular: str, plural: str) -> str:
    """A count as the French CLI writes it: 0 and 1 take the singular."""
    return f"{count} {singular if count <= 1 else plural}"


class Env:
    def __init__(self, run_cli, calendars: Path, directory: Path) -> None:
        self.run_cli, self.calendars, self.dir = run_cli, calendars, directory
        self.db = directory / "reminders.db"

    def run(self, *args: str, clock: datetime = NOW):
        return self.run_cli("--calendars", str(self.calendars), *args, clock=clock,
                            env={"CNAM_CALENDAR_DB": str(self.db), "CNAM_CALENDAR_FROM": None})

    def store(self):
        return open_store(str(self.db))


@pytest.fixture
def env(run_cli, calendars_copy, tmp_path: Path) -> Env:
    calendars = calendars_copy()
    for centre, rows in CATALOGUES.items():
        (calendars / f"{centre}.ues.csv").write_text(UES_HEADER + rows, encoding="utf-8")
    e = Env(run_cli, calendars, tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(",".join(COLUMNS) + "\n" + "\n".join(ROSTER) + "\n", encoding="utf-8")
    r = e.run("learners", "import", str(roster), "-q")
    assert r.exit_code == 0, r.output
    return e


def test_plan_writes_once_and_lists_what_will_be_sent(env):
    r = env.run("reminders", "plan", "--year", "2026")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines and all("09:00 CE" in line for line in lines)
    assert any("A1  J-1  Confirmation CPF : date limite (2026-11-16)" in line for line in lines)
    assert any("B2  J-7  Contrat d'apprentissage" in line for line in lines)
    assert not any("cpf-latest" in line and "B2" in line for line in lines)  # B2 is not a CPF learner
    past = sum(1 for line in lines if line[:10] < "2026-11-01")  # reminders of deadlines already over
    written = len(lines) - past
    assert past and (f"{_n(len(lines), 'rappel prévu', 'rappels prévus')} ; base : {_n(written, 'ajouté', 'ajoutés')}, "
                     f"0 mis à jour, 0 réactivé, 0 annulé, 0 inchangé, {_n(past, 'déjà passé', 'déjà passés')}"
                     ) in r.stderr
    again = env.run("reminders", "plan", "--year", "2026")
    assert again.stdout == r.stdout
    assert f"0 ajouté, 0 mis à jour, 0 réactivé, 0 annulé, {_n(written, 'inchangé', 'inchangés')}" in again.stderr
    status = env.run("reminders", "status")
    assert status.exit_code == 0
    assert f"pending     {written:>8}" in status.stdout and "sent               0" in status.stdout


def test_plan_window_and_json(env):
    r = env.run("reminders", "plan", "--year", "2026", "--from", "2026-11-01", "--to", "2026-11-30",
                "--format", "json")
    assert r.exit_code == 0, r.stderr
    items = json.loads(r.stdout)
    assert items and all("2026-11-01" <= item["local_due"][:10] <= "2026-11-30" for item in items)
    cpf = next(i for i in items if i["event_id"] == "cpf-confirmation")
    assert cpf == {**cpf, "learner_id": "A1", "offset_days": 1, "date": "2026-11-16",
                   "local_due": "2026-11-15T09:00:00+01:00", "due_at": "2026-11-15T08:00:00+00:00",
                   "expires_at": "2026-11-16T23:00:00+00:00"}
    s = env.store()
    assert {d.key for d in list_deliveries(s)} == {i["key"] for i in items if i["expires_at"] > NOW.isoformat()}
    s.close()


def test_a_window_changes_nothing_outside_it(env):
    full = env.run("reminders", "plan", "--year", "2026")
    assert full.exit_code == 0, full.stderr
    s = env.store()
    before = {d.key: (d.status, d.due_at, d.payload) for d in list_deliveries(s)}
    s.close()
    # B2's apprenticeship contract ends 2027-01-05: its J-7 (29 December) is inside, its J-1 outside
    r = env.run("reminders", "plan", "--year", "2026", "--from", "2026-12-29", "--to", "2026-12-29")
    assert r.exit_code == 0, r.stderr
    listed = r.stdout.splitlines()
    assert listed and all(line.startswith("2026-12-29 09:00") for line in listed)
    assert any("B2  J-7  Contrat d'apprentissage" in line for line in listed)
    assert "0 annulé," in r.stderr and "0 ajouté, 0 mis à jour" in r.stderr
    s = env.store()
    after = {d.key: (d.status, d.due_at, d.payload) for d in list_deliveries(s)}
    s.close()
    assert after == before
    assert any("J-1/2027-01-05" in k and v[0] == "pending" for k, v in after.items())
    # and the next full plan finds nothing to revive
    assert "0 réactivé, 0 annulé" in env.run("reminders", "plan", "--year", "2026").stderr


def test_preview_renders_the_email_of_one_row(env):
    items = json.loads(env.run("reminders", "plan", "--year", "2026", "--format", "json").stdout)
    key = next(i["key"] for i in items if i["event_id"] == "cpf-confirmation")
    r = env.run("reminders", "preview", key)
    assert r.exit_code == 0, r.stderr
    head, body = r.stdout.split("\n\n", 1)
    # shown as it will be sent: on its due day, the day before the deadline
    assert "Subject: Rappel : Confirmation CPF : date limite le lundi 16 novembre 2026 (demain)" in head
    assert "To: Alice Martin <alice@example.org>" in head
    assert "Auto-Submitted: auto-generated" in head and "List-Unsubscribe: <mailto:" in head
    assert "Message-ID: <" in head and "X-Cnam-Calendar-Status: pending" in head
    assert body.startswith("Bonjour Alice Martin,") and "Qui contacter" in body
    english = next(i["key"] for i in items if i["learner_id"] == "B2")
    assert "Hello Bob Smith," in env.run("reminders", "preview", english).stdout


def test_status_counts_sent_and_opt_out(env):
    items = [i for i in json.loads(env.run("reminders", "plan", "--year", "2026", "--format", "json").stdout)
             if i["expires_at"] > NOW.isoformat()]
    s = env.store()
    first = min(items, key=lambda i: i["due_at"])
    claimed = claim_due(s, "d1", datetime.fromisoformat(first["due_at"]), LEASE, 1)
    assert mark_sent(s, claimed[0].key, "d1", datetime.fromisoformat(first["due_at"]))
    s.close()
    r = env.run("reminders", "opt-out", "B2")
    assert r.exit_code == 0 and "son flux reste à jour" in r.stdout
    counts = json.loads(env.run("reminders", "status", "--format", "json").stdout)
    b2 = sum(1 for i in items if i["learner_id"] == "B2" and i["key"] != claimed[0].key)
    assert counts["sent"] == 1 and counts["cancelled"] == b2
    assert counts["pending"] == len(items) - 1 - b2
    r = env.run("reminders", "opt-out", "B2", "--undo")
    assert r.exit_code == 0
    again = env.run("reminders", "plan", "--year", "2026")
    assert _n(b2, "réactivé", "réactivés") in again.stderr


def test_mistakes_get_one_clear_line(env):
    r = env.run("reminders", "preview", "nope")
    assert r.exit_code == 2 and r.stderr.startswith("Erreur : ") and "rappel inconnu « nope »" in r.stderr
    assert "cnam-calendar reminders plan" in r.stderr
    r = env.run("reminders", "plan", "--from", "2026-13-01")
    assert r.exit_code == 2 and "n'est pas une date valide" in r.stderr
    r = env.run("reminders", "plan", "--from", "2026-12-01", "--to", "2026-11-01")
    assert r.exit_code == 2 and "précède" in r.stderr
    r = env.run("reminders", "opt-out", "ZZ9")
    assert r.exit_code == 2 and "apprenant inconnu « ZZ9 »" in r.stderr



