"""chatkeeper's errors, one tree, each with the CLI exit code it maps to.

    ChatkeeperError                 (1)
    ├── ConfigError                 (2)  bad or missing settings
    ├── JournalError                (1)  the journal could not make records durable
    ├── StoreError                  (1)
    │   ├── StoreUnavailableError   (4)  the S3 endpoint cannot be reached
    │   ├── ObjectLockError         (1)  bucket without Object Lock/versioning, retention too short
    │   └── StoreConflictError      (3)  an archive key holds content we did not write
    ├── SealError                   (1)  journal and store disagree about the stream
    ├── PlatformError               (1)  Slack or Telegram failed a call (network, server, refusal)
    │   ├── BackfillError           (1)  Slack refused the history calls (not a member, ...)
    │   └── PayloadError            (1)  a getUpdates response is not the JSON Telegram documents
    ├── ImportFileError             (1)  an export file given to an importer cannot be used
    │   ├── SlackExportError        (1)  not a usable Slack export zip (not a zip, too large, ...)
    │   └── TelegramExportError     (2)  not a Telegram Desktop JSON export
    ├── AttachmentError             (1)  the attachment worker could not take a file
    │   ├── AttachmentUnavailableError (1)  the platform cannot give the file (``permanent``)
    │   └── AttachmentTooLargeError    (1)  the file is over ``capture.attachment_max_bytes``
    ├── ListenError                 (1)  ``serve`` cannot listen on its address (port in use, ...)
    ├── SearchIndexError            (1)  the search index cannot be read or written
    ├── AccountError                (2)  console account unknown, duplicate or invalid
    ├── IntegrityError              (3)  verification found tampering or loss
    └── RenderWorkerError           (1)  an export's render worker failed (re-run to resume)

A credential the platform rejects at start-up (a revoked token) is a ConfigError.
Messages name settings and ids, never a secret, token or message body.

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


class PlatformError(ChatkeeperError):
    exit_code = 1


class BackfillError(PlatformError):
    """Slack refused the history calls (not a member, bad token, ...)."""

    exit_code = 1


class PayloadError(PlatformError):
    """The getUpdates response is not the JSON object Telegram documents."""

    exit_code = 1


class ImportFileError(ChatkeeperError):
    """An export file given to an importer cannot be used."""

    exit_code = 1


class SlackExportError(ImportFileError):
    """The file is not a usable Slack export (not a zip, too large, ...)."""

    exit_code = 1


class TelegramExportError(ImportFileError):
    """The path is not a Telegram Desktop JSON export."""

    exit_code = 2


class AttachmentError(ChatkeeperError):
    """The attachment worker could not take a file (the worker retries or settles it)."""

    exit_code = 1


class AttachmentUnavailableError(AttachmentError):
    """The platform cannot give us the file. ``permanent`` stops the retries.

    ``category`` is the metrics label (``archive.observe.FETCH_REASONS``):
    ``permanent`` or ``transient`` unless the raiser names another.
    """

    def __init__(
        self, reason: str, *, permanent: bool = False, category: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.category = category or ("permanent" if permanent else "transient")


class AttachmentTooLargeError(AttachmentError):
    """The file is larger than ``capture.attachment_max_bytes``."""

    def __init__(self, size: int | None, limit: int) -> None:
        super().__init__(f"file is larger than the {limit}-byte limit")
        self.size = size
        self.limit = limit


class ListenError(ChatkeeperError):
    exit_code = 1


class SandboxError(ChatkeeperError):
    """``chatkeeper sandbox post`` found no running sandbox, or the sandbox refused."""

    exit_code = 1


class SearchIndexError(ChatkeeperError):
    """The search index cannot be read or written (rebuild it with ``chatkeeper index``)."""

    exit_code = 1


class AccountError(ChatkeeperError):
    exit_code = 2


class IntegrityError(ChatkeeperError):
    exit_code = 3


class RenderWorkerError(ChatkeeperError):
    exit_code = 1
