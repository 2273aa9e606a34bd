"""Pure translation of recorded payloads: kinds, details and the key scheme."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from archive.model import Kind, Source, record_key
from bots.slack.payload import Delivery, Snapshot
from bots.slack.sandbox.payloads import EVENTS, TS, C
from bots.slack.translate import event_record, message_record

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def _translate(
    event: dict[str, Any], event_id: str = "Ev1", source: Source = Source.EVENTS_API
) -> Any:
    envelope = {"team_id": "T1", "event_id": event_id, "event": event}
    return event_record(envelope, Delivery("T1", source, b"{}", NOW, event_id), Snapshot())


def test_message_key_is_the_same_however_it_arrives() -> None:
    """Live (any event_id), backfill and import of one message share the msg|channel|ts key."""
    live = _translate(EVENTS["plain"], "EvA")
    retried = _translate(EVENTS["plain"], "EvB")
    backfilled = message_record(
        C, EVENTS["plain"], Delivery("T1", Source.BACKFILL_API, b"{}", NOW), Snapshot()
    )
    assert live.key == retried.key == backfilled.key == record_key("slack", "T1", "msg", C, TS)


def test_each_edit_version_has_its_own_key() -> None:
    """Two edits of one message are two records; the same edit redelivered is one."""
    first = _translate(EVENTS["message_changed"], "Ev1")
    second_event = dict(EVENTS["message_changed"])
    second_event["message"] = dict(
        second_event["message"], edited={"user": "U0ALICE01", "ts": "1764410999.000000"}
    )
    second = _translate(second_event, "Ev2")
    assert first.key != second.key
    assert first.key == _translate(EVENTS["message_changed"], "Ev9").key
    assert first.details["edited_by_user"] is True


def test_tombstone_and_delete_details() -> None:
    """A thread parent's tombstone is a delete with the old text; unarchive is archived=false."""
    tombstone = _translate(EVENTS["tombstone"])
    assert tombstone.kind is Kind.DELETE and tombstone.details["tombstone"] is True
    assert tombstone.previous_text == "Quarterly numbers attached"
    assert _translate(EVENTS["channel_unarchive"]).details["archived"] is False
    assert _translate(EVENTS["channel_archive"]).details["archived"] is True
    assert _translate(EVENTS["channel_deleted"]).details["deleted"] is True


def test_message_replied_without_subtype_is_not_a_new_message() -> None:
    """message_replied arrives without its subtype (documented bug); it must not take the parent's key."""
    event = {
        "type": "message",
        "channel": C,
        "hidden": True,
        "ts": "1764410065.0",
        "event_ts": "1764410065.0",
        "message": {"ts": TS, "text": "parent", "reply_count": 1},
    }
    record = _translate(event)
    assert record.kind is Kind.OTHER
    assert record.key != record_key("slack", "T1", "msg", C, TS)


def test_reaction_and_file_details() -> None:
    """Reactions name the emoji and target message; file_shared has a pending attachment by file id."""
    reaction = _translate(EVENTS["reaction_added"])
    assert (reaction.details["reaction"], reaction.message_id, reaction.conversation) == (
        "thumbsup",
        TS,
        C,
    )
    shared = _translate(EVENTS["file_shared"])
    assert [(a.ref, a.state.value) for a in shared.attachments] == [("F0TERMS01", "pending")]
    share = _translate(EVENTS["file_share"])
    assert [(a.name, a.mime, a.size) for a in share.attachments] == [
        ("term-sheet.pdf", "application/pdf", 5)
    ]
