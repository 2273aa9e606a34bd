"""Settings: frozen dataclasses filled from a TOML file and CHATKEEPER_* variables.

Each section is a frozen dataclass whose fields have defaults. A setting
``section.name`` comes, last one winning, from its default, from ``[section]
name = ...`` in the TOML file, from ``CHATKEEPER_SECTION_NAME``, and, for
secrets, from the file named by ``CHATKEEPER_SECTION_NAME_FILE``. The loader
is generic so that the composition root can add the bots' sections.
"""

from __future__ import annotations

import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from archive.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class JournalSettings:
    path: str = "journal.db"  # relative to the state directory
    dsn: str = ""  # PostgreSQL DSN; when set, used instead of SQLite


@dataclass(frozen=True)
class S3Settings:
    endpoint: str = ""  # empty: start the embedded SeaweedFS from the state directory
    region: str = "us-east-1"
    bucket: str = "chatkeeper-archive"
    prefix: str = ""
    access_key: str = ""
    secret_key: str = ""
    connect_timeout_seconds: float = 5.0
    max_attempts: int = 5


@dataclass(frozen=True)
class ArchiveSettings:
    stream: str = "main"
    retention_mode: str = "COMPLIANCE"
    retention_days: int = 2557
    min_retention_days: int = 2190
    bundle_max_records: int = 100_000
    bundle_max_bytes: int = 64 * 1024 * 1024
    zstd_level: int = 3
    trusted_keys: tuple[str, ...] = ()  # pinned signing keys: fingerprints and/or .pub.json paths


@dataclass(frozen=True)
class ScheduleSettings:
    seal_interval_seconds: float = 300.0
    seal_backlog_threshold: int = 50_000
    backlog_check_seconds: float = 5.0
    lease_seconds: float = 900.0
    checkpoint_interval_seconds: float = 3600.0


@dataclass(frozen=True)
class CaptureSettings:
    mode: str = "opt_in"
    admin_user_ids: tuple[str, ...] = ()
    attachment_max_bytes: int = 100 * 1024 * 1024


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    format: str = "auto"  # auto (readable on a terminal, JSON otherwise) | json | console


SECRET_SUFFIXES = ("key", "secret", "token", "password", "dsn")


def _convert(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        }:
            return value.lower() in {"1", "true", "yes", "on"}
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            return tuple(str(v) for v in value)
    elif origin in (typing.Union, types.UnionType):
        return value
    raise ConfigError(
        f"setting {where}: {value!r} is not a valid {getattr(kind, '__name__', kind)}"
    )


def load_section(cls: type[T], name: str, table: Mapping[str, Any], env: Mapping[str, str]) -> T:
    """Build section ``cls`` from its TOML table and the environment."""
    assert is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{name}]: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        where = f"{name}.{f.name}"
        env_name = env_var(name, f.name)
        raw: Any = MISSING
        if f.name in table:
            raw = table[f.name]
        if env_name in env:
            raw = env[env_name]
        if f"{env_name}_FILE" in env:
            try:
                raw = Path(env[f"{env_name}_FILE"]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"setting {where}: cannot read {env_name}_FILE: {exc}") from exc
        if raw is not MISSING:
            values[f.name] = _convert(raw, hints[f.name], where)
    return cls(**values)


def env_var(section: str, name: str) -> str:
    return f"CHATKEEPER_{section.upper()}_{name.upper()}"


def read_toml(path: Path | None) -> dict[str, Any]:
    """Read the TOML file; a missing default file is fine, a broken one is not."""
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"config file {path}: {section!r} must be a [section] table")
    return data


def validate_core(archive: ArchiveSettings, capture: CaptureSettings) -> None:
    """Cross-field checks that fail closed before anything runs."""
    if archive.retention_mode not in {"COMPLIANCE", "GOVERNANCE"}:
        raise ConfigError("archive.retention_mode must be COMPLIANCE or GOVERNANCE")
    if archive.retention_days < archive.min_retention_days:
        raise ConfigError(
            f"archive.retention_days ({archive.retention_days}) is below "
            f"archive.min_retention_days ({archive.min_retention_days})"
        )
    if archive.retention_days < 1:
        raise ConfigError("archive.retention_days must be at least 1")
    if not archive.stream or "/" in archive.stream:
        raise ConfigError("archive.stream must be a non-empty name without '/'")
    if capture.mode not in {"opt_in", "all"}:
        raise ConfigError('capture.mode must be "opt_in" or "all"')
    if archive.bundle_max_records < 1 or archive.bundle_max_bytes < 1024:
        raise ConfigError("archive.bundle_max_records and bundle_max_bytes are too small")
