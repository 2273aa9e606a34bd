"""What the index holds for one sealed record: one document per record, so per version.

A message, each of its edits and its delete are separate records (the
archive is append-only), so each becomes its own document: the original
text, every edited text and the deleted text are all searchable, and a hit
says which version it is. Records without text (reactions, joins, ...) are
indexed too, for their filterable fields (``kind:member_joined in:deals``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from archive.model import Kind, Record
from search.query import name_key
from search.text import tokens


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """The searchable fields of one record, with the bundle that holds it."""

    seq: int
    key: str
    bundle: int
    platform: str
    workspace: str
    conversation: str
    conversation_name: str | None
    kind: str
    occurred_at: datetime
    actor_id: str | None
    actor_name: str | None
    actor_email: str | None
    message_id: str | None
    thread_id: str | None
    body: str  # the text of this version (for a delete: the deleted text)
    files: str  # attachment names, one per line
    terms: str  # tokens of body and file names, in order, joined by spaces (one string: cheap to pass between processes)

    @property
    def has_file(self) -> bool:
        return bool(self.files)

    @property
    def conversation_key(self) -> str:
        return name_key(self.conversation_name or "")

    @property
    def actor_name_key(self) -> str:
        return name_key(self.actor_name or "")

    @property
    def actor_email_key(self) -> str:
        return name_key(self.actor_email or "")


def document_for(record: Record, bundle: int) -> SearchDocument:
    """The document for a sealed ``record`` (it has a seq) of bundle ``bundle``."""
    if record.seq is None:
        raise ValueError("only sealed records (with a seq) are indexed")
    body = record.text or ""
    if record.kind is Kind.DELETE and not body:
        body = record.previous_text or ""
    files = "\n".join(a.name for a in record.attachments if a.name)
    actor = record.actor
    return SearchDocument(
        seq=record.seq,
        key=record.key,
        bundle=bundle,
        platform=record.platform.value,
        workspace=record.workspace,
        conversation=record.conversation,
        conversation_name=record.conversation_name,
        kind=record.kind.value,
        occurred_at=record.occurred_at,
        actor_id=actor.id if actor else None,
        actor_name=actor.name if actor else None,
        actor_email=actor.email if actor else None,
        message_id=record.message_id,
        thread_id=record.thread_id,
        body=body,
        files=files,
        terms=" ".join(tokens(f"{body}\n{files}") if files else tokens(body)),
    )
