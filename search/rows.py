"""The documents table's columns, shared by both adapters, and rows back to hits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from search.document import SearchDocument
from search.port import Hit

# Columns written for each document, in order (the adapters add the full-text column).
DOC_COLUMNS = (
    "seq",
    "key",
    "bundle",
    "platform",
    "workspace",
    "conversation",
    "conversation_name",
    "conversation_key",
    "kind",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_name_key",
    "actor_email",
    "actor_email_key",
    "message_id",
    "thread_id",
    "has_file",
    "body",
    "files",
)
# Columns read back for a hit, in order; an edit's number is appended by the query.
HIT_COLUMNS = (
    "seq",
    "key",
    "bundle",
    "platform",
    "workspace",
    "conversation",
    "conversation_name",
    "kind",
    "occurred_at",
    "actor_id",
    "actor_name",
    "actor_email",
    "message_id",
    "thread_id",
    "body",
    "files",
)
# Counts the edits of a hit's message up to and including it (evaluated on the page only).
EDIT_NUMBER_SQL = (
    "CASE WHEN h.kind = 'edit' THEN (SELECT count(*) FROM search_docs e"
    " WHERE e.conversation = h.conversation AND e.message_id = h.message_id"
    " AND e.platform = h.platform AND e.workspace = h.workspace"
    " AND e.kind = 'edit' AND e.seq <= h.seq) END"
)


def doc_values(
    doc: SearchDocument, time_value: Callable[[datetime], Any], flag: Callable[[bool], Any]
) -> tuple[Any, ...]:
    """The values of DOC_COLUMNS for ``doc``."""
    return (
        doc.seq,
        doc.key,
        doc.bundle,
        doc.platform,
        doc.workspace,
        doc.conversation,
        doc.conversation_name,
        doc.conversation_key,
        doc.kind,
        time_value(doc.occurred_at),
        doc.actor_id,
        doc.actor_name,
        doc.actor_name_key,
        doc.actor_email,
        doc.actor_email_key,
        doc.message_id,
        doc.thread_id,
        flag(doc.has_file),
        doc.body,
        doc.files,
    )


def hit_from_row(row: Sequence[Any], to_time: Callable[[Any], datetime]) -> Hit:
    """A hit from a row of HIT_COLUMNS plus the edit number."""
    return Hit(
        seq=int(row[0]),
        key=row[1],
        bundle=int(row[2]),
        platform=row[3],
        workspace=row[4],
        conversation=row[5],
        conversation_name=row[6],
        kind=row[7],
        occurred_at=to_time(row[8]),
        actor_id=row[9],
        actor_name=row[10],
        actor_email=row[11],
        message_id=row[12],
        thread_id=row[13],
        body=row[14],
        files=row[15],
        edit_number=None if row[16] is None else int(row[16]),
    )
