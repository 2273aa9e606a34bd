"""Screening one record against the policies: flagged, always-review, sampled, or nothing.

Pure functions, no I/O. The text screened is the message's text (``message``, ``edit``) and
the deleted text of a ``delete`` (``previous_text``).

Sampling is deterministic, so an auditor can re-derive it from the policy's seed alone::

    h = sha256(f"{seed}:{record_key}".encode()).digest()
    sampled = int.from_bytes(h[:8], "big") < rate * 2**64

applied to every in-scope record that was not flagged and not always-reviewed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from archive.model import Kind, Record
from supervision.fold import fold
from supervision.matcher import Hit, Matcher
from supervision.policy import Policy, participant_ids

FLAGGED = "flagged"
ALWAYS = "always"
SAMPLED = "sampled"
_SPACE = 2**64


def sampled(seed: str, record_key: str, rate: float) -> bool:
    """Whether the record is in the policy's sample: sha256(seed:key) below rate * 2**64."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{record_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * _SPACE


def screened_text(record: Record) -> str | None:
    if record.kind is Kind.DELETE:
        return record.previous_text
    return record.text


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one policy made of one record."""

    policy: Policy
    reason: str | None  # FLAGGED | ALWAYS | SAMPLED | None (in scope, not queued)
    hits: tuple[Hit, ...] = ()


class Screener:
    """The policies in force, compiled once."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies = tuple(policies)
        self._matcher = Matcher((p.name, p.rules) for p in self.policies)

    def screen(self, record: Record) -> list[Outcome]:
        """One outcome per policy whose scope covers the record."""
        in_scope = [p for p in self.policies if p.scope.covers(record)]
        if not in_scope:
            return []
        text = screened_text(record)
        found = self._matcher.scan(fold(text)) if text else {}
        outcomes = []
        for policy in in_scope:
            hits = found.get(policy.name)
            if hits:
                outcomes.append(Outcome(policy, FLAGGED, tuple(hits)))
            elif record.conversation in policy.always_conversations or (
                policy.always_participants and participant_ids(record) & policy.always_participants
            ):
                outcomes.append(Outcome(policy, ALWAYS))
            elif sampled(policy.sample_seed, record.key, policy.sample_rate):
                outcomes.append(Outcome(policy, SAMPLED))
            else:
                outcomes.append(Outcome(policy, None))
        return outcomes
