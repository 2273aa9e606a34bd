"""The durable journal: the port, its value types, and the adapters."""

from archive.journal.port import (
    BundleRow,
    BundleState,
    FetchTask,
    Journal,
    JournalStats,
    Monitored,
    SealRow,
)

__all__ = [
    "BundleRow",
    "BundleState",
    "FetchTask",
    "Journal",
    "JournalStats",
    "Monitored",
    "SealRow",
]
