"""Settings of the ``[export]`` section."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportSettings:
    operator: str = ""  # who runs exports, for the custody manifest; empty: the OS user
    temp_dir: str = ""  # where exports spill records while folding; empty: the system default
    workers: int = 0  # processes rendering rsmf/eml/html conversations; 0: one per CPU (up to 8)
