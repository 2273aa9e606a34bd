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
    # 2: counters kept by triggers in the transaction of every insert (status, metrics and
    # the backlog trigger read them in O(1)): ``records`` counts records, ``bundled`` the
    # records assigned to bundles; indexes for the conversation queries of the
    # completeness checks and for the sealed watermark
    """
    CREATE TABLE counters (
        name  TEXT    NOT NULL,
        shard INTEGER NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (name, shard)
    );
    INSERT INTO counters (name, shard, value) SELECT 'records', 0, count(*) FROM records;
    INSERT INTO counters (name, shard, value)
        SELECT 'bundled', 0, coalesce(sum(record_count), 0) FROM bundles;
    CREATE TRIGGER records_counted AFTER INSERT ON records BEGIN
        UPDATE counters SET value = value + 1 WHERE name = 'records' AND shard = 0;
    END;
    CREATE TRIGGER bundles_counted AFTER INSERT ON bundles BEGIN
        UPDATE counters SET value = value + NEW.record_count WHERE name = 'bundled' AND shard = 0;
    END;
    CREATE INDEX bundles_seq_last ON bundles(seq_last);
    CREATE INDEX records_conversation ON records(platform, conversation, kind, occurred_at);
    """,
)
