"""What the core and the bots report for metrics, without knowing Prometheus.

``archive/`` stays free of HTTP and of prometheus_client: it calls
:func:`observer` and reports through the small :class:`Observer` Protocol.
The composition root installs the Prometheus implementation
(``chatkeeper/metrics.py``) for the life of ``chatkeeper serve``; everywhere
else (CLI commands, importers, tests that do not look) the observer is a
no-op. It is process-wide on purpose, like prometheus_client's own default
registry: one process serves one set of metrics, and threading an observer
through every capture call of both bots would only add noise.

Label values are fixed vocabularies only: platform, kind, reason
(never message text, tokens, or ids of people, channels or chats).
"""

from __future__ import annotations

from typing import Protocol


class Observer(Protocol):
    def captured(self, platform: str, kind: str, count: int) -> None:
        """``count`` records of ``platform``/``kind`` were committed by the capture step."""
        ...

    def acked(self, platform: str, seconds: float) -> None:
        """A platform delivery was answered ``seconds`` after it arrived."""
        ...

    def journal_error(self) -> None:
        """A capture commit failed (the platform is answered with an error and retries)."""
        ...

    def fetch_failed(self, platform: str, reason: str) -> None:
        """An attachment fetch attempt failed (``reason``: a word from FETCH_REASONS)."""
        ...

    def sealed(self, seconds: float, bundles: int, size: int) -> None:
        """A sealing run took ``seconds`` and sealed ``bundles`` of ``size`` record bytes."""
        ...

    def connection(self, platform: str, connected: bool) -> None:
        """The platform's long-lived connection (Slack Socket Mode, Telegram polling) is up or down."""
        ...

    def rate_limited(self, platform: str, reason: str) -> None:
        """The platform rate-limited us (``reason``: http_429, app_rate_limited)."""
        ...


FETCH_REASONS = ("too_large", "incomplete", "transient", "permanent", "orphaned")
"""Why a fetch attempt failed: over the size limit; fewer bytes than declared; a
retryable platform answer; a permanent one; no original record or no downloader."""


class NullObserver:
    """Reports nothing (the default outside ``serve``)."""

    def captured(self, platform: str, kind: str, count: int) -> None:
        pass

    def acked(self, platform: str, seconds: float) -> None:
        pass

    def journal_error(self) -> None:
        pass

    def fetch_failed(self, platform: str, reason: str) -> None:
        pass

    def sealed(self, seconds: float, bundles: int, size: int) -> None:
        pass

    def connection(self, platform: str, connected: bool) -> None:
        pass

    def rate_limited(self, platform: str, reason: str) -> None:
        pass


_current: Observer = NullObserver()


def observer() -> Observer:
    """The observer of this process."""
    return _current


def install(new: Observer) -> Observer:
    """Make ``new`` the observer of this process; returns the one it replaces."""
    global _current
    previous, _current = _current, new
    return previous
