"""Durations given on the command line (``verify --max-age``, ``review list --older-than``).

Shared by command modules, so it lives outside ``chatkeeper/commands/``: a command
module never imports another.
"""

from __future__ import annotations

from datetime import timedelta

from archive.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_age(text: str, option: str = "--max-age") -> timedelta:
    """``7200``, ``7200s``, ``90m``, ``2h`` or ``1d`` as a duration; ConfigError naming ``option``."""
    number, unit = (text[:-1], text[-1]) if text and text[-1] in _UNITS else (text, "s")
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(
            f"{option} {text!r}: give a positive duration such as 7200, 90m, 2h or 1d"
        )
    return timedelta(seconds=seconds)
