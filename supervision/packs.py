"""Lexicon packs: TOML data files, shipped in ``supervision/packs/`` or the firm's own.

A pack file has a ``[pack]`` table (name, version, description, languages, a shared
``exclude``) and ``[[rule]]`` tables (see ``supervision.lexicon``). A policy names a shipped
pack by name (``"off_channel"``) or any pack file by path. The exact bytes of the file go
into the policy hash, so an edited pack is a new policy hash.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from archive.errors import ConfigError
from supervision.lexicon import Rule, parse_lexicon

SHIPPED = ("off_channel", "promissory", "complaints", "confidentiality", "conduct")


@dataclass(frozen=True)
class Pack:
    name: str
    version: str
    description: str
    languages: tuple[str, ...]
    rules: tuple[Rule, ...]
    text: str  # the file exactly as read (hashed into the policy)


def _read(reference: str, base: Path | None) -> tuple[str, str]:
    """(where, text) of a shipped pack name or a pack file path."""
    if reference in SHIPPED:
        source = resources.files("supervision").joinpath("packs", f"{reference}.toml")
        return f"shipped pack {reference}", source.read_text(encoding="utf-8")
    path = Path(reference)
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        return str(path), path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"lexicon {reference!r} is neither a shipped pack ({', '.join(SHIPPED)}) "
            "nor a readable file"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"lexicon file {path} cannot be read as UTF-8: {exc}") from exc


def load_pack(reference: str, base: Path | None = None) -> Pack:
    """The pack a policy names, parsed and folded; ConfigError if it is malformed."""
    where, text = _read(reference, base)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    head = data.get("pack")
    if not isinstance(head, dict) or not isinstance(head.get("name"), str):
        raise ConfigError(f"{where}: needs a [pack] table with a name")
    unknown = set(data) - {"pack", "rule"}
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {', '.join(sorted(unknown))}")
    name = head["name"]
    rules = parse_lexicon(name, data.get("rule", []), head.get("exclude", ()))
    return Pack(
        name=name,
        version=str(head.get("version", "")),
        description=str(head.get("description", "")),
        languages=tuple(str(x) for x in head.get("languages", [])),
        rules=rules,
        text=text,
    )
