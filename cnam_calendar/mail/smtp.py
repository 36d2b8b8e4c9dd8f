"""Send e-mails over SMTP: reused connections over N lanes, every outcome classified.

`Mailer.send` answers one `SendResult` per message:

- ``sent``: the server answered 250 to the end of DATA;
- ``retry``: a 4xx reply, a refused or dropped connection, a timeout: try again later (see `backoff`);
- ``failed``: a 5xx reply, or every recipient refused with 5xx: permanent, with the server's words.

SMTP has no idempotent submit: once the message body has left, a lost reply means the server may
or may not hold the message. The mailer reconnects and resends on its own only when the failure
came before the body was sent (a connection the server had closed while idle, a 421 before DATA);
after that it reports ``retry`` and leaves the decision to the caller, who knows the delivery key.
Nothing here sleeps.
"""

from __future__ import annotations

import copy
import io
import queue
import random
import re
import smtplib
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr
from functools import partial
from typing import Literal

from cnam_calendar.rules.errors import CnamCalendarError

Outcome = Literal["sent", "retry", "failed"]

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)


@dataclass(frozen=True)
class WireMessage:
    """A message already in its wire form (`mail.render`): sent as is, never re-serialised."""

    data: bytes  # the whole message, CRLF line ends, not dot-stuffed
    sender: str  # envelope sender (MAIL FROM) when the mailer has no ``sender`` of its own
    recipients: tuple[str, ...]  # envelope recipients (RCPT TO)


Message = EmailMessage | WireMessage


class SmtpError(CnamCalendarError):
    """The SMTP server cannot be used as configured (unreachable, refused login, no TLS)."""


@dataclass(frozen=True)
class SendResult:
    """What became of one message: outcome, the server's words (or the connection error), reply code, stage.

    The stage says where it ended: "connect" (connection, EHLO, STARTTLS, login), "MAIL", "RCPT",
    "DATA" (the DATA command) or "body" (the reply to the message itself). A failure at connect or
    MAIL concerns the server or our own configuration rather than the learner.
    """

    outcome: Outcome
    detail: str
    code: int | None = None
    stage: str = "body"

    @property
    def permanent(self) -> bool:
        """Return True when retrying cannot help."""
        return self.outcome == "failed"


def backoff(attempt: int, *, seed: object = None, base: timedelta = BACKOFF_BASE,
            cap: timedelta = BACKOFF_CAP) -> timedelta:
    """Return the wait before retry ATTEMPT (1, 2, …): base × 2^(attempt-1) up to cap, jittered by SEED.

    Without a seed there is no jitter. With one (a delivery key, say) the wait is scaled by a factor
    in [0.5, 1] drawn from (seed, attempt): the same on every run, different across messages, so a
    burst of 4xx replies does not come back as one burst.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, not {attempt}")
    wait = min(base * (2 ** min(attempt - 1, 32)), cap)
    if seed is None:
        return wait
    factor = 0.5 + 0.5 * random.Random(f"{seed}:{attempt}").random()
    return timedelta(seconds=round(wait.total_seconds() * factor, 3))


class _Broken(Exception):
    """The connection failed before the message body was sent: reconnecting and resending is safe."""

    def __init__(self, detail: str, stage: str) -> None:
        super().__init__(detail)
        self.stage = stage


@dataclass
class _Lane:
    lock: threading.Lock
    conn: smtplib.SMTP | None = None
    last_used: float = 0.0


def _words(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}".strip()


def _os_reason(err: BaseException) -> str:
    """Say in French what a connection error is, the system's own words after it."""
    said = str(err) or type(err).__name__
    if isinstance(err, ConnectionRefusedError):
        return f"connexion refusée ({said})"
    if isinstance(err, TimeoutError):
        return f"pas de réponse dans le délai ({said})"
    if isinstance(err, ConnectionResetError):
        return f"connexion coupée par le serveur ({said})"
    if isinstance(err, socket.gaierror):
        return f"nom inconnu, DNS ({said})"
    if isinstance(err, ssl.SSLError):
        return f"TLS ({said})"
    if isinstance(err, smtplib.SMTPServerDisconnected):
        return f"connexion fermée par le serveur ({said})"
    return said


