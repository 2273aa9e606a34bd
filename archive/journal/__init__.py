"""The durable journal: the port (small Protocols by job), its value types, and the adapters."""

from archive.journal.port import (
    BundleBook,
    BundleJournal,
    BundleRow,
    BundleState,
    CaptureJournal,
    Conversations,
    FetchQueue,
    FetchTask,
    Journal,
    JournalStats,
    Leases,
    Monitored,
    RecordLog,
    RowSource,
    SealerJournal,
    SealRow,
)

__all__ = [
    "BundleBook",
    "BundleJournal",
    "BundleRow",
    "BundleState",
    "CaptureJournal",
    "Conversations",
    "FetchQueue",
    "FetchTask",
    "Journal",
    "JournalStats",
    "Leases",
    "Monitored",
    "RecordLog",
    "RowSource",
    "SealRow",
    "SealerJournal",
]
