"""What every CLI command gets: where the state lives and the settings, loaded once.

Loading the settings also configures logging, once, from ``log.level`` and
``log.format`` (``log_level`` overrides the level for a command that prints
its own story, such as the demo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archive.logs import configure
from chatkeeper.settings import Settings, load_settings


@dataclass
class AppContext:
    """What every command gets: where the state lives and the settings, loaded once."""

    config: Path | None
    home: Path | None
    log_level: str | None = None
    _settings: Settings | None = field(default=None, init=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config, self.home)
            configure(self.log_level or self._settings.log.level, self._settings.log.format)
        return self._settings
