"""`cnam-calendar daemon --check --to ADDR`: one test message through the relay, or one French line saying what failed.

Against the aiosmtpd sink: a good one, a port nobody listens on, a refused login (535), STARTTLS
asked of a server that does not offer it, a name that does not resolve, a refused recipient (5xx).
"""

from __future__ import annotations

import pytest

from tests.conftest import invoke
from tests.support.server import free_port
from tests.support.smtp_sink import running_sink

TO = "exploitation@example.org"


def check(port: int, *options: str, host: str = "127.0.0.1", password: str | None = None):
    return invoke("daemon", "--check", "--to", TO, "--smtp-host", host, "--smtp-port", str(port),
                  "--from", "rappels@cnam.test", *options, env={"CNAM_CALENDAR_SMTP_PASSWORD": password})


def one_error_line(result) -> str:  # noqa: ANN001
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Erreur : "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_a_good_relay_takes_the_test_message_with_login():
    with running_sink(auth={"rappels": "s3cret"}) as sink:
        result = check(sink.port, "--smtp-user", "rappels", password="s3cret")
        assert result.exit_code == 0, result.output
        assert len(sink.messages) == 1
        message = sink.messages[0]
    assert message.rcpt_tos == (TO,) and message.mail_from == "rappels@cnam.test"
    assert b"Subject: cnam-calendar : message d'essai" in message.data
    assert result.stdout == (f"smtp://127.0.0.1:{sink.port} : message d'essai accepté pour {TO} "
                             "(250 2.0.0 OK accepted) ; étapes : DNS, connexion, AUTH, message\n")
    assert "s3cret" not in result.output


def test_a_port_nobody_listens_on_is_a_refused_connection():
    port = free_port()
    line = one_error_line(check(port))
    assert line == (f"Erreur : smtp://127.0.0.1:{port} : connexion refusée : aucun serveur SMTP n'écoute à cette "
                    "adresse (vérifiez --smtp-host et --smtp-port, et que le relais tourne)")


def test_a_refused_login_is_named_with_the_server_reply():
    with running_sink(auth={"rappels": "s3cret"}) as sink:
        line = one_error_line(check(sink.port, "--smtp-user", "rappels", password="wrong"))
        assert sink.messages == []
    assert line.startswith(f"Erreur : smtp://127.0.0.1:{sink.port} : authentification refusée pour « rappels » : "
                           "535 5.7.8 Authentication credentials invalid")
    assert "CNAM_CALENDAR_SMTP_PASSWORD" in line and "wrong" not in line


def test_a_user_without_a_password_is_refused_before_connecting():
    line = one_error_line(check(free_port(), "--smtp-user", "rappels"))
    assert "identifiant SMTP donné sans mot de passe" in line and "CNAM_CALENDAR_SMTP_PASSWORD" in line


def test_starttls_asked_of_a_server_without_it_is_a_tls_failure():
    with running_sink() as sink:
        line = one_error_line(check(sink.port, "--smtp-starttls"))
    assert f"smtp://127.0.0.1:{sink.port} : TLS : le serveur ne propose pas STARTTLS" in line


def test_a_name_that_does_not_resolve_is_a_dns_failure():
    line = one_error_line(check(25, host="no-such-relay.invalid"))
    assert line.startswith("Erreur : smtp://no-such-relay.invalid:25 : DNS : le nom « no-such-relay.invalid » ne se "
                           "résout pas")


@pytest.mark.parametrize(("fault", "said"), [
    ("refuse", f"le destinataire « {TO} » refusé (5xx) : 550 5.1.1 mailbox unavailable"),
    ("reject", f"le message « {TO} » refusé (5xx) : 554 5.7.1 message refused"),
    ("tempfail", f"le message « {TO} » refusé pour l'instant (4xx) : 451 4.3.0 try again later"),
])
def test_a_refusal_of_the_message_says_its_code_and_the_server_words(fault, said):
    with running_sink() as sink:
        {"refuse": lambda: sink.refuse(TO), "reject": lambda: sink.reject_data(TO),
         "tempfail": lambda: sink.tempfail(1)}[fault]()
        line = one_error_line(check(sink.port))
    assert said in line


def test_check_needs_to():
    result = invoke("daemon", "--check", "--smtp-port", "2525")
    assert result.exit_code == 2
    assert "--to ADRESSE" in result.stderr and "Traceback" not in result.output


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (openssl), as (certificate, key) paths."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl absent")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def tls_sink(certificate: tuple[str, str]):  # noqa: ANN201
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return running_sink(tls=context)


def test_starttls_with_a_certificate_nobody_vouches_for_is_a_tls_failure(certificate):
    with tls_sink(certificate) as sink:
        line = one_error_line(check(sink.port, "--smtp-starttls"))
        assert sink.messages == []
    assert line.startswith(f"Erreur : smtp://127.0.0.1:{sink.port} : TLS : certificat du serveur refusé")
    assert "le certificat doit porter le nom de --smtp-host" in line and "SSL_CERT_FILE" in line


def test_starttls_then_the_test_message_when_the_certificate_is_trusted(certificate):
    import ssl
    from datetime import datetime, timezone

    from cnam_calendar.mail.check import Check

    trusted = ssl.create_default_context(cafile=certificate[0])
    with tls_sink(certificate) as sink:
        report = Check("127.0.0.1", sink.port, starttls=True, ssl_context=trusted).run(
            "rappels@cnam.test", TO, datetime(2026, 12, 2, 14, 0, tzinfo=timezone.utc))
        assert [m.rcpt_tos for m in sink.messages] == [(TO,)]
    assert report.steps == ("DNS", "connexion", "STARTTLS", "message")
    assert report.reply.startswith("250 ")


def test_the_daemon_s_mailer_does_starttls_and_checks_the_certificate(certificate):
    import ssl

    from cnam_calendar.mail.smtp import Mailer
    from tests.unit.test_smtp import reminder

    trusted = ssl.create_default_context(cafile=certificate[0])
    with tls_sink(certificate) as sink:
        with Mailer("127.0.0.1", sink.port, starttls=True, ssl_context=trusted, local_hostname="client.test") as mailer:
            assert mailer.send(0, reminder(1)).outcome == "sent"
        with Mailer("127.0.0.1", sink.port, starttls=True, local_hostname="client.test") as mailer:
            refused = mailer.send(0, reminder(2))  # the system's authorities do not know this certificate
        assert len(sink.messages) == 1
    assert (refused.outcome, refused.stage) == ("retry", "connect")
    assert "TLS" in refused.detail and "certificate verify failed" in refused.detail
