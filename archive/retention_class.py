"""Retention classes: rules per platform, workspace and conversation (pure, no I/O).

A rule is ``PATTERN=PERIOD``: PATTERN is ``platform``, ``platform:workspace`` or
``platform:workspace:conversation`` (``*`` for a part matches anything), PERIOD
is ``Nd`` days or ``Ny`` years (a year counts as 365.25 days, rounded up, so
that N years always covers N calendar years). The most specific matching rule
chooses a record's retention class; none matching, ``archive.retention_days``
applies (rule ``default``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from archive.errors import ConfigError


@dataclass(frozen=True)
class RetentionRule:
    pattern: tuple[str, ...]  # 1 to 3 parts; "*" matches any
    period: timedelta
    text: str  # as configured, recorded in manifests

    @property
    def name(self) -> str:
        return self.text.rpartition("=")[2]

    def matches(self, conversation_key: str) -> bool:
        parts = conversation_key.split(":", 2)
        return all(p in ("*", parts[i]) for i, p in enumerate(self.pattern) if i < len(parts))


@dataclass(frozen=True)
class RetentionClass:
    name: str
    period: timedelta
    rule: str

    def manifest_fields(self) -> dict[str, Any]:
        return {"class": self.name, "rule": self.rule}


def parse_period(text: str, where: str) -> timedelta:
    number, unit = text[:-1], text[-1:]
    if not number.isdigit() or int(number) < 1 or unit not in {"d", "y"}:
        raise ConfigError(f"{where}: {text!r} is not a period such as 2190d or 6y")
    days = int(number) if unit == "d" else math.ceil(int(number) * 365.25)
    return timedelta(days=days)


def parse_rule(text: str, where: str = "archive.retention_rules") -> RetentionRule:
    pattern, sep, period = text.partition("=")
    parts = tuple(p.strip() for p in pattern.strip().split(":", 2))
    if not sep or not all(parts) or not 1 <= len(parts) <= 3:
        raise ConfigError(
            f"{where}: {text!r} is not PATTERN=PERIOD (e.g. slack:T0123:C0456=10y, slack=3y)"
        )
    return RetentionRule(parts, parse_period(period.strip(), where), text.strip())


def classify(
    rules: tuple[RetentionRule, ...], default_days: int, conversation_key: str
) -> RetentionClass:
    """The retention class of a record in ``platform:workspace:conversation``."""
    best: RetentionRule | None = None
    for rule in rules:
        if rule.matches(conversation_key) and (
            best is None or _specificity(rule) > _specificity(best)
        ):
            best = rule
    if best is None:
        return RetentionClass(f"{default_days}d", timedelta(days=default_days), "default")
    return RetentionClass(best.name, best.period, best.text)


def _specificity(rule: RetentionRule) -> tuple[int, int]:
    return len(rule.pattern), sum(p != "*" for p in rule.pattern)
