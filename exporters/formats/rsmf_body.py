"""The readable text of an RSMF file: what Relativity Processing indexes as extracted text.

Relativity builds a document's extracted text from the RSMF's body, so the
body holds the conversation itself (as Relativity's own sample generator
does): a short heading (conversation, period, participants, verification),
then every event in time order with its time, who, and its text, followed by
its edits, deletion, reactions and attachments. Messages are therefore
searchable after processing, and a proximity search hits the same words as
in the Short Message Viewer.
"""

from __future__ import annotations

from typing import Any

from archive.codec import parse_time
from exporters.partition import Conversation

_VERBS = {"join": "joined", "leave": "left"}


def _time(stamp: str) -> str:
    """``YYYY-MM-DD HH:MM:SS UTC`` of a manifest timestamp.

    A stamp as ``format_time`` writes it (``YYYY-MM-DDTHH:MM:SS.ffffffZ``, a year of
    four digits from 1000) is cut to size; anything else is parsed and formatted.
    """
    if len(stamp) == 27 and stamp[10] == "T" and stamp[26] == "Z" and stamp[0] != "0":
        return f"{stamp[:10]} {stamp[11:19]} UTC"
    return parse_time(stamp).strftime("%Y-%m-%d %H:%M:%S UTC")


def transcript(
    conversation: Conversation,
    application: str,
    manifest: dict[str, Any],
    verification: str,
) -> str:
    """The body text (LF line ends; the writer sends CRLF)."""
    names = {p["id"]: str(p.get("display", p["id"])) for p in manifest["participants"]}
    events = manifest["events"]
    kind = "direct conversation" if conversation.is_direct else "conversation"
    lines = [
        f"{application} {kind}: {conversation.display} ({conversation.conversation}), "
        f"workspace {conversation.workspace}",
    ]
    if events:
        lines.append(f"From {_time(events[0]['timestamp'])} to {_time(events[-1]['timestamp'])}")
    lines.append("Participants: " + ", ".join(names.values()))
    lines.append(f"{len(events)} event(s). {verification}")
    for event in events:
        lines.append("")
        lines.extend(_event_lines(event, names))
    return "\n".join(lines) + "\n"


def _event_lines(event: dict[str, Any], names: dict[str, str]) -> list[str]:
    who = names.get(event.get("participant", ""), "unknown")
    kind = event["type"]
    head = f"{_time(event['timestamp'])}  {who}"
    if kind in _VERBS:
        by = _custom(event, "by")
        return [f"{head} {_VERBS[kind]}" + (f" (added by {names.get(by, by)})" if by else "")]
    lines = [head]
    if event.get("body"):
        lines.append(str(event["body"]))
    if event.get("parent"):
        lines.append(f"  (reply in thread to message {event['parent']})")
    forwarded = _custom(event, "forwarded_from")
    if forwarded:
        lines.append(f"  (forwarded from {forwarded})")
    for edit in event.get("edits", []):
        editor = names.get(edit.get("participant", ""), "unknown")
        before = f"; before: {edit['previous']}" if "previous" in edit else ""
        lines.append(f"  (edited by {editor} at {_time(edit['timestamp'])}{before})")
    if event.get("deleted"):
        by = _custom(event, "deleted_by")
        at = _custom(event, "deleted_at")
        when = f" at {_time(at)}" if at else ""
        lines.append(
            f"  (deleted by {names.get(by or '', by or 'unknown')}{when}; last text above)"
        )
    for reaction in event.get("reactions", []):
        people = ", ".join(names.get(p, p) for p in reaction.get("participants", []))
        lines.append(f"  (reaction {reaction['value']} by {people})")
    for attachment in event.get("attachments", []):
        lines.append(f"  (attachment: {attachment.get('display', attachment['id'])})")
    for item in event.get("custom", []):
        if item["name"] == "attachment_not_archived":
            lines.append(f"  (attachment not archived: {item['value']})")
    return lines


def _custom(event: dict[str, Any], name: str) -> str | None:
    for item in event.get("custom", []):
        if item["name"] == name:
            return str(item["value"])
    return None
