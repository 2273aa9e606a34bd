"""chatkeeper's errors, one tree, each with the CLI exit code it maps to.

    ChatkeeperError                 (1)
    ├── ConfigError                 (2)  bad or missing settings
    ├── JournalError                (1)  the journal could not make records durable
    ├── StoreError                  (1)
    │   ├── StoreUnavailableError   (4)  the S3 endpoint cannot be reached
    │   ├── ObjectLockError         (1)  bucket without Object Lock/versioning, retention too short
    │   └── StoreConflictError      (3)  an archive key holds content we did not write
    ├── SealError                   (1)  journal and store disagree about the stream
    ├── SearchIndexError            (1)  the search index cannot be read or written
    ├── AccountError                (2)  console account unknown, duplicate or invalid
    └── IntegrityError              (3)  verification found tampering or loss

Adapters translate library exceptions (sqlite3, botocore, ...) into these with
``raise ... from exc``; nothing above an adapter catches library errors.
"""

from __future__ import annotations


class ChatkeeperError(Exception):
    exit_code = 1


class ConfigError(ChatkeeperError):
    exit_code = 2


class JournalError(ChatkeeperError):
    exit_code = 1


class StoreError(ChatkeeperError):
    exit_code = 1


class StoreUnavailableError(StoreError):
    exit_code = 4


class ObjectLockError(StoreError):
    exit_code = 1


class StoreConflictError(StoreError):
    exit_code = 3


class SealError(ChatkeeperError):
    exit_code = 1


class SearchIndexError(ChatkeeperError):
    exit_code = 1


class AccountError(ChatkeeperError):
    exit_code = 2


class IntegrityError(ChatkeeperError):
    exit_code = 3
