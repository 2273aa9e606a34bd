"""What every CLI command gets: where the state lives and the settings, loaded once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatkeeper.settings import Settings, load_settings


@dataclass
class AppContext:
    """What every command gets: where the state lives and the settings, loaded once."""

    config: Path | None
    home: Path | None
    _settings: Settings | None = field(default=None, init=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config, self.home)
        return self._settings
