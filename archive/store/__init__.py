"""Where sealed bundles and blobs live: the ArchiveStore port and its S3 adapter."""

from archive.store.port import ArchiveStore, LockInfo, ObjectVersion, Retention

__all__ = ["ArchiveStore", "LockInfo", "ObjectVersion", "Retention"]
