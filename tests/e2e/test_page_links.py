"""Every e-mail carries the learner's page link, while the store keeps only token hashes (store/links.py).

The journey an operator and two learners make: `init` creates the store and its link key (0600),
`learners import` and `learners invite` issue derived tokens, the daemon (a clock that travels, an
aiosmtpd server) sends the invitation, then reminders and change notices: each of them links to the
learner's current page; « nouveau lien » changes the link of the following e-mails; the database file
never holds a token. A token drawn without the key, or under another key, gives no link rather than a
wrong one. A broken key file is one French line and exit status 2, for every command that reads it.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from cnam_calendar.inputs.config import load_centres
from cnam_calendar.mail.daemon import Daemon, plan_all
from cnam_calendar.mail.smtp import Mailer
from cnam_calendar.rules.model import Learner
from cnam_calendar.store.database import open_store
from cnam_calendar.store.delivery import list_deliveries, sync_plan
from cnam_calendar.store.links import derive_token, read_key
from tests.conftest import CALENDARS, invoke
from tests.contract.test_store import db_url  # noqa: F401  (fixture: SQLite file or PostgreSQL schema)
from tests.e2e.test_notices_daemon import set_override
from tests.support.app_server import Travel
from tests.support.daemons import daemon_cmd, daemon_env, wait_until
from tests.support.smtp_sink import SmtpSink, running_sink
from tests.unit.test_explain_text import WORD as FRENCH_WORD

BASE = "https://calendrier.example.org"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # Monday 23 November 2026, 9:00 in Paris
ROSTER = """id,email,first_name,last_name,centre,department,status,ues,dossier_received,cpf_validated,training_start,lang
A001,alice@example.org,Alice,Martin,ipst-cnam,31,cpf,NFA031;NFP121,2026-10-22,2026-11-09,,fr
A002,bob@example.org,Bob,Durand,ipst-cnam,81,apprentissage,NFP121,2026-09-15,,2026-11-30,en
"""
LINK = re.compile(re.escape(BASE) + r"/me/([A-Za-z0-9_-]{43})")


def cli(*args: str, clock: datetime = T0):
    return invoke("--calendars", str(CALENDARS), *args, clock=clock)


def parsed(sink: SmtpSink, start: int = 0) -> list[EmailMessage]:
    return [message_from_bytes(m.data, policy=default_policy) for m in sink.messages[start:]]  # type: ignore[misc]


def links_of(msg: EmailMessage) -> set[str]:
    """The page tokens an e-mail links to, in its plain part and its HTML part (each must have the same)."""
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    in_plain, in_html = set(LINK.findall(plain)), set(LINK.findall(html))
    assert in_plain == in_html, (in_plain, in_html)
    for token in in_html:
        assert f'href="{BASE}/me/{token}"' in html
    return in_plain


def test_every_e_mail_links_to_the_learners_current_page(tmp_path: Path) -> None:
    db = tmp_path / "cnam.db"
    (tmp_path / "learners.csv").write_text(ROSTER, encoding="utf-8")
    done = cli("init", "--db", str(db))
    assert done.exit_code == 0, done.stderr
    key_file = tmp_path / "cnam.key"  # beside the SQLite file, by default
    assert "clé des liens créée" in done.stdout and str(key_file) in done.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert re.fullmatch(r"[0-9a-f]{64}\n", key_file.read_text())
    again = cli("init", "--db", str(db))
    assert again.exit_code == 0 and "existante, gardée" in again.stdout
    before = key_file.read_bytes()
    assert cli("learners", "import", str(tmp_path / "learners.csv"), "--db", str(db), "-q").exit_code == 0
    invited = cli("learners", "invite", "--all", "--db", str(db), "--base-url", BASE)
    assert invited.exit_code == 0 and invited.stdout.startswith("2 invitations prévues"), invited.output
    assert key_file.read_bytes() == before  # kept as it was: the links already sent go on working

    key = read_key(key_file)
    assert key is not None
    store = open_store(str(db), link_key=key)
    clock = Travel(T0)
    calendars = tmp_path / "calendars"
    shutil.copytree(CALENDARS, calendars)
    with running_sink() as sink:
        mailer = Mailer("127.0.0.1", sink.port, lanes=2, sender="rappels@cnam.test", local_hostname="d.test",
                        timeout=10)
        daemon = Daemon(store, mailer, load_centres(calendars), clock, owner="links-test", base_url=BASE,
                        reload_centres=lambda: load_centres(calendars))
        assert daemon.dispatch() == 2  # the two invitations
        daemon.scan_notices()  # the learners' dates as they are now: what later notices compare with
        daemon.plan()
        current = {}
        for msg in parsed(sink):
            [token] = links_of(msg)
            learner = store.learner_for_token(token)
            assert learner is not None and learner.email == msg["To"].addresses[0].addr_spec
            current[learner.id] = token
        assert store.page_tokens(["A001", "A002"]) == current  # recomputed from the key and the nonce

        # Every reminder until the end of February links to its learner's page.
        seen = len(sink.messages)
        reminders = [r for r in list_deliveries(store, status="pending")
                     if r.due_at < datetime(2027, 3, 1, tzinfo=timezone.utc)]
        assert {r.learner_id for r in reminders} == {"A001", "A002"}
        renewed_at = reminders[len(reminders) // 2].due_at
        renewed = False
        mails: list[EmailMessage] = []
        for row in reminders:
            if row.due_at >= renewed_at and not renewed:
                # « Nouveau lien » on Bob's page (the web app's store has the key too)
                old_bob, current["A002"] = current["A002"], store.issue_token("A002")
                renewed = True
            clock.now = max(clock.now, row.due_at)
            before = len(sink.messages)
            daemon.dispatch()
            for msg in parsed(sink, before):  # each links to the page as it is when the e-mail goes
                learner_id = "A001" if msg["To"].addresses[0].addr_spec == "alice@example.org" else "A002"
                assert links_of(msg) == {current[learner_id]}, msg["Subject"]
                mails.append(msg)
        assert renewed and len(mails) == len(sink.messages) - seen
        assert len(mails) >= len(reminders) // 2  # some of the same day go together (none when expired)
        assert any(old_bob in links_of(m) for m in mails)  # before « nouveau lien », the old one
        bob_last = [m for m in mails if m["To"].addresses[0].addr_spec == "bob@example.org"][-1]
        assert links_of(bob_last) == {current["A002"]}
        english = str(bob_last["Subject"]) + re.sub(r"\nSource: .*", "",  # the FAQ quoted as written, in French
                                                    bob_last.get_body(("plain",)).get_content())
        assert "Your page (deadlines, calendar): https://" in english and not FRENCH_WORD.findall(english), english
        french = [m for m in mails if m["To"].addresses[0].addr_spec == "alice@example.org"][-1]
        assert "Votre page (échéances, calendrier) : https://" in french.get_body(("plain",)).get_content()

        # A change notice (an override written in the rule file) links to the page too.
        seen = len(sink.messages)
        daemon.scan_notices()
        set_override(calendars, "exam-june", date(2027, 6, 14))
        daemon.scan_notices()
        clock.now += timedelta(minutes=31)  # past the hold-back
        daemon.dispatch()
        notices = parsed(sink, seen)
        assert {m["To"].addresses[0].addr_spec for m in notices} == {"alice@example.org", "bob@example.org"}
        for msg in notices:
            learner_id = "A001" if msg["To"].addresses[0].addr_spec == "alice@example.org" else "A002"
            assert links_of(msg) == {current[learner_id]}
        daemon.housekeeping()
        mailer.close()
    store.close()

    # The database file holds hashes and nonces only: no token, no link.
    data = db.read_bytes() + (db.with_name(db.name + "-wal").read_bytes() if db.with_name(db.name + "-wal").exists()
                              else b"")
    for token in [*current.values(), old_bob]:
        assert token.encode() not in data
    assert b"/me/" not in data


def test_a_token_drawn_without_the_key_or_under_another_key_gives_no_link(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'links.db'}"
    plain = open_store(url)  # no key: random tokens, as before this revision
    plain.import_learners([Learner("L1", "l1@example.org", "Lou", "Petit", "ipst-cnam", "31", "individuel"),
                           Learner("L2", "l2@example.org", "Sam", "Roux", "ipst-cnam", "31", "individuel")])
    plain.issue_token("L1")
    plain.close()
    keyed = open_store(url, link_key=b"k" * 32)
    assert keyed.page_tokens(["L1", "L2"]) == {}  # L1's link cannot be recomputed, L2 has none
    token = keyed.issue_token("L2")
    assert keyed.page_tokens(["L1", "L2"]) == {"L2": token}
    keyed.close()
    other = open_store(url, link_key=b"x" * 32)  # the key file was replaced
    assert other.page_tokens(["L1", "L2"]) == {}  # no link rather than a wrong one
    assert other.learner_for_token(token) is not None  # the page itself still opens
    other.close()

    with running_sink() as sink:
        store = open_store(url, link_key=b"k" * 32)
        centres = load_centres(CALENDARS)
        plan = [r for r in plan_all(store, centres, 2026) if r.learner_id in ("L1", "L2")]
        first = {}
        for r in sorted(plan, key=lambda r: r.due_at):
            first.setdefault(r.learner_id, r)
        due = max(r.due_at for r in first.values())
        sync_plan(store, list(first.values()), due - timedelta(days=1))
        mailer = Mailer("127.0.0.1", sink.port, lanes=1, sender="rappels@cnam.test", local_hostname="d.test",
                        timeout=10)
        daemon = Daemon(store, mailer, centres, lambda: due, owner="links-test", base_url=BASE)
        assert daemon.dispatch() == 2
        mailer.close()
        store.close()
        by_rcpt = {m["To"].addresses[0].addr_spec: m for m in parsed(sink)}
    assert links_of(by_rcpt["l1@example.org"]) == set()  # the old random token: no link, no wrong link
    assert links_of(by_rcpt["l2@example.org"]) == {token}


def test_the_token_is_the_hmac_of_the_id_and_the_nonce_and_the_database_keeps_neither(db_url: str) -> None:  # noqa: F811
    key = bytes(range(32))
    store = open_store(db_url, link_key=key)
    store.import_learners([Learner(f"P{i}", f"p{i}@example.org", "A", "B", "ipst-cnam", "31", "individuel")
                           for i in range(3)])
    pairs = dict((learner.id, token) for learner, token in store.issue_tokens())
    from sqlalchemy import select

    from cnam_calendar.store.database import feed_tokens_table as t
    with store.engine.connect() as conn:
        rows = {r.learner_id: r for r in conn.execute(select(t))}
    for learner_id, token in pairs.items():
        row = rows[learner_id]
        assert re.fullmatch(r"[0-9a-f]{32}", row.link_nonce)
        assert derive_token(key, learner_id, row.link_nonce) == token
        assert token not in repr(tuple(row))
    assert len({r.link_nonce for r in rows.values()}) == 3
    assert store.page_tokens(pairs) == pairs
    store.close()


def test_a_broken_key_file_is_one_french_line_and_exit_status_2(tmp_path: Path) -> None:
    db = tmp_path / "cnam.db"
    (tmp_path / "learners.csv").write_text(ROSTER, encoding="utf-8")
    key_file = tmp_path / "cnam.key"
    key_file.write_text("pas une clé\n")
    for args in (("init", "--db", str(db)),
                 ("learners", "import", str(tmp_path / "learners.csv"), "--db", str(db))):
        r = cli(*args)
        assert r.exit_code == 2, (args, r.output)
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert f"{key_file} : ce fichier n'est pas une clé des liens (attendu : 64 chiffres hexadécimaux" in r.stderr
    assert not db.exists()  # refused before anything was created
    key_file.unlink()
    assert cli("init", "--db", str(db)).exit_code == 0
    for args, what in ((("learners", "--link-key-file", str(tmp_path), "show", "A001", "--db", str(db)),
                        "c'est un dossier, pas le fichier de la clé des liens"),
                       (("daemon", "--db", str(db), "--link-key-file", str(tmp_path / "learners.csv")),
                        "ce fichier n'est pas une clé des liens")):
        r = cli(*args)
        assert r.exit_code == 2 and what in r.stderr and "Traceback" not in r.stderr, r.output


@pytest.mark.parametrize("with_key", [True, False], ids=["key", "no-key"])
def test_the_daemon_process_links_or_says_once_why_it_cannot(tmp_path: Path, with_key: bool) -> None:
    db = tmp_path / "cnam.db"
    (tmp_path / "learners.csv").write_text(ROSTER, encoding="utf-8")
    assert cli("init", "--db", str(db)).exit_code == 0
    if not with_key:
        (tmp_path / "cnam.key").unlink()
    assert cli("learners", "import", str(tmp_path / "learners.csv"), "--db", str(db), "-q").exit_code == 0
    assert cli("learners", "issue-token", "--all", "-o", str(tmp_path / "urls.csv"), "-q", "--db", str(db),
               "--base-url", BASE).exit_code == 0
    store = open_store(str(db))
    now = datetime.now(timezone.utc)
    reminder = next(r for r in plan_all(store, load_centres(CALENDARS), 2026) if r.learner_id == "A001")
    from dataclasses import replace

    sync_plan(store, [replace(reminder, due_at=now - timedelta(minutes=1), expires_at=now + timedelta(days=1),
                              target=max(reminder.target, date.today()))], now - timedelta(minutes=2))
    store.close()
    log = tmp_path / "daemon.log"
    with running_sink() as sink, open(log, "wb") as out:
        proc = subprocess.Popen([*daemon_cmd(str(db), sink.port, lanes=1), "--base-url", BASE], cwd=tmp_path,
                                env=daemon_env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: len(sink.messages) >= 1, 60, "the reminder", (proc,))
        finally:
            proc.terminate()
            proc.wait(30)
        [msg] = parsed(sink)
    text = log.read_text(encoding="utf-8")
    assert "Traceback" not in text
    if with_key:
        [token] = links_of(msg)
        assert open_store(str(db)).learner_for_token(token).id == "A001"
        assert "pas de clé des liens" not in text
    else:
        assert links_of(msg) == set()
        assert text.count("pas de clé des liens") == 1 and str(tmp_path / "cnam.key") in text


def test_serve_derives_the_new_link_of_the_learners_page_from_the_key(tmp_path: Path) -> None:
    """« Nouveau lien » on `cnam-calendar serve`: the new token is one the daemon can recompute."""
    import httpx

    from tests.support.learner_site import csrf_tokens
    from tests.support.server import running_server

    (tmp_path / "learners.csv").write_text(ROSTER, encoding="utf-8")
    assert cli("init", "--db", str(tmp_path / "cnam-calendar.db")).exit_code == 0
    assert cli("learners", "import", str(tmp_path / "learners.csv"), "--db", str(tmp_path / "cnam-calendar.db"),
               "-q").exit_code == 0
    key = read_key(tmp_path / "cnam-calendar.key")
    store = open_store(str(tmp_path / "cnam-calendar.db"), link_key=key)
    token = store.issue_token("A001")
    with running_server(["--calendars", str(CALENDARS)], cwd=tmp_path) as base:
        page = httpx.get(f"{base}/me/{token}", timeout=30)
        assert page.status_code == 200
        link_csrf = csrf_tokens(page.text)[1]
        r = httpx.post(f"{base}/me/{token}/new-link", data={"csrf": link_csrf}, timeout=30)
        assert r.status_code == 303
        new = r.headers["location"].removeprefix("/me/")
        assert httpx.get(f"{base}/me/{new}", timeout=30).status_code == 200
    assert store.page_tokens(["A001"]) == {"A001": new}  # derived: the next e-mails carry it
    store.close()


def test_invite_by_id_resends_the_current_link_unchanged_when_the_key_can_recompute_it(tmp_path: Path) -> None:
    """« J'ai perdu l'e-mail » : `learners invite ID` sends the same link again, the subscription keeps working."""
    db = tmp_path / "cnam.db"
    (tmp_path / "learners.csv").write_text(ROSTER, encoding="utf-8")
    assert cli("init", "--db", str(db)).exit_code == 0
    assert cli("learners", "import", str(tmp_path / "learners.csv"), "--db", str(db), "-q").exit_code == 0
    first = cli("learners", "invite", "--all", "--db", str(db), "--base-url", BASE)
    assert first.exit_code == 0 and first.stdout.startswith("2 invitations prévues")
    store = open_store(str(db), link_key=read_key(tmp_path / "cnam.key"))
    with running_sink() as sink:
        mailer = Mailer("127.0.0.1", sink.port, lanes=1, sender="rappels@cnam.test", local_hostname="d.test",
                        timeout=10)
        daemon = Daemon(store, mailer, load_centres(CALENDARS), lambda: T0 + timedelta(minutes=5), owner="t",
                        base_url=BASE)
        assert daemon.dispatch() == 2
        [alice_token] = links_of(next(m for m in parsed(sink) if m["To"].addresses[0].addr_spec == "alice@example.org"))
        everyone = cli("learners", "invite", "--all", "--db", str(db), "--base-url", BASE)
        assert everyone.stdout.startswith("0 invitation prévue") and "2 apprenants ont déjà un lien" in everyone.stderr
        again = cli("learners", "invite", "A001", "--db", str(db), "--base-url", BASE, clock=T0 + timedelta(hours=1))
        assert again.exit_code == 0, again.output
        assert again.stdout.startswith("1 invitation prévue")
        assert "dont 1 avec son lien actuel, inchangé (A001) : son abonnement continue." in again.stdout
        twice = cli("learners", "invite", "A001", "--db", str(db), "--base-url", BASE, clock=T0 + timedelta(hours=1))
        assert twice.stdout.startswith("0 invitation prévue")  # the one on its way is not doubled
        daemon.clock = lambda: T0 + timedelta(hours=2)
        assert daemon.dispatch() == 1
        mailer.close()
        resent = parsed(sink)[-1]
    assert links_of(resent) == {alice_token}  # the same link
    assert store.learner_for_token(alice_token).id == "A001"  # still working
    assert "remplace le précédent" not in resent.get_body(("plain",)).get_content()
    store.close()
