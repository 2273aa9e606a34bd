"""Mail header fields written by hand, so that they decode back to exactly the original text.

Python's email package folds long headers of mixed scripts wrongly (it can
drop the space before an encoded word and double the one after it), so
chatkeeper writes the fields of its EML and RSMF files itself:

- ``unstructured``: ASCII text is folded only before a space (unfolding
  restores it exactly); other text becomes a run of RFC 2047 ``Q`` encoded
  words, each holding whole characters, spaces included, so the white space
  between the words is ignored by every RFC 2047 decoder (Python's email,
  notmuch, mu). ``Q``, not ``B``: GMime (notmuch, mu) joins adjacent encoded
  words before decoding them, and the padding of a ``B`` word in the middle
  ends its base64 decoding, losing the rest of the header;
- ``mailbox``: a display name (a quoted string, or encoded words) and an
  address;
- ``utf8_list``: RFC 6532 UTF-8 text, as Relativity reads ``X-RSMF-*``
  headers: a comma-separated list, each item that holds a comma or a double
  quote written as a quoted string, folded only after a separator.

Control characters (CR and LF included) are never written into a header: they
become spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

_LINE = 78
_WORD_TEXT = 54  # encoded characters per word: "=?utf-8?q?" + 54 + "?=" is 66 (RFC 2047: 75)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ATOMS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+( [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def clean(value: str) -> str:
    """The value with control characters (line breaks included) as spaces."""
    return _CONTROL.sub(" ", value)


def _q(char: str) -> str:
    """One character in RFC 2047 ``Q`` form, safe in text and in phrases alike."""
    if char == " ":
        return "_"
    if char.isascii() and char.isalnum():
        return char
    return "".join(f"={byte:02X}" for byte in char.encode("utf-8"))


class _QForms(dict[int, str]):
    """Each character's ``Q`` form by code point, for ``str.translate`` (filled as met)."""

    def __missing__(self, code: int) -> str:
        form = self[code] = _q(chr(code))
        return form


_Q_FORMS = _QForms()
_CONTINUATION = frozenset("89AB")  # =8x..=Bx: a UTF-8 continuation byte, inside a character


def _encoded_words(text: str) -> Iterator[str]:
    """Words of at most ``_WORD_TEXT`` encoded characters, each holding whole characters.

    The text is encoded at once; each word then ends at the last character
    boundary that fits: never inside an ``=XX`` escape, nor before the escape
    of a UTF-8 continuation byte.
    """
    encoded = text.translate(_Q_FORMS)
    size = len(encoded)
    start = 0
    while start < size:
        end = start + _WORD_TEXT
        if end >= size:
            end = size
        else:
            if encoded[end - 1] == "=":
                end -= 1
            elif encoded[end - 2] == "=":
                end -= 2
            while encoded[end] == "=" and encoded[end + 1] in _CONTINUATION:
                end -= 3
        yield f"=?utf-8?q?{encoded[start:end]}?="
        start = end


def _fold_ascii(name: str, value: str) -> str:
    """Fold before spaces only, so that removing each CRLF gives back ``value``."""
    lines: list[str] = []
    line = f"{name}:"
    pieces = re.split(r"(?= )", " " + value) if value else [" "]
    for piece in pieces:
        if len(line) + len(piece) > _LINE and piece.strip(" ") and line != f"{name}:":
            lines.append(line)
            line = piece
        else:
            line += piece
    lines.append(line)
    return "\r\n".join(lines)


def _needs_encoding(value: str) -> bool:
    if not value.isascii() or "=?" in value:
        return True
    return any(len(word) > 900 for word in value.split(" ")) or value != value.strip(" ")


def unstructured(name: str, value: str) -> bytes:
    """``Name: value`` CRLF, folded or RFC 2047-encoded as needed."""
    value = clean(value)
    if not _needs_encoding(value):
        return (_fold_ascii(name, value) + "\r\n").encode("ascii")
    return (f"{name}: " + "\r\n ".join(_encoded_words(value)) + "\r\n").encode("ascii")


def phrase(display: str) -> str:
    """A display name as an RFC 5322 phrase: atoms, a quoted string, or encoded words."""
    display = clean(display)
    if not display.isascii() or "=?" in display:
        return "\r\n ".join(_encoded_words(display))
    if _ATOMS.match(display):
        return display
    return '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox(name: str, display: str, address: str) -> bytes:
    """``Name: display <address>`` CRLF (``address`` must be ASCII)."""
    if not display:
        return f"{name}: <{address}>\r\n".encode("ascii")
    words = phrase(display)
    last = words.rsplit("\r\n", 1)[-1]
    gap = " " if len(f"{name}: {last} <{address}>") <= _LINE else "\r\n "
    return f"{name}: {words}{gap}<{address}>\r\n".encode("ascii")


def quote_item(item: str) -> str:
    """A list item, as a quoted string when it holds a comma or a double quote."""
    item = clean(item)
    if "," in item or '"' in item or item != item.strip(" "):
        return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return item


def split_items(value: str) -> list[str]:
    """The items of a ``utf8_list`` value (its reader; the tests use it)."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current).strip(" "))
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip(" "))
    return items if value else []


def utf8_list(name: str, items: Iterable[str]) -> bytes:
    """``Name: a, "b, c", d`` CRLF in UTF-8 (RFC 6532), folded only after a separator."""
    lines: list[str] = []
    line = f"{name}:"
    for index, item in enumerate(quote_item(i) for i in items):
        piece = " " + item
        if index and len(line.encode("utf-8")) + len(piece.encode("utf-8")) > _LINE:
            lines.append(line)
            line = piece
        else:
            line += piece
        line += ","
    line = line.removesuffix(",")
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def utf8(name: str, value: str) -> bytes:
    """``Name: value`` CRLF in UTF-8 (RFC 6532), folded before spaces only."""
    return (_fold_ascii(name, clean(value)) + "\r\n").encode("utf-8")
