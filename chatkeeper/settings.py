"""The whole settings object: the core's sections plus each bot's.

Adding a section: define a frozen dataclass with defaults beside the code that
uses it, add a field here, and document every setting in docs/configuration.md
(tests/test_settings.py fails otherwise).

Loading also refuses a ``CHATKEEPER_*`` variable that names no setting, and
registers every secret value with the log redactor (``archive.logs``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from archive.config import (
    ArchiveSettings,
    Bound,
    Bounds,
    CaptureSettings,
    JournalSettings,
    LogSettings,
    S3Settings,
    ScheduleSettings,
    check_environment,
    is_secret,
    known_env_vars,
    load_section,
    read_toml,
    validate_core,
)
from archive.errors import ConfigError
from archive.logs import register_secrets
from bots.slack.settings import SlackSettings
from bots.telegram.settings import TelegramSettings
from console.settings import ConsoleSettings
from exporters.settings import ExportSettings
from search.settings import SearchSettings
from supervision.settings import SupervisionSettings


@dataclass(frozen=True)
class ServerSettings:
    BOUNDS: ClassVar[Bounds] = {"port": Bound(at_least=0, at_most=65535)}
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".chatkeeper")
    journal: JournalSettings = field(default_factory=JournalSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    log: LogSettings = field(default_factory=LogSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    supervision: SupervisionSettings = field(default_factory=SupervisionSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)

    @property
    def journal_path(self) -> Path:
        path = Path(self.journal.path)
        return path if path.is_absolute() else self.home / path

    @property
    def search_path(self) -> Path:
        path = Path(self.search.path)
        return path if path.is_absolute() else self.home / path

    @property
    def console_db_path(self) -> Path:
        path = Path(self.console.db_path)
        return path if path.is_absolute() else self.home / path


def section_types() -> dict[str, type[Any]]:
    """Section name -> dataclass, for loading and for the docs check."""
    return {name: kind for name, kind in typing.get_type_hints(Settings).items() if name != "home"}


def load_settings(
    config: Path | None = None,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from ``config`` (or ./chatkeeper.toml if present) and the environment."""
    env = os.environ if env is None else env
    check_environment(env, known_env_vars(section_types()))
    if config is None and Path("chatkeeper.toml").is_file():
        config = Path("chatkeeper.toml")
    data = read_toml(config)
    types_by_name = typing.get_type_hints(Settings)
    unknown = set(data) - set(types_by_name)
    if unknown:
        raise ConfigError(f"unknown section(s) in config: {', '.join(sorted(unknown))}")
    sections = {
        name: load_section(kind, name, data.get(name, {}), env)
        for name, kind in types_by_name.items()
        if name != "home"
    }
    home_path = home or Path(env.get("CHATKEEPER_HOME", ".chatkeeper"))
    settings = Settings(home=home_path, **sections)
    register_secrets(secret_values(settings))
    validate_core(settings.archive, settings.capture)
    return settings


_DSN_PASSWORD = re.compile(r"password\s*=\s*'?([^'\s]+)")


def secret_values(settings: Settings) -> list[str]:
    """Every secret in the settings, and the parts of them that can appear alone."""
    return [part for value in _secrets(settings) for part in _parts(value) if part]


def _secrets(settings: Settings) -> Iterator[str]:
    for name in section_types():
        section = getattr(settings, name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if is_secret(f.name) and isinstance(value, str) and value:
                yield value


def _parts(value: str) -> list[str]:
    parts = [value]
    if ":" in value and "://" not in value:  # a Telegram token: <bot id>:<secret>
        parts.append(value.partition(":")[2])
    with contextlib.suppress(ValueError):
        parts.append(urlsplit(value).password or "")
    parts += _DSN_PASSWORD.findall(value)
    return parts
