"""The ``[supervision]`` settings section (documented in docs/configuration.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from archive.config import Bound, Bounds


@dataclass(frozen=True)
class SupervisionSettings:
    BOUNDS: ClassVar[Bounds] = {"context_messages": Bound(at_least=0, at_most=50)}
    policy_files: tuple[str, ...] = ()  # TOML files of [[policy]] tables; none: no screening
    queue_path: str = "supervision.db"  # the review queue (derived), relative to the state dir
    context_messages: int = 3  # messages kept before and after each item
    reviewer: str = ""  # default reviewer name for decisions (else the OS user)
