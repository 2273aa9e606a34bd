"""Versioned schema of the SQLite journal. Append a migration; never edit one."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: records, bundles, monitoring, fetch queue, leases
    """
    CREATE TABLE records (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        key          TEXT    NOT NULL UNIQUE,
        platform     TEXT    NOT NULL,
        workspace    TEXT    NOT NULL,
        conversation TEXT    NOT NULL,
        kind         TEXT    NOT NULL,
        occurred_at  TEXT    NOT NULL,
        captured_at  TEXT    NOT NULL,
        blobs        TEXT    NOT NULL DEFAULT '',
        size         INTEGER NOT NULL,
        body         BLOB    NOT NULL
    );
    -- (seq, size) lets a bundle's byte limit be computed without reading bodies.
    CREATE INDEX records_seq_size ON records(seq, size);
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE bundles (
        stream           TEXT    NOT NULL,
        number           INTEGER NOT NULL,
        state            TEXT    NOT NULL,
        created_at       TEXT    NOT NULL,
        retain_until     TEXT    NOT NULL,
        record_count     INTEGER NOT NULL,
        seq_first        INTEGER NOT NULL,
        seq_last         INTEGER NOT NULL,
        records_sha256   TEXT,
        records_size     INTEGER,
        records_version  TEXT,
        manifest_sha256  TEXT,
        manifest_version TEXT,
        PRIMARY KEY (stream, number)
    );
    CREATE TABLE monitoring (
        platform          TEXT NOT NULL,
        workspace         TEXT NOT NULL,
        conversation      TEXT NOT NULL,
        conversation_name TEXT,
        enabled           INTEGER NOT NULL,
        changed_by        TEXT NOT NULL,
        changed_at        TEXT NOT NULL,
        PRIMARY KEY (platform, workspace, conversation)
    );
    CREATE TABLE fetch_queue (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        record_key    TEXT    NOT NULL,
        platform      TEXT    NOT NULL,
        ref           TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        details       TEXT    NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        not_before    TEXT    NOT NULL,
        claimed_until TEXT,
        done          INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        UNIQUE (record_key, ref)
    );
    CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    );
    """,
)
