"""The SMTP mailer against a real SMTP server on localhost (aiosmtpd): what the server received is asserted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from cnam_calendar.mail.smtp import Mailer, SendResult, SmtpError, WireMessage, backoff
from tests.support.smtp_sink import SmtpSink, free_port, read_record, running_sink, sink_process

SENDER = "rappels@cnam.test"


def reminder(n: int, to: str = "learner@example.org", **headers: str) -> EmailMessage:
    """A small French reminder with a stable Message-ID."""
    message = EmailMessage()
    message["From"] = f"Cnam Occitanie <{SENDER}>"
    message["To"] = to
    message["Subject"] = f"Rappel : confirmation CPF avant le 3 décembre ({n})"
    message["Message-ID"] = f"<r{n}@cnam.test>"
    message["Auto-Submitted"] = "auto-generated"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    # a line starting with a dot checks the dot-stuffing both ways
    message.set_content(f"Bonjour,\n\nVotre échéance approche ({n}).\n.\n.fin\n")
    return message


def wire_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with running_sink() as server:
        yield server


@pytest.fixture
def mailer(sink: SmtpSink) -> Iterator[Mailer]:
    with Mailer("127.0.0.1", sink.port, sender=SENDER, local_hostname="client.test", timeout=10) as m:
        yield m


def test_delivered_message_is_what_was_sent(sink: SmtpSink, mailer: Mailer) -> None:
    message = reminder(1, Cc="tutor@example.org", Bcc="audit@cnam.test")
    result = mailer.send(0, message)
    assert result == SendResult("sent", "250 2.0.0 OK accepted", 250)
    [got] = sink.messages
    assert got.mail_from == SENDER
    assert got.rcpt_tos == ("learner@example.org", "tutor@example.org", "audit@cnam.test")
    assert got.message_id == "<r1@cnam.test>"
    parsed = message_from_bytes(got.data, policy=default_policy)
    for name in ("From", "To", "Cc", "Subject", "Message-ID", "Auto-Submitted"):
        assert parsed[name] == message[name]
    assert "Bcc" not in parsed  # blind copies travel in the envelope only
    assert "Bcc" in message  # and the caller's message is left whole
    del message["Bcc"]
    assert got.data == wire_bytes(message)
    assert parsed.get_content().replace("\r\n", "\n") == message.get_content()


def test_one_lane_reuses_one_connection(sink: SmtpSink, mailer: Mailer) -> None:
    results = [mailer.send(0, reminder(n)) for n in range(25)]
    assert {r.outcome for r in results} == {"sent"}
    assert sink.connections == 1
    assert len({m.connection for m in sink.messages}) == 1
    assert mailer.connections_opened == 1
    assert sink.message_ids() == [f"<r{n}@cnam.test>" for n in range(25)]


@pytest.mark.parametrize("at", ["MAIL", "RCPT", "DATA"])
def test_451_is_retry_with_the_server_words_then_sent(sink: SmtpSink, mailer: Mailer, at: str) -> None:
    sink.tempfail(1, at=at)
    first = mailer.send(0, reminder(1))
    stage = {"MAIL": "MAIL", "RCPT": "RCPT", "DATA": "body"}[at]  # the sink's DATA fault answers the body
    assert first == SendResult("retry", "451 4.3.0 try again later", 451, stage)
    assert sink.messages == []
    assert mailer.send(0, reminder(1)).outcome == "sent"
    assert sink.message_ids() == ["<r1@cnam.test>"]
    assert sink.connections == 1  # a 4xx does not cost the connection


def test_refused_recipient_is_a_permanent_failure(sink: SmtpSink, mailer: Mailer) -> None:
    sink.refuse("gone@example.org")
    result = mailer.send(0, reminder(1, to="gone@example.org"))
    assert result.outcome == "failed" and result.permanent
    assert (result.detail, result.code, result.stage) == ("550 5.1.1 mailbox unavailable", 550, "RCPT")
    assert sink.messages == []
    assert mailer.send(0, reminder(2)).outcome == "sent"  # the transaction was reset, the connection kept
    assert sink.message_ids() == ["<r2@cnam.test>"] and sink.connections == 1


def test_one_refused_recipient_of_two_still_sends_to_the_other(sink: SmtpSink, mailer: Mailer) -> None:
    sink.refuse("gone@example.org")
    result = mailer.send(0, reminder(1, to="learner@example.org, gone@example.org"))
    assert result.outcome == "sent"
    assert "550 5.1.1" in result.detail
    assert [m.rcpt_tos for m in sink.messages] == [("learner@example.org",)]


def test_554_at_data_is_a_permanent_failure(sink: SmtpSink, mailer: Mailer) -> None:
    sink.reject_data("learner@example.org")
    result = mailer.send(0, reminder(1))
    assert result == SendResult("failed", "554 5.7.1 message refused", 554)
    assert sink.messages == []


def test_connection_dropped_before_the_reply_is_retry_and_never_counted(sink: SmtpSink, mailer: Mailer) -> None:
    sink.drop(1)
    result = mailer.send(0, reminder(1))
    assert result.outcome == "retry"
    assert "connexion perdue après l'envoi du message" in result.detail
    assert sink.messages == []  # the server did not accept it, and the mailer did not say sent
    assert mailer.send(0, reminder(1)).outcome == "sent"
    assert sink.message_ids() == ["<r1@cnam.test>"]


def test_connection_dropped_after_acceptance_is_the_one_possible_duplicate(sink: SmtpSink, mailer: Mailer) -> None:
    sink.drop(1, after_accept=True)
    assert mailer.send(0, reminder(1)).outcome == "retry"  # no automatic resend once the body has left
    assert sink.message_ids() == ["<r1@cnam.test>"]
    assert mailer.send(0, reminder(1)).outcome == "sent"  # the caller's retry: same Message-ID twice
    assert sink.message_ids() == ["<r1@cnam.test>", "<r1@cnam.test>"]


def test_idle_connection_closed_by_the_server_is_reopened_and_sent_once(sink: SmtpSink, mailer: Mailer) -> None:
    assert mailer.send(0, reminder(1)).outcome == "sent"
    assert sink.close_connections() == 1
    assert sink.wait_for(lambda s: s.open_connections == 0)
    assert mailer.send(0, reminder(2)).outcome == "sent"  # failed at MAIL FROM: resending was safe
    assert sink.message_ids() == ["<r1@cnam.test>", "<r2@cnam.test>"]
    assert sink.connections == 2 and mailer.connections_opened == 2


def test_421_before_data_reconnects_once(sink: SmtpSink, mailer: Mailer) -> None:
    assert mailer.send(0, reminder(1)).outcome == "sent"
    sink.tempfail(1, at="MAIL", reply="421 4.7.0 too many messages on this connection")
    assert mailer.send(0, reminder(2)).outcome == "sent"
    assert sink.connections == 2
    assert sink.message_ids() == ["<r1@cnam.test>", "<r2@cnam.test>"]


def test_idle_lane_is_checked_with_noop(sink: SmtpSink) -> None:
    with Mailer("127.0.0.1", sink.port, noop_after=0.0, local_hostname="client.test") as mailer:
        assert [mailer.send(0, reminder(n)).outcome for n in range(3)] == ["sent"] * 3
        assert sink.connections == 1  # NOOP answered: the connection is kept


def test_connection_refused_is_retry_and_check_says_why() -> None:
    port = free_port()  # nothing listens there
    mailer = Mailer("127.0.0.1", port, local_hostname="client.test", timeout=5)
    result = mailer.send(0, reminder(1))
    assert (result.outcome, result.stage) == ("retry", "connect")
    assert result.detail.startswith(f"connexion impossible à 127.0.0.1:{port} : connexion refusée")
    with pytest.raises(SmtpError) as caught:
        mailer.check()
    assert str(caught.value).startswith(f"smtp://127.0.0.1:{port} : connexion impossible")
    assert "--smtp-host" in str(caught.value)


def test_reply_timeout_is_retry(sink: SmtpSink) -> None:
    sink.delay(1.0)
    with Mailer("127.0.0.1", sink.port, timeout=0.3, local_hostname="client.test") as mailer:
        result = mailer.send(0, reminder(1))
    assert result.outcome == "retry"
    assert "le serveur l'a peut-être reçu" in result.detail and "timed out" in result.detail


def test_login(sink: SmtpSink) -> None:
    with running_sink(auth={"rappels": "s3cret"}) as guarded:
        with Mailer("127.0.0.1", guarded.port, user="rappels", password="s3cret",
                    local_hostname="client.test") as mailer:
            mailer.check()
            assert mailer.send(0, reminder(1)).outcome == "sent"
        wrong = Mailer("127.0.0.1", guarded.port, user="rappels", password="guess", local_hostname="client.test")
        result = wrong.send(0, reminder(2))
        assert result.outcome == "retry" and result.detail.startswith("535")
        with pytest.raises(SmtpError, match="535"):
            wrong.check()
        assert guarded.message_ids() == ["<r1@cnam.test>"]
    with pytest.raises(SmtpError, match="sans mot de passe"):
        Mailer("127.0.0.1", sink.port, user="rappels")


def test_international_address_uses_smtputf8(sink: SmtpSink, mailer: Mailer) -> None:
    assert mailer.send(0, reminder(1, to="élodie@exemple.fr")).outcome == "sent"
    assert sink.messages[0].rcpt_tos == ("élodie@exemple.fr",)


def test_many_lanes_deliver_a_batch_without_loss_or_duplicate(sink: SmtpSink) -> None:
    sink.tempfail_every(37)  # 4xx spread over the batch, retried by the caller below
    keys = [f"k{n}" for n in range(500)]
    messages = {key: reminder(n) for n, key in enumerate(keys)}
    outcomes: dict[str, list[str]] = {key: [] for key in keys}
    threads = set()

    def record(key: str, result: SendResult) -> None:
        threads.add(threading.get_ident())
        outcomes[key].append(result.outcome)

    with Mailer("127.0.0.1", sink.port, lanes=4, local_hostname="client.test") as mailer:
        counts = mailer.send_many(((k, messages[k]) for k in keys), record)
        assert counts["sent"] + counts["retry"] == 500 and counts["retry"] >= 10
        for _ in range(5):
            again = [k for k in keys if outcomes[k][-1] == "retry"]
            if not again:
                break
            mailer.send_many(((k, messages[k]) for k in again), record)
    assert threads and threading.get_ident() not in threads  # the lanes record their own outcomes
    assert all(o[-1] == "sent" for o in outcomes.values())
    ids = sink.message_ids()
    assert len(ids) == 500 and set(ids) == {f"<r{n}@cnam.test>" for n in range(500)}
    assert sink.connections == 4


def test_send_many_takes_messages_lazily(sink: SmtpSink) -> None:
    taken = 0

    def source() -> Iterator[tuple[str, EmailMessage]]:
        nonlocal taken
        for n in range(40):
            taken += 1
            yield str(n), reminder(n)

    most_ahead = 0

    def record(key: str, result: SendResult) -> None:
        nonlocal most_ahead
        most_ahead = max(most_ahead, taken - done())

    seen: list[str] = []

    def done() -> int:
        return len(seen)

    with Mailer("127.0.0.1", sink.port, lanes=2, local_hostname="client.test") as mailer:
        mailer.send_many(source(), lambda k, r: (seen.append(k), record(k, r))[-1])
    # per lane one message being sent and one made ahead, one waiting per lane, one in this thread
    assert len(seen) == 40 and most_ahead <= 3 * 2 + 1


@pytest.mark.parametrize("lanes", [1, 2])
def test_an_error_in_on_result_stops_the_batch(sink: SmtpSink, lanes: int) -> None:
    def explode(key: str, result: SendResult) -> None:
        if key == "3":
            raise RuntimeError("the delivery table is gone")

    with Mailer("127.0.0.1", sink.port, lanes=lanes, local_hostname="client.test") as mailer:
        with pytest.raises(RuntimeError, match="delivery table"):
            mailer.send_many(((str(n), reminder(n)) for n in range(1000)), explode)
    assert len(sink.messages) < 20


def test_a_message_without_recipient_is_a_bug_raised_in_the_caller(sink: SmtpSink) -> None:
    nobody = reminder(1)
    del nobody["To"]
    with Mailer("127.0.0.1", sink.port, lanes=2, local_hostname="client.test") as mailer:
        with pytest.raises(ValueError, match="no To, Cc or Bcc"):
            mailer.send_many([("a", reminder(0)), ("b", nobody)], lambda k, r: None)


def test_a_wire_message_goes_as_is(sink: SmtpSink) -> None:
    data = wire_bytes(reminder(7))
    with Mailer("127.0.0.1", sink.port, local_hostname="client.test") as mailer:  # no sender: the message's
        result = mailer.send(0, WireMessage(data, "bounces@cnam.test", ("learner@example.org", "tutor@example.org")))
    assert result.outcome == "sent"
    [got] = sink.messages
    assert got.data == data and got.mail_from == "bounces@cnam.test"
    assert got.rcpt_tos == ("learner@example.org", "tutor@example.org")


@pytest.mark.parametrize("lanes", [1, 3])
def test_accepted_but_unrecorded_never_exceeds_the_lanes(sink: SmtpSink, lanes: int) -> None:
    # Recording is slow here (as a database commit can be): each lane goes on with its next message
    # while its recorder works, but ends none before its previous outcome is recorded, so accepted
    # but unrecorded never exceeds the lanes.
    recorded = 0
    worst = 0
    lock = threading.Lock()
    overlapped = 0

    def record(key: str, result: SendResult) -> None:
        nonlocal recorded, worst, overlapped
        assert result.outcome == "sent"
        time.sleep(0.003)
        with lock:
            worst = max(worst, len(sink.messages) - recorded)
            overlapped += len(sink.messages) > recorded + 1  # another lane's message came in meanwhile
            recorded += 1

    with Mailer("127.0.0.1", sink.port, lanes=lanes, local_hostname="client.test") as mailer:
        counts = mailer.send_many(((str(n), reminder(n)) for n in range(60)), record)
    assert counts == {"sent": 60} and recorded == 60
    assert 1 <= worst <= lanes
    if lanes > 1:
        assert overlapped > 0  # while one lane records, the others' messages go on
    assert sorted(sink.message_ids()) == sorted(f"<r{n}@cnam.test>" for n in range(60))


def test_a_lane_records_while_it_sends_its_next_message(sink: SmtpSink) -> None:
    # One lane: the record of message n runs while n+1 is under way and is done before n+1 ends
    # (never more accepted than the one being recorded); the last one is waited for at the end.
    events: list[tuple[str, int, int]] = []
    caller = threading.get_ident()

    def record(key: str, result: SendResult) -> None:
        assert threading.get_ident() != caller
        events.append((key, len(sink.messages), 0))
        time.sleep(0.002)
        events.append((key, len(sink.messages), 1))

    with Mailer("127.0.0.1", sink.port, local_hostname="client.test") as mailer:
        counts = mailer.send_many(((str(n), reminder(n)) for n in range(5)), record)
    assert counts == {"sent": 5}
    assert [(key, end) for key, _, end in events] == [(str(n), e) for n in range(5) for e in (0, 1)]
    for key, accepted, _ in events:
        assert accepted == int(key) + 1, events


def test_a_failed_record_stops_the_sending_within_the_lanes(sink: SmtpSink) -> None:
    recorded = 0
    lock = threading.Lock()

    def record(key: str, result: SendResult) -> None:
        nonlocal recorded
        with lock:
            if recorded >= 6:
                time.sleep(0.05)  # the other lanes end their messages meanwhile
                raise RuntimeError("the delivery table is gone")
            recorded += 1

    with Mailer("127.0.0.1", sink.port, lanes=3, local_hostname="client.test") as mailer:
        with pytest.raises(RuntimeError, match="delivery table"):
            mailer.send_many(((str(n), reminder(n)) for n in range(100)), record)
        accepted = len(sink.messages)
        assert mailer.send(0, reminder(999)).outcome == "sent"  # the mailer is still usable
    assert recorded <= accepted <= recorded + 3  # accepted but never recorded: at most one per lane


def test_a_message_no_longer_wanted_is_abandoned_before_its_end(sink: SmtpSink) -> None:
    # READY turns False (the daemon's lease ran low, or it stops) while the lanes hold written
    # messages: those are dropped before their end, never accepted, never recorded.
    reported: list[str] = []

    def record(key: str, result: SendResult) -> None:
        time.sleep(0.02)  # the other lane writes its next message meanwhile
        reported.append(key)

    with Mailer("127.0.0.1", sink.port, lanes=2, local_hostname="client.test") as mailer:
        counts = mailer.send_many(((str(n), reminder(n)) for n in range(50)), record,
                                  ready=lambda key: len(reported) < 5)
        assert mailer.send(0, reminder(999)).outcome == "sent"  # the lane's connection was replaced
    assert sum(counts.values()) == len(reported) and 5 <= len(reported) <= 5 + 2
    accepted = sink.message_ids()[:-1]
    assert sorted(accepted) == sorted(f"<r{key}@cnam.test>" for key in reported)


def test_close_leaves_no_connection_open(sink: SmtpSink) -> None:
    mailer = Mailer("127.0.0.1", sink.port, lanes=3, local_hostname="client.test")
    mailer.send_many(((str(n), reminder(n)) for n in range(30)), lambda k, r: None)
    assert 1 <= sink.open_connections == mailer.connections_opened <= 3
    mailer.close()
    assert sink.wait_for(lambda s: s.open_connections == 0), f"{sink.open_connections} still open"
    mailer.close()  # twice is harmless


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(a) for a in range(1, 9)] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]
    assert backoff(500) == timedelta(hours=1)
    jittered = [backoff(a, seed="learner-7:evt-1:P1D") for a in range(1, 9)]
    assert jittered == [backoff(a, seed="learner-7:evt-1:P1D") for a in range(1, 9)]  # same seed, same waits
    assert all(plain / 2 <= j <= plain for j, plain in zip(jittered, (backoff(a) for a in range(1, 9)), strict=True))
    assert backoff(3, seed="a") != backoff(3, seed="b")
    with pytest.raises(ValueError):
        backoff(0)


def test_sink_in_its_own_process_records_each_accepted_message(tmp_path: Path) -> None:
    record = tmp_path / "accepted.tsv"
    with sink_process(record, "--tempfail-every", "3") as port:
        with Mailer("127.0.0.1", port, local_hostname="client.test") as mailer:
            outcomes = [mailer.send(0, reminder(n)).outcome for n in range(6)]
    assert outcomes == ["sent", "sent", "retry", "sent", "sent", "retry"]
    rows = read_record(record)
    assert [mid for mid, _, _ in rows] == ["<r0@cnam.test>", "<r1@cnam.test>", "<r3@cnam.test>", "<r4@cnam.test>"]
    assert all(rcpts == "learner@example.org" for _, _, rcpts in rows)


@pytest.mark.parametrize("lanes", [1, 2])
def test_a_failing_last_record_ends_send_many_instead_of_hanging_it(sink: SmtpSink, lanes: int) -> None:
    # the lane that records the last message has taken its stop marker already: its failure must not
    # make it wait for (or swallow) another marker
    keys = [str(n) for n in range(3 * lanes)]
    outcome: list[BaseException | object] = []

    def record(key: str, result: SendResult) -> None:
        if key == keys[-1]:
            raise RuntimeError("the delivery table is gone")

    def run() -> None:
        with Mailer("127.0.0.1", sink.port, lanes=lanes, local_hostname="client.test") as mailer:
            try:
                outcome.append(mailer.send_many(((k, reminder(int(k))) for k in keys), record))
            except BaseException as err:  # noqa: BLE001 - handed to the test thread
                outcome.append(err)

    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(60)  # a bounded wait for the call to come back, not a measure of its speed
    assert not caller.is_alive(), "send_many never returned"
    [error] = outcome
    assert isinstance(error, RuntimeError) and "delivery table" in str(error)
    ids = [m.message_id for m in sink.messages]
    assert len(ids) == len(set(ids)) and f"<r{keys[-1]}@cnam.test>" in ids  # the failed record's message went out once
    if lanes == 1:
        assert len(ids) == len(keys)  # one lane sends in order: every message before the last went out
    else:
        # a refused record stops the sending: the other lane may not have sent its last message yet
        # (it goes back to the queue with its row); which one depends on the lanes' race
        assert set(ids) <= {f"<r{k}@cnam.test>" for k in keys} and len(ids) >= len(keys) - (lanes - 1)
