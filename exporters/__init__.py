"""Exporters: verified bundles from the archive, written out as files for eDiscovery and people.

Not pure functions: an export reads sealed bundles from S3 and verifies them
(``archive_source``, through the ``ArchiveStore`` port), filters and folds the
records and spills them into SQLite partition files in a scratch directory
(``filters``, ``fold``, ``partition``), forks render workers (``workers``),
copies attachment blobs from S3 checking their hashes (``source``), writes
each file atomically and resumably (``output``, ``file_index``) and ends with
a signed custody manifest (``custody``, ``custody_signature``,
``manifest_io``). ``pipeline.run_export`` is the one entry point.

The format writers live in ``exporters.formats``: each turns the spilled
conversations (or, for jsonl, the record stream) into one format's files.
"""
