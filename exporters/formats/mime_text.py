"""A single-part text message's fields and body, as the email package writes them.

Building an ``email.message.EmailMessage`` and generating it costs more than
everything else an eml export does for a message. For the common case (short
ASCII fields, a UTF-8 text body, no attachment) these functions write the very
bytes the email package writes under ``email.policy.SMTP``; a message they do
not cover (a field the package would fold or encode, an attachment) is still
written by the email package. The tests compare the two on every shape of
message the exporters produce.
"""

from __future__ import annotations

from collections.abc import Iterable
from email import quoprimime

_LINE = 78  # email.policy.SMTP.max_line_length
TEXT_PART = (
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"MIME-Version: 1.0\r\n"
    b"\r\n"
)


def plain_fields(fields: Iterable[tuple[str, str]]) -> bytes | None:
    """``Name: value`` lines for ASCII values that need no encoding; None if one does.

    A value that does not fit on the name's line goes on the next one (as the
    email package folds it) when it has no space and fits there; an empty one
    leaves the name alone on its line.
    """
    lines = []
    for name, value in fields:
        if not value:
            lines.append(f"{name}:\r\n")
            continue
        if not value.isascii() or not value.isprintable() or "=?" in value:
            return None
        if value != value.strip(" "):
            return None
        if len(name) + 2 + len(value) <= _LINE:
            lines.append(f"{name}: {value}\r\n")
        elif " " not in value and 1 + len(value) <= _LINE:
            lines.append(f"{name}:\r\n {value}\r\n")
        else:
            return None
    return "".join(lines).encode("ascii")


def quoted_printable(text: str) -> bytes:
    """``text`` as a UTF-8 quoted-printable body with CRLF line ends (``set_content``'s)."""
    lines = text.encode("utf-8").splitlines()
    data = quoprimime.body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), _LINE)
    return data.replace("\n", "\r\n").encode("ascii")
