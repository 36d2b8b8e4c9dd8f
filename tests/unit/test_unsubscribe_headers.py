"""The e-mails' List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post (RFC 8058) headers."""

from __future__ import annotations

import email
from email import policy

import pytest

from cnam_calendar.mail.compose import compose, render
from tests.support.daemons import template_payload

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def payload():
    p = template_payload()
    p["learner"]["key"] = KEY
    p["centre"]["unsubscribe"] = "stop@centre.example"
    return p


def headers(payload, **kwargs) -> email.message.EmailMessage:
    return compose(payload, "k1", sender="Rappels <rappels@example.org>", **kwargs)


def test_with_the_servers_address_the_one_click_url_comes_first(payload) -> None:
    msg = headers(payload, base_url="https://calendrier.example.org/")
    assert msg["List-Unsubscribe"] == (f"<https://calendrier.example.org/unsubscribe/{KEY}>, "
                                       f"<mailto:stop@centre.example?subject=stop%20{KEY}>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = render(payload, "k1", base_url="https://calendrier.example.org").data
    line = next(x for x in raw.split(b"\r\n") if x.startswith(b"List-Unsubscribe:"))
    assert len(line) < 998  # one unfolded line (RFC 5322 §2.1.1)


def test_without_it_only_the_mailto_and_no_post_header(payload) -> None:
    msg = headers(payload)
    assert msg["List-Unsubscribe"] == f"<mailto:stop@centre.example?subject=stop%20{KEY}>"
    assert msg["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize("key", ["", "not-a-key", KEY + "\r\nBcc: evil@example.org", KEY.upper()])
def test_a_payload_without_a_proper_key_gets_no_url(payload, key: str) -> None:
    payload["learner"]["key"] = key
    msg = email.message_from_bytes(render(payload, "k1", base_url="https://c.example").data, policy=policy.default)
    assert "/unsubscribe/" not in str(msg["List-Unsubscribe"])
    assert msg["List-Unsubscribe-Post"] is None and msg["Bcc"] is None
