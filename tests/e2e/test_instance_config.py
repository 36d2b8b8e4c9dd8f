"""One configuration (issue 17, point 5): the instance file < the environment < the option, for several
commands; the refusals (no store, a bad file, an unknown key); `init`; `--calendars` at any level;
`serve` on a busy port; the store's side files ignored by git."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cnam_calendar.cli.instance import SETTINGS
from tests.conftest import CALENDARS, REPO, TEST_CALENDARS, invoke
from tests.support.server import free_port
from tests.support.smtp_sink import end_process

CLEAN = {s.envvar: None for s in SETTINGS} | {"CNAM_CALENDAR_CONFIG": None}


def run(cwd: Path, *args: str, env: dict[str, str | None] | None = None):
    """Run the CLI in-process from CWD (where ./cnam-calendar.toml is looked for), no setting in the environment."""
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return invoke(*args, env={**CLEAN, **(env or {})})
    finally:
        os.chdir(old)


def write_instance(folder: Path, text: str, name: str = "cnam-calendar.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_calendars_file_then_environment_then_option_before_or_after_the_subcommand(tmp_path):
    both, one = CALENDARS, TEST_CALENDARS  # two centres, one centre: `check` says how many years it read
    write_instance(tmp_path, f'calendars = "{one}"\n')
    years = lambda r: r.stdout.strip().splitlines()[-1]  # noqa: E731
    assert run(tmp_path, "check").exit_code == 0
    from_file = years(run(tmp_path, "check"))
    from_env = years(run(tmp_path, "check", env={"CNAM_CALENDAR_CALENDARS": str(both)}))
    assert from_file != from_env
    assert years(run(tmp_path, "--calendars", str(both), "check")) == from_env
    assert years(run(tmp_path, "check", "--calendars", str(both))) == from_env  # after the subcommand
    assert years(run(tmp_path, "--calendars", str(both), "check", "--calendars", str(one))) == from_file
    # the groups and their subcommands take it too
    r = run(tmp_path, "learners", "generate", "--count", "2", "-o", str(tmp_path / "r.csv"),
            "--calendars", str(tmp_path / "nowhere"))
    assert r.exit_code == 2 and "nowhere" in r.stderr
    r = run(tmp_path, "reminders", "--calendars", str(tmp_path / "nowhere"), "plan")
    assert r.exit_code == 2


def test_store_file_then_environment_then_option(tmp_path):
    """The refusal names the store each command would use: the file's, the variable's, the option's."""
    (tmp_path / "etc").mkdir()
    write_instance(tmp_path / "etc", 'store = "from-file.db"\n')  # relative: read from the file's folder
    config = str(tmp_path / "etc" / "cnam-calendar.toml")
    for command in (("reminders", "status"), ("learners", "show", "x"), ("reminders", "plan")):
        r = run(tmp_path, "--config", config, *command)
        assert r.exit_code == 2 and f"{tmp_path}/etc/from-file.db : base introuvable" in r.stderr, r.stderr
        r = run(tmp_path, "--config", config, *command, env={"CNAM_CALENDAR_DB": str(tmp_path / "env.db")})
        assert f"{tmp_path}/env.db : base introuvable" in r.stderr
        r = run(tmp_path, *command[:1], "--db", str(tmp_path / "opt.db"), *command[1:],
                env={"CNAM_CALENDAR_DB": str(tmp_path / "env.db"), "CNAM_CALENDAR_CONFIG": config})
        assert f"{tmp_path}/opt.db : base introuvable" in r.stderr
    assert not list(tmp_path.rglob("*.db"))  # nothing created by a refusal


def test_output_and_base_url_file_then_environment_then_option(tmp_path):
    write_instance(tmp_path, f'calendars = "{CALENDARS}"\noutput = "out-file"\nbase_url = "https://file.example.org"\n'
                             'store = "s.db"\n')
    for env, option, expected in ((None, (), "out-file"), ("out-env", (), "out-env"),
                                  ("out-env", ("--out", "out-opt"), "out-opt")):
        r = run(tmp_path, "build", "--centre", "ipst-cnam", *option,
                env={"CNAM_CALENDAR_OUT": str(tmp_path / env) if env else None})
        assert r.exit_code == 0, r.output
        assert (tmp_path / expected / "ipst-cnam").is_dir()
        assert f"{expected}/ipst-cnam/" in r.stdout
    roster = tmp_path / "roster.csv"
    assert run(tmp_path, "learners", "generate", "--count", "2", "-o", str(roster)).exit_code == 0
    assert run(tmp_path, "learners", "import", str(roster), "-q").exit_code == 0
    learner = roster.read_text().splitlines()[1].split(",")[0]
    links = [run(tmp_path, "learners", "issue-token", learner, *option,
                 env={"CNAM_CALENDAR_BASE_URL": env}).stdout
             for env, option in ((None, ()), ("https://env.example.org", ()),
                                 ("https://env.example.org", ("--base-url", "https://opt.example.org")))]
    assert [link.split("/feeds/")[0] for link in links] == [
        "https://file.example.org", "https://env.example.org", "https://opt.example.org"]