def _classify(code: int, reply: bytes | str, stage: str) -> SendResult:
    """Turn a non-success reply into retry (4xx) or failed (5xx and anything else)."""
    outcome: Outcome = "retry" if 400 <= code < 500 else "failed"
    return SendResult(outcome, _words(code, reply), code, stage)


def _envelope_recipients(message: EmailMessage) -> list[str]:
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    return [addr for _, addr in getaddresses(fields) if addr]


_LEADING_DOT = re.compile(rb"(?m)^\.")


class Mailer:
    """SMTP client with one reused connection per lane; `send` is thread-safe, one message per lane at a time."""

    def __init__(self, host: str, port: int = 25, *, starttls: bool = False, user: str | None = None,
                 password: str | None = None, lanes: int = 1, timeout: float = 30, sender: str | None = None,
                 local_hostname: str | None = None, noop_after: float | None = 60.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        if lanes < 1:
            raise ValueError(f"lanes must be at least 1, not {lanes}")
        if user is not None and password is None:
            raise SmtpError("identifiant SMTP donné sans mot de passe", where=f"smtp://{host}:{port}",
                            hint="mettez le mot de passe dans CNAM_CALENDAR_SMTP_PASSWORD (jamais en option)")
        self.host = host
        self.port = port
        self.starttls = starttls
        self.user = user
        self._password = password
        self.timeout = timeout
        self.sender = sender
        self.noop_after = noop_after
        self._ssl_context = ssl_context
        # smtplib would otherwise ask the resolver for our FQDN on every connection.
        self.local_hostname = local_hostname or socket.getfqdn()
        self._lanes = [_Lane(threading.Lock()) for _ in range(lanes)]
        self._stats_lock = threading.Lock()
        self.connections_opened = 0

    def __repr__(self) -> str:
        return f"Mailer({self.host!r}, {self.port}, lanes={self.lanes}, user={self.user!r})"

    @property
    def lanes(self) -> int:
        """Return the number of lanes (connections at most)."""
        return len(self._lanes)

    # -- connections -------------------------------------------------------------------------

    def _open(self) -> smtplib.SMTP:
        """Connect, EHLO, STARTTLS and log in; raise _Broken (with the reason) on any failure."""
        conn = smtplib.SMTP(local_hostname=self.local_hostname, timeout=self.timeout)
        try:
            code, reply = conn.connect(self.host, self.port)
            if code != 220:
                raise _Broken(f"accueil du serveur : {_words(code, reply)}", "connect")
            if conn.sock is not None and conn.sock.family in (socket.AF_INET, socket.AF_INET6):
                # the end of data goes in its own small write: without this, Nagle holds it for an ACK
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo_or_helo_if_needed()
            if self.starttls:
                context = self._ssl_context or ssl.create_default_context()
                conn._host = self.host  # smtplib sets it only when its constructor connects: the certificate's name
                conn.starttls(context=context)
                conn.ehlo()
            if self.user is not None:
                conn.login(self.user, self._password or "")
        except _Broken:
            conn.close()
            raise
        except smtplib.SMTPNotSupportedError as err:
            conn.close()
            raise _Broken(f"{err} (STARTTLS ou AUTH non proposé par le serveur)", "connect") from err
        except smtplib.SMTPResponseException as err:
            conn.close()
            raise _Broken(_words(err.smtp_code, err.smtp_error), "connect") from err
        except (OSError, smtplib.SMTPException) as err:  # refused, reset, timeout, TLS
            conn.close()
            reason = f"connexion impossible à {self.host}:{self.port} : {_os_reason(err)}"
            raise _Broken(reason, "connect") from err
        with self._stats_lock:
            self.connections_opened += 1
        return conn

    def _connection(self, lane: _Lane) -> smtplib.SMTP:
        """Return the lane's connection, reopened when missing or found dead by NOOP after a long idle."""
        if lane.conn is not None and self.noop_after is not None \
                and time.monotonic() - lane.last_used > self.noop_after:
            try:
                if lane.conn.noop()[0] != 250:
                    self._discard(lane)
            except OSError:
                self._discard(lane)
        if lane.conn is None:
            lane.conn = self._open()
        return lane.conn

    @staticmethod
    def _discard(lane: _Lane) -> None:
        if lane.conn is not None:
            try:
                lane.conn.close()
            finally:
                lane.conn = None

    def check(self) -> None:
        """Connect (and log in) on lane 0 now, or raise SmtpError saying why."""
        lane = self._lanes[0]
        with lane.lock:
            try:
                self._connection(lane)
            except _Broken as err:
                raise SmtpError(str(err), where=f"smtp://{self.host}:{self.port}",
                                hint="vérifiez --smtp-host, --smtp-port, --smtp-starttls, --smtp-user et le mot de passe") \
                    from err
            lane.last_used = time.monotonic()

    def close(self) -> None:
        """Say QUIT on every open lane and close it."""
        for lane in self._lanes:
            with lane.lock:
                if lane.conn is None:
                    continue
                try:
                    lane.conn.quit()
                except OSError:
                    pass
                finally:
                    self._discard(lane)

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one message -------------------------------------------------------------------------

    def send(self, lane_index: int, message: Message, *, before_end: Callable[[], bool] | None = None,
             after_end: Callable[[], None] | None = None) -> SendResult:
        """Send MESSAGE over lane LANE_INDEX to its To, Cc and Bcc addresses (or a WireMessage's recipients).

        BEFORE_END, when given, is called right before the end of data, the point after which the
        server may accept the message: it may wait (send_many waits there for the lane's previous
        outcome to be recorded); False abandons the message (the connection is closed, the server
        drops it) and the outcome is ``retry``. AFTER_END, when given, is called once the end of
        data is on the wire, while the server takes the message in (send_many makes the lane's next
        message there); it must not raise.
        """
        if isinstance(message, WireMessage):
            recipients = list(message.recipients)
            sender = self.sender or message.sender
        else:
            recipients = _envelope_recipients(message)
            sender = self.sender or parseaddr(str(message.get("Sender") or message.get("From") or ""))[1]
        if not recipients:
            raise ValueError("the message has no To, Cc or Bcc address")
        lane = self._lanes[lane_index]
        with lane.lock:
            while True:
                reused = lane.conn is not None
                try:
                    conn = self._connection(lane)
                    result = self._transaction(lane, conn, sender, recipients, message, before_end, after_end)
                except _Broken as err:
                    self._discard(lane)
                    if reused:  # the server had dropped an idle connection: once more on a fresh one
                        continue
                    return SendResult("retry", str(err), None, err.stage)
                except BaseException:  # a caller's callback failed mid-transaction: the connection is unusable
                    self._discard(lane)
                    raise
                lane.last_used = time.monotonic()
                return result

    def _transaction(self, lane: _Lane, conn: smtplib.SMTP, sender: str, recipients: list[str], message: Message,
                     before_end: Callable[[], bool] | None = None,
                     after_end: Callable[[], None] | None = None) -> SendResult:
        """MAIL, RCPT, DATA on an open connection; raise _Broken while resending is still safe."""
        international = not sender.isascii() or not all(r.isascii() for r in recipients)
        if international and not conn.has_extn("smtputf8"):
            return SendResult("failed", "le serveur n'accepte pas les adresses non ASCII (pas de SMTPUTF8)",
                              None, "MAIL")
        wire = isinstance(message, WireMessage)
        data = message.data if wire else self._serialize(message, utf8=international, eight_bit=True)
        options: list[str] = []
        if not data.isascii():
            if conn.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
            elif wire:  # bytes as given: nothing to re-encode them with
                return SendResult("failed", "le serveur n'accepte pas les données 8 bits (pas de 8BITMIME)", None, "MAIL")
            else:
                data = self._serialize(message, utf8=False, eight_bit=False)
        if international:
            options.append("SMTPUTF8")

        code, reply = self._command(conn, "MAIL", lambda: conn.mail(sender, options))
        if code != 250:
            return self._reset(lane, conn, _classify(code, reply, "MAIL"))
        refused: list[SendResult] = []
        for rcpt in recipients:
            code, reply = self._command(conn, "RCPT", partial(conn.rcpt, rcpt))
            if code not in (250, 251):
                refused.append(_classify(code, reply, "RCPT"))
        if len(refused) == len(recipients):
            temporary = [r for r in refused if r.outcome == "retry"]
            return self._reset(lane, conn, temporary[0] if temporary else refused[0])

        def start_data() -> tuple[int, bytes]:
            conn.putcmd("data")
            return conn.getreply()

        code, reply = self._command(conn, "DATA", start_data)
        if code != 354:
            return self._reset(lane, conn, _classify(code, reply, "DATA"))
        body = _LEADING_DOT.sub(b"..", data)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        if before_end is not None and not before_end():
            self._discard(lane)  # closed mid-DATA, no end of data: the server drops the message
            return SendResult("retry", "message abandonné avant sa fin : l'envoi s'est arrêté", None, "body")
        # From here the server may accept the message: no automatic resend any more.
        try:
            conn.send(body + b".\r\n")
            if after_end is not None:
                after_end()
            code, reply = conn.getreply()
        except OSError as err:
            self._discard(lane)
            return SendResult("retry", f"connexion perdue après l'envoi du message, le serveur l'a peut-être "
                                       f"reçu : {_os_reason(err)}", None, "body")
        if code == 421:
            self._discard(lane)
        if code != 250:
            return _classify(code, reply, "body")
        words = _words(code, reply)
        if refused:
            words += "; refused: " + "; ".join(r.detail for r in refused)
        return SendResult("sent", words, code, "body")

    def _command(self, conn: smtplib.SMTP, name: str, call: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        """Run one command before the body; a lost connection or a 421 (server closing) means _Broken."""
        try:
            code, reply = call()
        except OSError as err:
            raise _Broken(f"connexion perdue à {name} : {_os_reason(err)}", name) from err
        if code == 421:
            raise _Broken(f"à {name} : {_words(code, reply)}", name)
        return code, reply

    def _reset(self, lane: _Lane, conn: smtplib.SMTP, result: SendResult) -> SendResult:
        """End the failed transaction with RSET so the connection can carry the next message."""
        try:
            if conn.rset()[0] != 250:
                self._discard(lane)
        except OSError:
            self._discard(lane)
        return result

    @staticmethod
    def _serialize(message: EmailMessage, *, utf8: bool, eight_bit: bool) -> bytes:
        policy = message.policy.clone(linesep="\r\n", cte_type="8bit" if eight_bit else "7bit")
        if utf8 and isinstance(policy, EmailPolicy):
            policy = policy.clone(utf8=True)
        if "Bcc" in message or "Resent-Bcc" in message:
            message = copy.copy(message)  # deleting reassigns the header list: the caller's stays whole
            del message["Bcc"], message["Resent-Bcc"]
        buffer = io.BytesIO()
        BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
        return buffer.getvalue()

    # -- many messages -----------------------------------------------------------------------

    def send_many(self, messages: Iterable[tuple[str, Message | Callable[[], Message]]],
                  record: Callable[[str, SendResult], None], *,
                  ready: Callable[[str], bool] | None = None) -> Counter[str]:
        """Send (key, message) pairs over every lane; each lane records its own outcomes; return the counts.

        MESSAGES is consumed lazily in this thread (it may claim rows as it goes), a little ahead of
        the lanes: one message waiting per lane. A message may be given as a function that makes it:
        the lane calls it while the server takes in the lane's message before.

        RECORD(key, result) is called once per message tried, in a thread of the lane that tried it
        (its recorder: the lane hands each outcome over and goes on with its next message), and is
        complete before that lane ends another message: the record (a database commit, say) runs
        while the lane's next MAIL, RCPT and DATA are exchanged instead of adding to them. What the
        server accepted but nobody recorded thus never exceeds the lanes (a crash can repeat at most
        that many), and no outcome waits for another lane.

        READY(key), when given, is asked before a message is handed to a lane and again (in the
        lane's thread) right before its end: False stops the sending; that message and the rest are
        neither sent nor recorded (the caller gives them back). A message abandoned before its end is
        never accepted. An exception (from RECORD, from making a message, or a bug) stops every lane
        at its next step and is raised here once they all have stopped; outcomes in hand are recorded
        first.
        """
        tasks: queue.Queue[tuple[str, Message | Callable[[], Message]] | None] = queue.Queue(maxsize=self.lanes)
        stop = threading.Event()
        errors: list[BaseException] = []
        counts = [Counter[str]() for _ in self._lanes]

        def wanted(key: str) -> bool:
            if stop.is_set() or (ready is not None and not ready(key)):
                stop.set()
                return False
            return True

        def made(task: tuple[str, Message | Callable[[], Message]] | None) -> tuple[str, Message | BaseException] | None:
            if task is None or not callable(task[1]):
                return task  # type: ignore[return-value]
            try:
                return task[0], task[1]()
            except BaseException as err:  # raised when its turn comes, after what is in hand is recorded
                return task[0], err

        def work(index: int, recorder: ThreadPoolExecutor) -> None:
            recording: list[Future[None]] = []  # this lane's last outcome, being recorded
            upcoming: list[tuple[str, Message | BaseException] | None] = []  # taken while the server answered

            def settle() -> None:
                if recording:
                    recording.pop().result()  # what the record raised is raised here

            def prepare() -> None:  # after an end of data: make the next message while the server takes this one
                if not upcoming:
                    with suppress(queue.Empty):
                        upcoming.append(made(tasks.get_nowait()))

            marked = False  # this lane took its stop marker: the queue is no longer its to drain
            try:
                while True:
                    task = upcoming.pop() if upcoming else made(tasks.get())
                    if task is None:
                        marked = True
                        break
                    key, message = task
                    if isinstance(message, BaseException):
                        raise message
                    if stop.is_set():
                        continue  # drained, never sent
                    abandoned = False

                    def before_end(key: str = key) -> bool:
                        nonlocal abandoned
                        settle()
                        abandoned = not wanted(key)
                        return not abandoned

                    result = self.send(index, message, before_end=before_end, after_end=prepare)
                    settle()  # the previous outcome, when the transaction never got to its end
                    if not abandoned:  # abandoned before its end: never accepted, not recorded
                        counts[index][result.outcome] += 1
                        recording.append(recorder.submit(record, key, result))
                settle()
            except BaseException as err:  # a failed record or a bug: hand it to the caller's thread
                stop.set()
                errors.append(err)
                with suppress(Exception):
                    settle()  # an outcome being recorded still ends (the first error is the one raised)
                if not marked and None not in upcoming:
                    # let the caller's put() go on until it says stop; a lane that took its marker
                    # already must not take another lane's, which would then wait for ever
                    while tasks.get() is not None:
                        pass

        recorders = [ThreadPoolExecutor(1, thread_name_prefix=f"smtp-lane-{i}-record") for i in range(self.lanes)]
        workers = [threading.Thread(target=work, args=(i, recorders[i]), name=f"smtp-lane-{i}", daemon=True)
                   for i in range(self.lanes)]
        for worker in workers:
            worker.start()
        try:
            for item in messages:
                if not wanted(item[0]):
                    break
                tasks.put(item)
        except BaseException:
            stop.set()
            raise
        finally:
            for _ in workers:
                tasks.put(None)
            for worker in workers:
                worker.join()
            for recorder in recorders:
                recorder.shutdown()
        if errors:
            raise errors[0]
        return sum(counts, Counter())
