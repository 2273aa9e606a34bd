"""The hand-written text part of an EML message is byte for byte what the email package writes."""

from __future__ import annotations

import random
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from email.policy import default as default_policy

import pytest

from exporters.formats.mime_text import TEXT_PART, plain_fields, quoted_printable

_ALPHABET = "abc XYZ 019 =?_.,:;\"'()<>@\\é€😀ß中文…\u0301\t\r\n"
_LINES = ["From here on", ".", "", "   ", "trailing space ", "tab\t", "x" * 200, "=" * 90]


def _email_package(fields: list[tuple[str, str]], body: str) -> bytes:
    mail = EmailMessage(policy=SMTP)
    for name, value in fields:
        mail[name] = value
    mail.set_content(body, cte="quoted-printable")
    return mail.as_bytes()


def _bodies() -> list[str]:
    rng = random.Random(11)
    bodies = ["", "one line", "ends without newline", "\n\n", "a\r\nb\rc\n"]
    bodies += ["\n".join(rng.choice(_LINES) for _ in range(rng.randint(1, 8))) for _ in range(50)]
    bodies += [
        "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 400))) for _ in range(300)
    ]
    return bodies


FIELDS = [
    ("Date", "Mon, 02 Nov 2026 09:51:00 +0000"),
    ("Message-ID", "<adaafa5b24f86c9d43e0844dee53c848@chatkeeper.invalid>"),
    ("In-Reply-To", "<0123456789abcdef0123456789abcdef@chatkeeper.invalid>"),
    ("X-Chatkeeper-Record-Key", "b33297154b0b924b8f7a0e1185878d1579224a1e44874005a1812f718802fe52"),
    ("X-Chatkeeper-Seq", "25"),
    ("X-Chatkeeper-Bundle", ""),
    ("X-Chatkeeper-Verified", "NO (exported with --allow-unverified)"),
    ("X-Chatkeeper-Edited", "yes (earlier text not archived)"),
]


@pytest.mark.parametrize("body", _bodies(), ids=lambda body: f"{len(body)}-chars")
def test_text_part_equals_the_email_package(body: str) -> None:
    """Fields, MIME headers and quoted-printable body match ``set_content`` under SMTP."""
    plain = plain_fields(FIELDS)
    assert plain is not None
    produced = plain + TEXT_PART + quoted_printable(body)
    assert produced == _email_package(FIELDS, body)
    parsed = message_from_bytes(produced, policy=default_policy)
    expected = "\n".join(body.splitlines()) + "\n"
    assert parsed.get_content().replace("\r\n", "\n") == expected  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "value",
    ["y" * 100, "word " * 30, " leading", "trailing ", "=?utf-8?q?x?=", "é", "tab\there"],
)
def test_fields_the_email_package_would_fold_or_encode_are_left_to_it(value: str) -> None:
    """A value that does not fit the simple rules is refused (the email package writes it)."""
    assert plain_fields([("X-Chatkeeper-Test", value)]) is None


def test_short_and_next_line_fields_equal_the_email_package() -> None:
    """A 64-character key goes on the next line, an empty value leaves the name alone."""
    fields = [("X-Chatkeeper-Record-Key", "f" * 64), ("X-Chatkeeper-Bundle", ""), ("X-A", "b")]
    plain = plain_fields(fields)
    assert plain is not None
    assert plain + TEXT_PART + quoted_printable("x") == _email_package(fields, "x")
