"""Supervision policies: name, version, scope, lexicons, sampling, always-review.

Policies live in TOML files named by ``supervision.policy_files``; each file holds one or more
``[[policy]]`` tables (see docs/supervision.md). The exact text in force, the policy table
and the text of every pack it uses, is hashed (``Policy.hash``); every review item and
decision records name, version and hash, so a later change of policy never rewrites history.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.codec import canonical_json
from archive.errors import ConfigError
from archive.model import Kind, Record
from supervision.lexicon import Rule, parse_lexicon
from supervision.packs import load_pack

DEFAULT_KINDS = ("message", "edit", "delete")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_POLICY_KEYS = frozenset(
    {
        "name",
        "version",
        "description",
        "scope",
        "lexicons",
        "rule",
        "sampling",
        "always_review",
        "review_within_days",
    }
)


@dataclass(frozen=True)
class Scope:
    platforms: frozenset[str] = frozenset()
    workspaces: frozenset[str] = frozenset()
    conversations: frozenset[str] = frozenset()
    participants: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset(DEFAULT_KINDS)

    def covers(self, record: Record) -> bool:
        # StrEnum members hash and compare as their values (and skip the slow .value)
        if record.kind not in self.kinds:
            return False
        if self.platforms and record.platform not in self.platforms:
            return False
        if self.workspaces and record.workspace not in self.workspaces:
            return False
        if self.conversations and record.conversation not in self.conversations:
            return False
        return not self.participants or bool(participant_ids(record) & self.participants)


def participant_ids(record: Record) -> set[str]:
    """The ways a policy may name the record's author: user id, e-mail, display name."""
    actor = record.actor
    if actor is None:
        return set()
    return {v for v in (actor.id, actor.email, actor.name) if v}


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    hash: str  # sha256 of the policy document (the table and its packs' texts)
    document: bytes  # canonical JSON of what was hashed, kept for the examiner
    scope: Scope
    rules: tuple[Rule, ...]
    sample_rate: float = 0.0
    sample_seed: str = ""
    always_conversations: frozenset[str] = frozenset()
    always_participants: frozenset[str] = frozenset()
    review_within_days: float = 0.0  # 0: no deadline
    lexicons: tuple[str, ...] = field(default=())


def _names(where: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ConfigError(f"{where}: must be a list of strings")
    return frozenset(str(v) for v in value)


def _scope(name: str, table: Any) -> Scope:
    if not isinstance(table, dict):
        raise ConfigError(f"policy {name}: scope must be a table")
    unknown = set(table) - {"platforms", "workspaces", "conversations", "participants", "kinds"}
    if unknown:
        raise ConfigError(f"policy {name} scope: unknown key(s) {', '.join(sorted(unknown))}")
    kinds = _names(f"policy {name} scope.kinds", table.get("kinds", list(DEFAULT_KINDS)))
    bad = kinds - {k.value for k in Kind}
    if bad:
        raise ConfigError(f"policy {name} scope.kinds: unknown kind(s) {', '.join(sorted(bad))}")
    return Scope(
        platforms=_names(f"policy {name} scope.platforms", table.get("platforms", [])),
        workspaces=_names(f"policy {name} scope.workspaces", table.get("workspaces", [])),
        conversations=_names(f"policy {name} scope.conversations", table.get("conversations", [])),
        participants=_names(f"policy {name} scope.participants", table.get("participants", [])),
        kinds=kinds,
    )


def _sampling(name: str, table: Any) -> tuple[float, str]:
    if not isinstance(table, dict) or set(table) - {"rate", "seed"}:
        raise ConfigError(f"policy {name}: sampling takes rate and seed")
    rate = table.get("rate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ConfigError(f"policy {name}: sampling.rate must be a share between 0 and 1")
    seed = table.get("seed", "")
    if not isinstance(seed, str) or (rate > 0 and not seed):
        raise ConfigError(f"policy {name}: sampling.seed must be a non-empty string")
    return float(rate), seed


def parse_policy(table: Any, base: Path | None = None) -> Policy:
    """One ``[[policy]]`` table, its packs loaded; ConfigError naming what is wrong."""
    if not isinstance(table, dict):
        raise ConfigError("a policy must be a [[policy]] table")
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"policy name {name!r}: letters, digits, _ . - (up to 64)")
    unknown = set(table) - _POLICY_KEYS
    if unknown:
        raise ConfigError(f"policy {name}: unknown key(s) {', '.join(sorted(unknown))}")
    version = table.get("version")
    if not isinstance(version, str | int) or isinstance(version, bool) or not str(version):
        raise ConfigError(f"policy {name}: needs a version")
    references = table.get("lexicons", [])
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise ConfigError(f"policy {name}: lexicons must be a list of pack names or files")
    packs = [load_pack(r, base) for r in references]
    rules = [rule for pack in packs for rule in pack.rules]
    rules += parse_lexicon(f"{name}.inline", table.get("rule", []))
    rate, seed = _sampling(name, table.get("sampling", {}))
    always = table.get("always_review", {})
    if not isinstance(always, dict) or set(always) - {"conversations", "participants"}:
        raise ConfigError(f"policy {name}: always_review takes conversations and participants")
    within = table.get("review_within_days", 0)
    if isinstance(within, bool) or not isinstance(within, int | float) or within < 0:
        raise ConfigError(f"policy {name}: review_within_days must be a number of days, >= 0")
    document = canonical_json({"policy": table, "packs": {p.name: p.text for p in packs}})
    return Policy(
        name=name,
        version=str(version),
        hash=hashlib.sha256(document).hexdigest(),
        document=document,
        scope=_scope(name, table.get("scope", {})),
        rules=tuple(rules),
        sample_rate=rate,
        sample_seed=seed,
        always_conversations=_names(
            f"policy {name} always_review.conversations", always.get("conversations", [])
        ),
        always_participants=_names(
            f"policy {name} always_review.participants", always.get("participants", [])
        ),
        review_within_days=float(within),
        lexicons=tuple(p.name for p in packs),
    )


def load_policies(paths: Sequence[Path]) -> tuple[Policy, ...]:
    """Every policy in the given files; names must be unique across them."""
    policies: list[Policy] = []
    for path in paths:
        try:
            data = tomllib.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"policy file {path} does not exist") from exc
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"policy file {path} is not readable UTF-8 TOML: {exc}") from exc
        if set(data) - {"policy"}:
            raise ConfigError(f"policy file {path}: only [[policy]] tables are allowed")
        tables = data.get("policy", [])
        if not isinstance(tables, list):
            raise ConfigError(f"policy file {path}: write policies as [[policy]] tables")
        policies += [parse_policy(t, path.parent) for t in tables]
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"policy name(s) used twice: {', '.join(duplicates)}")
    return tuple(policies)
