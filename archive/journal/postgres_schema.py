"""Versioned schema of the PostgreSQL journal. Append a migration; never edit one."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE records (
        seq          BIGSERIAL PRIMARY KEY,
        key          TEXT    NOT NULL UNIQUE,
        platform     TEXT    NOT NULL,
        workspace    TEXT    NOT NULL,
        conversation TEXT    NOT NULL,
        kind         TEXT    NOT NULL,
        occurred_at  TEXT    NOT NULL,
        captured_at  TEXT    NOT NULL,
        blobs        TEXT    NOT NULL DEFAULT '',
        size         INTEGER NOT NULL,
        body         BYTEA   NOT NULL
    );
    -- (seq, size) lets a bundle's byte limit be computed without reading bodies.
    CREATE INDEX records_seq_size ON records(seq, size);
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE bundles (
        stream           TEXT    NOT NULL,
        number           BIGINT  NOT NULL,
        state            TEXT    NOT NULL,
        created_at       TEXT    NOT NULL,
        retain_until     TEXT    NOT NULL,
        record_count     INTEGER NOT NULL,
        seq_first        BIGINT  NOT NULL,
        seq_last         BIGINT  NOT NULL,
        records_sha256   TEXT,
        records_size     BIGINT,
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
        enabled           BOOLEAN NOT NULL,
        changed_by        TEXT NOT NULL,
        changed_at        TEXT NOT NULL,
        PRIMARY KEY (platform, workspace, conversation)
    );
    CREATE TABLE fetch_queue (
        id            BIGSERIAL PRIMARY KEY,
        record_key    TEXT    NOT NULL,
        platform      TEXT    NOT NULL,
        ref           TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        details       TEXT    NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        not_before    TEXT    NOT NULL,
        claimed_until TEXT,
        done          BOOLEAN NOT NULL DEFAULT FALSE,
        last_error    TEXT,
        UNIQUE (record_key, ref)
    );
    CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    );
    """,
    # 2: counters kept by triggers in the transaction of every insert, whichever version
    # of chatkeeper inserts (status, metrics and the backlog trigger read them in O(1)):
    # ``records`` counts records, in shards by backend so concurrent appends do not wait
    # on one row; ``bundled`` the records assigned to bundles. The triggers exist (and
    # lock the tables) before the existing rows are counted, so no insert is missed.
    # Indexes for the conversation queries of the completeness checks and for the
    # sealed watermark.
    """
    CREATE TABLE counters (
        name  TEXT    NOT NULL,
        shard INTEGER NOT NULL,
        value BIGINT  NOT NULL,
        PRIMARY KEY (name, shard)
    );
    CREATE FUNCTION chatkeeper_count_records() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO counters (name, shard, value)
            SELECT 'records', pg_backend_pid() % 64, count(*) FROM new_rows HAVING count(*) > 0
        ON CONFLICT (name, shard) DO UPDATE SET value = counters.value + excluded.value;
        RETURN NULL;
    END $$;
    CREATE TRIGGER records_counted AFTER INSERT ON records
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION chatkeeper_count_records();
    CREATE FUNCTION chatkeeper_count_bundled() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO counters (name, shard, value) VALUES ('bundled', 0, NEW.record_count)
        ON CONFLICT (name, shard) DO UPDATE SET value = counters.value + excluded.value;
        RETURN NULL;
    END $$;
    CREATE TRIGGER bundles_counted AFTER INSERT ON bundles
        FOR EACH ROW EXECUTE FUNCTION chatkeeper_count_bundled();
    INSERT INTO counters (name, shard, value) SELECT 'records', 64, count(*) FROM records;
    INSERT INTO counters (name, shard, value)
        SELECT 'bundled', 1, coalesce(sum(record_count), 0) FROM bundles;
    CREATE INDEX bundles_seq_last ON bundles(seq_last);
    CREATE INDEX records_conversation ON records(platform, conversation, kind, occurred_at);
    """,
    # 3: a row longer than about 2 KB (half of the rows of realistic Slack envelopes) has its
    # body compressed before it is stored; lz4 does it for a third of pglz's server CPU, to
    # about the same size (docs/performance.md). Only new rows are compressed so, and reads
    # return the same bytes either way. A server built without lz4 (or older than
    # PostgreSQL 14) keeps pglz.
    """
    DO $$
    BEGIN
        EXECUTE 'ALTER TABLE records ALTER COLUMN body SET COMPRESSION lz4';
    EXCEPTION WHEN feature_not_supported OR syntax_error THEN
        NULL;
    END $$;
    """,
)
