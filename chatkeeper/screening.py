"""Supervision's parts built from the settings: policies, the review queue, the after-seal hook.

Shared by ``chatkeeper review``, ``chatkeeper seal`` and ``chatkeeper serve`` (so it is not
a command module). The logic is in ``supervision/``; this only reads the settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.keys import PublicKey, trusted_keys
from archive.store import ArchiveStore
from chatkeeper import build
from chatkeeper.settings import Settings
from supervision.hook import AfterSeal
from supervision.policy import Policy, load_policies
from supervision.queue import QueueStore
from supervision.screen import Screener


def queue_path(settings: Settings) -> Path:
    """``supervision.queue_path``, relative to the state directory unless absolute."""
    path = Path(settings.supervision.queue_path)
    return path if path.is_absolute() else settings.home / path


def policies(settings: Settings) -> tuple[Policy, ...]:
    return load_policies([Path(p) for p in settings.supervision.policy_files])


@contextmanager
def open_queue(settings: Settings) -> Iterator[QueueStore]:
    with QueueStore(queue_path(settings)) as queue:
        yield queue


def screening_keys(settings: Settings, store: ArchiveStore) -> dict[str, PublicKey]:
    """The keys screening verifies bundles under: the anchors of ``verify`` without options."""
    keys, _ = trusted_keys(
        store,
        build.layout(settings),
        own_key_dir=settings.home / "keys",
        configured=settings.archive.trusted_keys,
    )
    return keys


@contextmanager
def after_seal_hooks(settings: Settings, store: ArchiveStore) -> Iterator[tuple[AfterSeal, ...]]:
    """Supervision's after-seal hook for ``SealJob.after_seal``: none when no policy is set.

    The queue stays open while the hook is in use; the hook screens what was sealed,
    logs a failure instead of raising it, and does nothing after a seal without bundles.
    """
    found = policies(settings)
    if not found:
        yield ()
        return
    with open_queue(settings) as queue:
        yield (
            AfterSeal(
                store,
                build.layout(settings),
                lambda: screening_keys(settings, store),
                queue,
                Screener(found),
                context_messages=settings.supervision.context_messages,
            ),
        )
