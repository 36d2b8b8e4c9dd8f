"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts and injects faults on demand.

In-process, for tests::

    with running_sink() as sink:
        sink.tempfail(2)                      # 451 to the next two DATA commands
        sink.refuse("ghost@example.org")      # 550 5.1.1 at RCPT
        sink.reject_data("spam@example.org")  # 554 at the end of DATA
        sink.drop(1)                          # close the connection before answering the next message
        ... send ...
        assert sink.message_ids() == [...]

In its own process, for benchmarks and crash tests (one line per accepted message, appended
and written before the 250 goes out: ``Message-ID<TAB>accepted epoch seconds<TAB>recipients``)::

    python -m tests.support.smtp_sink --port 0 --record accepted.tsv

prints ``listening 127.0.0.1 PORT`` once it accepts connections and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

TEMPFAIL = "451 4.3.0 try again later"
MAILBOX_UNAVAILABLE = "550 5.1.1 mailbox unavailable"
DATA_REJECTED = "554 5.7.1 message refused"

_HEADERS = BytesHeaderParser(policy=default_policy)
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def message_id_of(data: bytes) -> str | None:
    """Return the Message-ID header of raw message DATA (a regex on the header block; the parser if folded)."""
    end = data.find(b"\r\n\r\n")
    found = _MESSAGE_ID.search(data, 0, end if end >= 0 else len(data))
    if found:
        return found.group(1).decode("ascii", "replace")
    parsed = _HEADERS.parsebytes(data).get("Message-ID")  # folded or odd: let the email package decide
    return str(parsed).strip() if parsed else None


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    """One message the sink accepted (answered 250 to its DATA)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message_id: str | None
    accepted_at: float  # time.time() when the 250 was decided
    connection: int  # serial number of the connection it came over (1 = first client connection)


class _Faults:
    """What the sink should do wrong next; changed by the test thread, read by the server thread."""

    def __init__(self) -> None:
        self.tempfail: dict[str, list] = {}  # command → [count left, reply]
        self.tempfail_every = 0
        self.refused: dict[str, str] = {}  # recipient (lower case) → RCPT reply
        self.data_rejected: dict[str, str] = {}  # recipient (lower case) → DATA reply
        self.drops = 0
        self.drop_after_accept = False
        self.delay = 0.0


class SmtpSink:
    """An aiosmtpd server in a thread of this process; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, *,
                 auth: dict[str, str] | None = None, tls: ssl.SSLContext | None = None,
                 on_accept: Callable[[Received], None] | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._faults = _Faults()
        self._received: list[Received] = []
        self._seen = 0  # DATA commands completed, for tempfail_every
        self._serial = 0
        self._open: dict[int, asyncio.BaseTransport] = {}
        self._ehlo_connections = 0
        self._on_accept = on_accept
        self._auth = dict(auth) if auth else None
        kwargs: dict = {"decode_data": False}
        if tls is not None:  # STARTTLS offered, with this server context
            kwargs["tls_context"] = tls
        if self._auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = _Controller(self, _Handler(self), hostname=host, port=self.port,
                                       server_hostname="sink.test", ready_timeout=10, **kwargs)

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        """Start listening; return self."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Close every connection and stop listening."""
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- fault injection ---------------------------------------------------------------------

    def tempfail(self, n: int = 1, *, at: str = "DATA", reply: str = TEMPFAIL) -> None:
        """Answer REPLY to the next N commands AT ("MAIL", "RCPT" or "DATA", at its end)."""
        at = at.upper()
        if at not in {"MAIL", "RCPT", "DATA"}:
            raise ValueError(f"tempfail at MAIL, RCPT or DATA, not {at!r}")
        with self._lock:
            self._faults.tempfail[at] = [n, reply]

    def tempfail_every(self, n: int) -> None:
        """Answer 451 at the end of every Nth DATA (0 turns it off)."""
        with self._lock:
            self._faults.tempfail_every = n

    def refuse(self, *recipients: str, reply: str = MAILBOX_UNAVAILABLE) -> None:
        """Refuse these recipients at RCPT with REPLY."""
        with self._lock:
            self._faults.refused.update({r.lower(): reply for r in recipients})

    def reject_data(self, *recipients: str, reply: str = DATA_REJECTED) -> None:
        """Answer REPLY at the end of DATA to any message addressed to one of these recipients."""
        with self._lock:
            self._faults.data_rejected.update({r.lower(): reply for r in recipients})

    def drop(self, n: int = 1, *, after_accept: bool = False) -> None:
        """Close the connection at the end of the next N messages' DATA instead of replying.

        With after_accept the message is recorded first (the client never hears the 250: the
        case that makes a duplicate); without, it is not recorded.
        """
        with self._lock:
            self._faults.drops = n
            self._faults.drop_after_accept = after_accept

    def delay(self, seconds: float) -> None:
        """Wait this long (without blocking other connections) before answering each DATA."""
        with self._lock:
            self._faults.delay = seconds

    def clear_faults(self) -> None:
        """Behave again."""
        with self._lock:
            self._faults = _Faults()

    def close_connections(self) -> int:
        """Close every open client connection now, as a server timing out idle clients does; return how many."""
        with self._lock:
            transports = list(self._open.values())
        for transport in transports:
            self._controller.loop.call_soon_threadsafe(transport.close)
        return len(transports)

    # -- what happened ------------------------------------------------------------------------

    @property
    def messages(self) -> list[Received]:
        """Every accepted message, in the order accepted."""
        with self._lock:
            return list(self._received)

    def message_ids(self) -> list[str | None]:
        """The Message-ID of every accepted message, in order."""
        return [m.message_id for m in self.messages]

    @property
    def connections(self) -> int:
        """Client connections that said EHLO or HELO so far."""
        with self._lock:
            return self._ehlo_connections

    @property
    def open_connections(self) -> int:
        """Connections open right now (those closing may still count for a moment)."""
        with self._lock:
            return len(self._open)

    def wait_for(self, predicate: Callable[[SmtpSink], bool], timeout: float = 5.0) -> bool:
        """Poll PREDICATE(self) until true or TIMEOUT seconds; return its last value."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                return predicate(self)
            time.sleep(0.01)
        return True

    # -- called by the server thread ------------------------------------------------------------

    def _connection_made(self, transport: asyncio.BaseTransport) -> int:
        with self._lock:
            self._serial += 1
            self._open[self._serial] = transport
            return self._serial

    def _connection_lost(self, serial: int) -> None:
        with self._lock:
            self._open.pop(serial, None)

    def _greeted(self) -> None:
        with self._lock:
            self._ehlo_connections += 1

    def _take_tempfail(self, command: str) -> str | None:
        with self._lock:
            entry = self._faults.tempfail.get(command)
            if entry and entry[0] > 0:
                entry[0] -= 1
                return entry[1]
        return None

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: object) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self._auth is None:
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        return AuthResult(success=self._auth.get(user) == password, handled=False)


class _SinkSMTP(SMTP):
    """aiosmtpd's SMTP protocol that tells the sink when connections open and close."""

    def __init__(self, sink: SmtpSink, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink
        self._serial = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._serial = self._sink._connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._sink._connection_lost(self._serial)
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, sink: SmtpSink, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink

    def factory(self) -> SMTP:
        return _SinkSMTP(self._sink, self.handler, **self.SMTP_kwargs)


class _Handler:
    """aiosmtpd hooks: faults first, then record."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        self.sink._greeted()
        return responses

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        session.host_name = hostname
        self.sink._greeted()
        return "250 sink.test"

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        reply = self.sink._take_tempfail("MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        reply = self.sink._take_tempfail("RCPT")
        if reply:
            return reply
        with self.sink._lock:
            refused = self.sink._faults.refused.get(address.lower())
        if refused:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sink = self.sink
        with sink._lock:
            faults = sink._faults
            delay = faults.delay
            rejected = next((faults.data_rejected[r.lower()] for r in envelope.rcpt_tos
                             if r.lower() in faults.data_rejected), None)
            drop = faults.drops > 0
            if drop:
                faults.drops -= 1
            drop_after_accept = faults.drop_after_accept
            sink._seen += 1
            every = faults.tempfail_every and sink._seen % faults.tempfail_every == 0
        if delay:
            await asyncio.sleep(delay)
        if drop and not drop_after_accept:
            return self._drop(server)
        reply = sink._take_tempfail("DATA") or (TEMPFAIL if every else None) or rejected
        if reply:
            return reply
        data = envelope.original_content or b""
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(data),
            message_id=message_id_of(data),
            accepted_at=time.time(),
            connection=getattr(server, "_serial", 0),
        )
        if sink._on_accept is not None:
            sink._on_accept(received)  # before the 250 leaves: a record never lags an acceptance
        with sink._lock:
            sink._received.append(received)
        if drop:
            return self._drop(server)
        return "250 2.0.0 OK accepted"

    @staticmethod
    def _drop(server: SMTP) -> str:
        if server.transport is not None:
            server.transport.abort()  # no reply goes out: the client sees the connection vanish
        return "451 4.3.0 dropped"  # written to a dead transport, never read


@contextmanager
def running_sink(**kwargs: object) -> Iterator[SmtpSink]:
    """Run an SmtpSink for the duration of the block."""
    sink = SmtpSink(**kwargs)  # type: ignore[arg-type]
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@contextmanager
def sink_process(record: str | os.PathLike[str], *args: str, ready_timeout: float = 30.0,
                 cpus: set[int] | None = None) -> Iterator[int]:
    """Run ``python -m tests.support.smtp_sink --record RECORD [ARGS]`` in its own process; yield its port.

    CPUS, when given, pins the sink to those processors (benchmarks keep it off the client's).
    """
    proc, port = start_sink_process(record, *args, ready_timeout=ready_timeout, cpus=cpus)
    try:
        yield port
    finally:
        end_process(proc)


def end_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM PROC and wait for it; SIGKILL it when it has not ended after TIMEOUT seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_sink_process(record: str | os.PathLike[str], *args: str, port: int = 0, ready_timeout: float = 30.0,
                       cpus: set[int] | None = None) -> tuple[subprocess.Popen[str], int]:
    """Start the sink process on PORT (0: a free one) and wait until it listens; return it and its port.

    The caller stops it (a relay outage: kill it, then start another on the same port).
    """
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cmd = [sys.executable, "-m", "tests.support.smtp_sink", "--port", str(port), "--record", os.fspath(record),
           *args]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        if cpus:
            os.sched_setaffinity(proc.pid, cpus)
        ready = threading.Timer(ready_timeout, proc.kill)  # a sink that never says "listening" is killed
        ready.start()
        line = proc.stdout.readline() if proc.stdout else ""
        ready.cancel()
        if not line.startswith("listening "):
            raise RuntimeError(f"the SMTP sink did not start: {line!r}, exit status {proc.poll()}")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, int(line.split()[2])


def read_record(path: str | os.PathLike[str]) -> list[tuple[str, float, str]]:
    """Return (Message-ID, accepted epoch seconds, recipients) for every line a sink process wrote."""
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.endswith("\n")]
    return [(mid, float(at), rcpts) for mid, at, rcpts in rows]


def _record_to(path: str) -> Callable[[Received], None]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def record(message: Received) -> None:
        line = f"{message.message_id or '-'}\t{message.accepted_at:.6f}\t{','.join(message.rcpt_tos)}\n"
        os.write(fd, line.encode("utf-8", "replace"))  # one write on an O_APPEND file: no buffer to lose

    return record


def main(argv: list[str] | None = None) -> int:
    """Run the sink in the foreground until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.smtp_sink", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--record", metavar="FILE", help="append one line per accepted message")
    parser.add_argument("--tempfail-every", type=int, default=0, metavar="N", help="451 at every Nth DATA")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS", help="before answering each DATA")
    args = parser.parse_args(argv)
    sink = SmtpSink(args.host, args.port or None, on_accept=_record_to(args.record) if args.record else None)
    sink.tempfail_every(args.tempfail_every)
    sink.delay(args.delay)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with sink:
        print(f"listening {sink.host} {sink.port}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
