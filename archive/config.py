"""Settings: frozen dataclasses filled from a TOML file and CHATKEEPER_* variables.

Each section is a frozen dataclass whose fields have defaults. A setting
``section.name`` comes, last one winning, from its default, from ``[section]
name = ...`` in the TOML file, from ``CHATKEEPER_SECTION_NAME``, and, for
secrets, from the file named by ``CHATKEEPER_SECTION_NAME_FILE``. The loader
is generic so that the composition root can add the bots' sections.

The loader is strict: a file that is not UTF-8 or not TOML, an unknown section,
setting or ``CHATKEEPER_*`` variable, a value of the wrong type, and a value
outside a section's ``CHOICES`` or ``BOUNDS`` (class variables beside the
fields) each raise one ConfigError naming the setting. Messages never repeat
the value of a secret.
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from archive.errors import ConfigError
from archive.logs import FORMATS, LEVELS
from archive.retention_class import parse_rule

T = TypeVar("T")


@dataclass(frozen=True)
class Bound:
    """The allowed range of a numeric setting (a section's ``BOUNDS``)."""

    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None

    def problem(self, value: float) -> str | None:
        if self.at_least is not None and value < self.at_least:
            return f"must be at least {self.at_least:g}"
        if self.above is not None and value <= self.above:
            return f"must be greater than {self.above:g}"
        if self.at_most is not None and value > self.at_most:
            return f"must be at most {self.at_most:g}"
        return None


POSITIVE = Bound(above=0)
COUNT = Bound(at_least=1)
Choices = Mapping[str, tuple[str, ...]]
Bounds = Mapping[str, Bound]


@dataclass(frozen=True)
class JournalSettings:
    path: str = "journal.db"  # relative to the state directory
    dsn: str = ""  # PostgreSQL DSN; when set, used instead of SQLite


@dataclass(frozen=True)
class S3Settings:
    BOUNDS: ClassVar[Bounds] = {
        "connect_timeout_seconds": POSITIVE,
        "read_timeout_seconds": POSITIVE,
        "max_attempts": COUNT,
    }
    endpoint: str = ""  # empty: start the embedded SeaweedFS from the state directory
    region: str = "us-east-1"
    bucket: str = "chatkeeper-archive"
    prefix: str = ""
    access_key: str = ""
    secret_key: str = ""
    legal_access_key: str = ""  # the legal-hold identity (hold create/release, seal-time holds)
    legal_secret_key: str = ""
    disposition_access_key: str = ""  # the disposition identity (dispose)
    disposition_secret_key: str = ""
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    max_attempts: int = 5


@dataclass(frozen=True)
class ArchiveSettings:
    CHOICES: ClassVar[Choices] = {"retention_mode": ("COMPLIANCE", "GOVERNANCE")}
    BOUNDS: ClassVar[Bounds] = {
        "retention_days": COUNT,
        "zstd_level": Bound(at_most=22),
        "seal_workers": COUNT,
    }
    stream: str = "main"
    retention_mode: str = "COMPLIANCE"
    retention_days: int = 2557
    min_retention_days: int = 2190
    bundle_max_records: int = 100_000
    bundle_max_bytes: int = 64 * 1024 * 1024
    zstd_level: int = 3
    seal_workers: int = 2  # processes building records objects when a run seals several bundles
    trusted_keys: tuple[str, ...] = ()  # pinned signing keys: fingerprints and/or .pub.json paths
    retention_rules: tuple[str, ...] = ()  # PATTERN=PERIOD, e.g. "slack:T0123:C0456=10y"


@dataclass(frozen=True)
class ScheduleSettings:
    BOUNDS: ClassVar[Bounds] = {
        "seal_interval_seconds": POSITIVE,
        "seal_backlog_threshold": COUNT,
        "backlog_check_seconds": POSITIVE,
        "lease_seconds": POSITIVE,
    }
    seal_interval_seconds: float = 300.0
    seal_backlog_threshold: int = 50_000
    backlog_check_seconds: float = 5.0
    lease_seconds: float = 900.0
    checkpoint_interval_seconds: float = 3600.0


@dataclass(frozen=True)
class CaptureSettings:
    CHOICES: ClassVar[Choices] = {"mode": ("opt_in", "all")}
    BOUNDS: ClassVar[Bounds] = {"attachment_max_bytes": Bound(at_least=0)}
    mode: str = "opt_in"
    admin_user_ids: tuple[str, ...] = ()
    attachment_max_bytes: int = 100 * 1024 * 1024


@dataclass(frozen=True)
class LogSettings:
    CHOICES: ClassVar[Choices] = {"level": LEVELS, "format": FORMATS}
    level: str = "info"
    format: str = "auto"  # auto (readable on a terminal, JSON otherwise) | json | console


SECRET_SUFFIXES = ("key", "secret", "token", "password", "dsn")
# CHATKEEPER_* variables that are not settings: the state directory, and the test suite's own.
EXTRA_ENV = frozenset({"CHATKEEPER_HOME", "CHATKEEPER_UPDATE_GOLDEN"})
RESERVED_ENV_PREFIX = "CHATKEEPER_TEST_"


def is_secret(name: str) -> bool:
    """Whether setting ``name`` holds a secret (never logged, never echoed in errors)."""
    return name.endswith(SECRET_SUFFIXES)


def _convert(value: Any, kind: Any, where: str, secret: bool = False) -> Any:
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
    shown = "the value" if secret else repr(value)
    raise ConfigError(f"setting {where}: {shown} is not a valid {getattr(kind, '__name__', kind)}")


def _either(choices: tuple[str, ...]) -> str:
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


def _check(cls: type[Any], field: str, value: Any, where: str) -> Any:
    """The value if it is within the section's CHOICES and BOUNDS (choices ignore case)."""
    choices: Choices = getattr(cls, "CHOICES", {})
    if field in choices:
        allowed = choices[field]
        match = next((c for c in allowed if c.lower() == str(value).lower()), None)
        if match is None:
            raise ConfigError(f"setting {where}: {value!r} is not {_either(allowed)}")
        return match
    bounds: Bounds = getattr(cls, "BOUNDS", {})
    if field in bounds and isinstance(value, int | float):
        problem = bounds[field].problem(value)
        if problem is not None:
            raise ConfigError(f"setting {where}: {value!r} {problem}")
    return value


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
        env_name = env_var(name, f.name)
        raw: Any = MISSING
        where = f"{name}.{f.name}"
        if f.name in table:
            raw = table[f.name]
        if env_name in env:
            raw, where = env[env_name], f"{name}.{f.name} (from {env_name})"
        if f"{env_name}_FILE" in env:
            where = f"{name}.{f.name} (from {env_name}_FILE)"
            try:
                raw = Path(env[f"{env_name}_FILE"]).read_text(encoding="utf-8").strip()
            except UnicodeDecodeError as exc:
                raise ConfigError(f"setting {where}: the file is not UTF-8") from exc
            except OSError as exc:
                raise ConfigError(
                    f"setting {where}: cannot read {env[f'{env_name}_FILE']}: {exc.strerror or exc}"
                ) from exc
        if raw is not MISSING:
            value = _convert(raw, hints[f.name], where, secret=is_secret(f.name))
            values[f.name] = _check(cls, f.name, value, where)
    return cls(**values)


def env_var(section: str, name: str) -> str:
    return f"CHATKEEPER_{section.upper()}_{name.upper()}"


def known_env_vars(sections: Mapping[str, type[Any]]) -> frozenset[str]:
    """Every valid CHATKEEPER_* variable: each setting, its *_FILE form, and EXTRA_ENV."""
    names = {env_var(s, f.name) for s, kind in sections.items() for f in fields(kind)}
    return frozenset(names | {f"{n}_FILE" for n in names} | EXTRA_ENV)


def check_environment(env: Iterable[str], known: frozenset[str]) -> None:
    """Refuse a CHATKEEPER_* variable that names no setting (a typo is not a default)."""
    for name in sorted(env):
        if (
            name.startswith("CHATKEEPER_")
            and name not in known
            and not name.startswith(RESERVED_ENV_PREFIX)
        ):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown environment variable {name}: no such setting{hint}")


def read_toml(path: Path | None) -> dict[str, Any]:
    """Read the TOML file; a missing default file is fine, a broken one is not."""
    if path is None:
        return {}
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 (invalid byte at offset {exc.start})"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
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
    for text in archive.retention_rules:
        rule = parse_rule(text)
        if rule.period.days < archive.min_retention_days:
            raise ConfigError(
                f"archive.retention_rules: {text!r} is below archive.min_retention_days "
                f"({archive.min_retention_days})"
            )
    if not archive.stream or "/" in archive.stream:
        raise ConfigError("archive.stream must be a non-empty name without '/'")
    if capture.mode not in {"opt_in", "all"}:
        raise ConfigError('capture.mode must be "opt_in" or "all"')
    if archive.bundle_max_records < 1 or archive.bundle_max_bytes < 1024:
        raise ConfigError("archive.bundle_max_records and bundle_max_bytes are too small")