def daemon_line(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Start the real daemon, return its first line (what it runs with), stop it."""
    environment = {k: v for k, v in os.environ.items() if k not in CLEAN} | (env or {})
    proc = subprocess.Popen([sys.executable, "-m", "cnam_calendar.cli", "daemon", *args], cwd=cwd, env=environment,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        return proc.stderr.readline() if proc.stderr else ""
    finally:
        end_process(proc)


def test_daemon_settings_file_then_environment_then_option(tmp_path):
    write_instance(tmp_path, f'calendars = "{CALENDARS}"\n\n[smtp]\nhost = "127.0.0.2"\nport = 2525\n\n'
                             '[daemon]\nlanes = 3\n')
    assert run(tmp_path, "init").exit_code == 0
    assert "smtp=smtp://127.0.0.2:2525, starttls=False, lanes=3," in daemon_line(tmp_path)
    env = {"CNAM_CALENDAR_DAEMON_LANES": "5", "CNAM_CALENDAR_SMTP_PORT": "2526"}
    assert "smtp=smtp://127.0.0.2:2526, starttls=False, lanes=5," in daemon_line(tmp_path, env=env)
    assert "smtp=smtp://127.0.0.2:2527, starttls=False, lanes=7," in daemon_line(tmp_path, "--lanes", "7", "--smtp-port", "2527", env=env)


def test_serve_port_from_the_file_then_the_environment(tmp_path):
    write_instance(tmp_path, f'calendars = "{CALENDARS}"\n[serve]\nport = {free_port()}\n')
    assert run(tmp_path, "init").exit_code == 0
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in CLEAN} | {"CNAM_CALENDAR_SERVE_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "cnam_calendar.cli", "serve"], cwd=tmp_path, env=environment,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline() if proc.stderr else ""
        assert f"http://127.0.0.1:{port}/" in line
        for _ in range(200):  # readiness polling
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise AssertionError("serve exited") from None
                import time
                time.sleep(0.05)
    finally:
        end_process(proc)


def test_serve_on_a_busy_port_says_so_in_one_line_exit_2(tmp_path):
    assert run(tmp_path, "init").exit_code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), "serve",
                            "--port", str(port)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"Erreur : 127.0.0.1:{port} : port déjà utilisé par un autre programme "
                                     "(arrêtez-le, ou choisissez un autre port : --port, CNAM_CALENDAR_SERVE_PORT "
                                     "ou [serve] port)"]
    assert r.stdout == ""


@pytest.mark.parametrize("command", [("reminders", "status"), ("reminders", "opt-out", "x"),
                                     ("learners", "issue-token", "x"), ("learners", "feeds", "--out", "f"),
                                     ("daemon",), ("serve",)])
def test_commands_that_read_the_store_refuse_when_it_does_not_exist(tmp_path, command):
    r = subprocess.run([sys.executable, "-m", "cnam_calendar.cli", "--calendars", str(CALENDARS), *command],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={k: v for k, v in os.environ.items() if k not in CLEAN})
    assert r.returncode == 2
    assert r.stderr == (f"Erreur : sqlite:///{tmp_path}/cnam-calendar.db : base introuvable : elle n'a pas encore "
                        "été créée (créez-la : cnam-calendar init, ou importez les apprenants : cnam-calendar "
                        "learners import FICHIER.csv ; ou indiquez la bonne base : --db, CNAM_CALENDAR_DB ou store "
                        "dans cnam-calendar.toml)\n")
    assert list(tmp_path.iterdir()) == []  # no empty cnam-calendar.db left behind


def test_init_creates_the_store_then_says_it_exists(tmp_path):
    r = run(tmp_path, "init")
    assert r.exit_code == 0 and r.stdout.startswith(f"base créée : sqlite:///{tmp_path}/cnam-calendar.db")
    r = run(tmp_path, "init")
    assert r.exit_code == 0 and r.stdout.startswith(f"base existante : sqlite:///{tmp_path}/cnam-calendar.db")
    assert run(tmp_path, "--calendars", str(CALENDARS), "reminders", "status").exit_code == 0


BAD_FILES = [
    ("syntax", '[serve\nport = 1\n', "cnam-calendar.toml:1 : crochet, accolade ou guillemet non fermé (colonne 7)"),
    ("no-equals", 'store "x.db"\n', "cnam-calendar.toml:1 : « = » attendu après une clé"),
    ("unknown-key", '[smtp]\nhots = "relais"\n',
     "cnam-calendar.toml:2 (smtp.hots) : clé inconnue (vouliez-vous dire « smtp.host » ?)"),
    ("unknown-table", '[serv]\nport = 1\n', "cnam-calendar.toml:1 (serv) : table inconnue (vouliez-vous dire "),
    ("type", '[serve]\nport = "huit"\n',
     "cnam-calendar.toml:2 (serve.port) : valeur de type incorrect ('huit') (attendu : un entier sans guillemets"),
    ("range", '[daemon]\nlanes = 0\n',
     "cnam-calendar.toml:2 (daemon.lanes) : 0 n'est pas dans l'intervalle"),
    ("url", 'base_url = "ftp://x"\n', "cnam-calendar.toml:1 (base_url) : « ftp://x » ; attendu : une adresse http(s)"),
    ("bool", '[smtp]\nstarttls = "oui"\n', "cnam-calendar.toml:2 (smtp.starttls) : valeur de type incorrect"),
    ("secret", '[smtp]\npassword = "s3cret"\n',
     "cnam-calendar.toml:2 (smtp.password) : clé refusée (le mot de passe SMTP n'est jamais lu dans ce fichier"),
    ("empty", 'store = ""\n', "cnam-calendar.toml:1 (store) : valeur vide"),
]


@pytest.mark.parametrize(("text", "message"), [(t, m) for _, t, m in BAD_FILES], ids=[i for i, _, _ in BAD_FILES])
def test_a_bad_instance_file_is_refused_in_french_naming_file_line_and_key(tmp_path, text, message):
    write_instance(tmp_path, text)
    for command in (("check",), ("reminders", "status"), ("build",)):
        r = run(tmp_path, "--calendars", str(CALENDARS), *command)
        assert r.exit_code == 2
        assert message in r.stderr and r.stderr.startswith("Erreur : "), r.stderr
        assert "Traceback" not in r.output and r.stdout == ""
        assert "s3cret" not in r.stderr


def test_every_problem_of_the_file_at_once(tmp_path):
    write_instance(tmp_path, '[serve]\nport = 0\nworkers = 99\n[smtp]\nhots = "x"\n')
    r = run(tmp_path, "check")
    assert r.exit_code == 2 and "(smtp.hots) : clé inconnue" in r.stderr
    write_instance(tmp_path, '[serve]\nport = 0\nworkers = 99\n')
    r = run(tmp_path, "check")
    assert len(r.stderr.splitlines()) == 2 and "(serve.port)" in r.stderr and "(serve.workers)" in r.stderr


def test_config_option_and_variable_name_a_missing_file(tmp_path):
    r = run(tmp_path, "--config", str(tmp_path / "absent.toml"), "check")
    assert r.exit_code == 2 and f"{tmp_path}/absent.toml : fichier introuvable" in r.stderr
    r = run(tmp_path, "check", env={"CNAM_CALENDAR_CONFIG": str(tmp_path)})
    assert r.exit_code == 2 and "c'est un dossier" in r.stderr


def test_the_shipped_example_instance_file_is_valid(tmp_path):
    example = REPO / "deploy" / "cnam-calendar.toml"
    shutil.copy(example, tmp_path / "cnam-calendar.toml")
    r = run(tmp_path, "check", "--calendars", str(CALENDARS))  # read whole, every value checked as its option would
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    text = example.read_text(encoding="utf-8")
    for setting in SETTINGS[:15]:  # every key the shipped options have, shown to the operator
        assert f"{setting.key.rsplit('.', 1)[-1]} =" in text, setting.key


def test_every_key_and_variable_is_documented():
    doc = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"`{setting.key}`" in doc and f"`{setting.envvar}`" in doc, setting


def test_git_ignores_the_store_side_files(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("git or the repository's .git absent")
    names = ["cnam-calendar.db", "cnam-calendar.db-wal", "cnam-calendar.db-shm", "cnam-calendar.db-journal",
             "cnam-calendar.db.daemon.lock", "cnam-calendar.db.plan.lock"]
    r = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=REPO, capture_output=True, text=True)
    assert r.stdout.split() == names


def test_a_dry_run_import_creates_no_store(tmp_path):
    roster = tmp_path / "r.csv"
    assert run(tmp_path, "--calendars", str(CALENDARS), "learners", "generate", "--count", "4", "-o",
               str(roster)).exit_code == 0
    r = run(tmp_path, "--calendars", str(CALENDARS), "learners", "import", str(roster), "--dry-run", "-q")
    assert r.exit_code == 0 and "4 créés" in r.stdout and "rien n'a été écrit" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]
    r = run(tmp_path, "--calendars", str(CALENDARS), "learners", "import", str(roster), "-q")
    assert r.exit_code == 0 and (tmp_path / "cnam-calendar.db").exists()  # the real import creates it
