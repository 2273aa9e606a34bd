"""Settings of the ``[export]`` section."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportSettings:
    operator: str = ""  # who runs exports, for the custody manifest; empty: the OS user
    temp_dir: str = ""  # where exports spill records while folding; empty: the system default
