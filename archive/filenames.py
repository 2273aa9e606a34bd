"""Platform file names are hostile input: make them safe before any filesystem use."""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")
_RESERVED = (
    {"", ".", ".."}
    | {f"{n}{i}" for n in ("com", "lpt") for i in range(10)}
    | {
        "con",
        "prn",
        "aux",
        "nul",
    }
)


def safe_filename(name: str, *, fallback: str = "file", max_length: int = 120) -> str:
    """A single path component: no separators, control characters or dot-dot.

    ``../../etc/passwd`` becomes ``etc_passwd``; an empty or reserved name
    becomes ``fallback``. Unicode is normalized (NFC) and kept.
    """
    text = unicodedata.normalize("NFC", name)
    text = _UNSAFE.sub("_", text).strip(" ._")
    text = re.sub(r"_+", "_", text)
    stem, dot, ext = text.rpartition(".")
    if len(text) > max_length:
        keep = max_length - len(ext) - 1 if dot and len(ext) <= 16 else max_length
        text = (stem[:keep] + "." + ext) if dot and len(ext) <= 16 else text[:max_length]
    if text.lower().split(".")[0] in _RESERVED:
        return fallback
    return text
