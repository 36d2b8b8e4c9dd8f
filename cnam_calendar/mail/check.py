"""`daemon --check`: connect to the relay, STARTTLS and AUTH as configured, send one test message.

Each step is taken on its own, so that a failure names its step in one French line: the name
(DNS), the connection (refused, no answer), TLS, the login (AUTH), or the server's reply to the
message (4xx, 5xx). Nothing here touches the store.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from cnam_calendar.mail.smtp import SmtpError


@dataclass(frozen=True)
class CheckReport:
    """What the check went through: the server's reply to the test message and the steps taken."""

    reply: str
    steps: tuple[str, ...]


def _words(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}".strip()


def check_message(sender: str, to: str, now: datetime, host: str) -> EmailMessage:
    """Return the test message: plain French text saying where it comes from."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "cnam-calendar : message d'essai du démon de rappels"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("check", domain="cnam-calendar")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("Ce message d'essai a été envoyé par « cnam-calendar daemon --check » "
                    f"au travers du relais {host}.\nS'il vous parvient, le démon peut envoyer les rappels.\n")
    return msg


class Check:
    """One check of the relay at HOST:PORT as the daemon would use it."""

    def __init__(self, host: str, port: int, *, starttls: bool = False, user: str | None = None,
                 password: str | None = None, timeout: float = 15, ssl_context: ssl.SSLContext | None = None,
                 local_hostname: str | None = None) -> None:
        self.host, self.port, self.starttls, self.user = host, port, starttls, user
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context
        self.local_hostname = local_hostname or "localhost"

    @property
    def where(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def _fail(self, what: str, hint: str) -> SmtpError:
        return SmtpError(what, where=self.where, hint=hint)

    def run(self, sender: str, to: str, now: datetime) -> CheckReport:
        """Go through every step and send the test message to TO; raise SmtpError naming the step that failed."""
        if self.user is not None and self._password is None:
            raise self._fail("identifiant SMTP donné sans mot de passe",
                             "mettez le mot de passe dans CNAM_CALENDAR_SMTP_PASSWORD")
        steps: list[str] = []
        try:
            socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as err:
            raise self._fail(f"DNS : le nom « {self.host} » ne se résout pas ({err})",
                             "vérifiez --smtp-host") from None
        steps.append("DNS")
        conn = smtplib.SMTP(local_hostname=self.local_hostname, timeout=self.timeout)
        try:
            self._connect(conn, steps)
            self._secure(conn, steps)
            self._login(conn, steps)
            reply = self._send(conn, check_message(sender, to, now, f"{self.host}:{self.port}"))
            steps.append("message")
        finally:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()
        return CheckReport(reply, tuple(steps))

    def _connect(self, conn: smtplib.SMTP, steps: list[str]) -> None:
        try:
            code, reply = conn.connect(self.host, self.port)
        except ConnectionRefusedError:
            raise self._fail("connexion refusée : aucun serveur SMTP n'écoute à cette adresse",
                             "vérifiez --smtp-host et --smtp-port, et que le relais tourne") from None
        except TimeoutError:
            raise self._fail(f"pas de réponse en {self.timeout:.0f} s (un pare-feu ?)",
                             "vérifiez --smtp-host, --smtp-port et le pare-feu") from None
        except smtplib.SMTPServerDisconnected as err:
            raise self._fail(f"connexion fermée par le serveur avant son accueil ({err})",
                             "vérifiez --smtp-port (587 : STARTTLS ; 465, TLS d'emblée, n'est pas pris en charge)"
                             ) from None
        except OSError as err:
            raise self._fail(f"connexion impossible : {err.strerror or err}",
                             "vérifiez --smtp-host et --smtp-port") from None
        if code != 220:
            raise self._fail(f"accueil refusé par le serveur : {_words(code, reply)}",
                             "le relais refuse cette machine ; voyez avec son administrateur")
        steps.append("connexion")
        self._ehlo(conn)

    def _ehlo(self, conn: smtplib.SMTP) -> None:
        try:
            code, reply = conn.ehlo()
            if not 200 <= code < 300:
                code, reply = conn.helo()
        except (OSError, smtplib.SMTPException) as err:
            raise self._fail(f"EHLO sans réponse ({err})", "le relais ferme la connexion ; vérifiez --smtp-port"
                             ) from None
        if not 200 <= code < 300:
            raise self._fail(f"EHLO refusé : {_words(code, reply)}", "voyez avec l'administrateur du relais")

    def _secure(self, conn: smtplib.SMTP, steps: list[str]) -> None:
        if not self.starttls:
            return
        if not conn.has_extn("starttls"):
            raise self._fail("TLS : le serveur ne propose pas STARTTLS",
                             "retirez --smtp-starttls, ou utilisez le port du relais qui le propose (souvent 587)")
        conn._host = self.host  # smtplib sets it only when its constructor connects: the certificate's name
        try:
            conn.starttls(context=self._ssl_context or ssl.create_default_context())
        except ssl.SSLCertVerificationError as err:
            raise self._fail(f"TLS : certificat du serveur refusé ({err.verify_message})",
                             "le certificat doit porter le nom de --smtp-host et venir d'une autorité que le "
                             "système connaît (SSL_CERT_FILE pour en désigner une autre)") from None
        except (ssl.SSLError, OSError, smtplib.SMTPException) as err:
            raise self._fail(f"TLS : négociation impossible ({err})", "vérifiez --smtp-port et --smtp-starttls"
                             ) from None
        steps.append("STARTTLS")
        self._ehlo(conn)

    def _login(self, conn: smtplib.SMTP, steps: list[str]) -> None:
        if self.user is None:
            return
        if not conn.has_extn("auth"):
            raise self._fail("authentification : le serveur ne propose pas AUTH"
                             + ("" if self.starttls else " (peut-être seulement après STARTTLS)"),
                             "ajoutez --smtp-starttls, ou retirez --smtp-user")
        try:
            conn.login(self.user, self._password or "")
        except smtplib.SMTPAuthenticationError as err:
            raise self._fail(f"authentification refusée pour « {self.user} » : {_words(err.smtp_code, err.smtp_error)}",
                             "vérifiez --smtp-user et CNAM_CALENDAR_SMTP_PASSWORD") from None
        except smtplib.SMTPException as err:
            raise self._fail(f"authentification impossible : {err}",
                             "vérifiez --smtp-user et CNAM_CALENDAR_SMTP_PASSWORD") from None
        steps.append("AUTH")

    def _send(self, conn: smtplib.SMTP, message: EmailMessage) -> str:
        hint = "la réponse du serveur dit pourquoi ; vérifiez --from et --to"
        try:
            code, reply = conn.mail(str(message["From"]))
            if code != 250:
                raise self._refused("l'expéditeur", message["From"], code, reply, hint)
            code, reply = conn.rcpt(str(message["To"]))
            if code not in (250, 251):
                raise self._refused("le destinataire", message["To"], code, reply, hint)
            code, reply = conn.data(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
            if code != 250:
                raise self._refused("le message", message["To"], code, reply, hint)
        except smtplib.SMTPDataError as err:
            raise self._refused("le message", message["To"], err.smtp_code, err.smtp_error, hint) from None
        except (OSError, smtplib.SMTPServerDisconnected) as err:
            raise self._fail(f"connexion perdue pendant l'envoi ({err})", "réessayez ; voyez le journal du relais"
                             ) from None
        return _words(code, reply)

    def _refused(self, what: str, value: object, code: int, reply: bytes | str, hint: str) -> SmtpError:
        kind = "refusé pour l'instant (4xx)" if 400 <= code < 500 else "refusé (5xx)"
        return self._fail(f"{what} « {value} » {kind} : {_words(code, reply)}", hint)
