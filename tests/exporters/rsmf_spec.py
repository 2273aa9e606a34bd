"""The checks Relativity's RSMF specification and validator make, as far as they can be made here.

``problems(path)`` returns every rule an ``.rsmf`` file breaks (an empty
list means no warnings): the RFC 5322 layer (``X-RSMF-Version``, exactly
one base64 ``rsmf.zip`` attachment, UTF-8 ``X-RSMF-*`` values without RFC
2047 encoded words, lines within 998 octets), the headers against the
manifest (event count, begin and end dates, attachment count, the
participants' display names), the manifest against the RSMF 2.0.0 schema,
and the references inside it (participants, conversations, parents that
are earlier events of the same conversation, attachments that are files of
the zip and files of the zip that are referenced, events in time order).
"""

from __future__ import annotations

import io
import json
import zipfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import jsonschema

from archive.codec import parse_time
from exporters.formats.mail_headers import split_items

SCHEMA = json.loads((Path(__file__).parent / "rsmf" / "rsmf_schema_2_0_0.json").read_text())
_VALIDATOR = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def raw_headers(data: bytes) -> dict[str, str]:
    """The top-level header fields, unfolded and decoded as UTF-8 (as Relativity reads them)."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    fields: dict[str, str] = {}
    for line in head.replace("\r\n ", " ").replace("\r\n\t", "\t").split("\r\n"):
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    return fields


def parsed(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def manifest_of(message: EmailMessage) -> tuple[dict[str, Any], zipfile.ZipFile]:
    [attachment] = [a for a in message.iter_attachments() if a.get_filename() == "rsmf.zip"]
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    archive = zipfile.ZipFile(io.BytesIO(payload))
    return json.loads(archive.read("rsmf_manifest.json")), archive


def body_text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def problems(path: Path) -> list[str]:
    """Every rule ``path`` breaks."""
    found: list[str] = []
    data = path.read_bytes()
    if path.suffix != ".rsmf":
        found.append("extension is not .rsmf")
    head = data.split(b"\r\n\r\n", 1)[0]
    if any(len(line) > 998 for line in head.split(b"\r\n")):
        found.append("a header line is longer than 998 octets")
    headers = raw_headers(data)
    for name, value in headers.items():
        if name.lower().startswith("x-rsmf-") and "=?" in value:
            found.append(f"{name} holds an RFC 2047 encoded word")
    message = parsed(path)
    attachments = list(message.iter_attachments())
    zips = [a for a in attachments if a.get_filename() == "rsmf.zip"]
    if len(attachments) != 1 or len(zips) != 1:
        return [*found, "not exactly one attachment named rsmf.zip"]
    if zips[0]["Content-Transfer-Encoding"] != "base64":
        found.append("rsmf.zip is not base64")
    if zips[0].get_content_disposition() != "attachment":
        found.append("rsmf.zip is not Content-Disposition: attachment")
    manifest, archive = manifest_of(message)
    found.extend(f"schema: {e.message}" for e in _VALIDATOR.iter_errors(manifest))
    if headers.get("X-RSMF-Version") != manifest.get("version"):
        found.append("X-RSMF-Version differs from the manifest version")
    events = manifest["events"]
    expect = {
        "X-RSMF-EventCount": str(len(events)),
        "X-RSMF-BeginDate": events[0]["timestamp"] if events else None,
        "X-RSMF-EndDate": events[-1]["timestamp"] if events else None,
        "X-RSMF-AttachmentCount": str(sum(len(e.get("attachments", [])) for e in events)),
    }
    for name, value in expect.items():
        if headers.get(name) != value:
            found.append(f"{name} is {headers.get(name)!r}, the manifest says {value!r}")
    displays = [str(p.get("display", p["id"])) for p in manifest["participants"]]
    if split_items(headers.get("X-RSMF-Participants", "")) != displays:
        found.append("X-RSMF-Participants does not list the manifest's participants")
    found.extend(_references(manifest, set(archive.namelist()) - {"rsmf_manifest.json"}))
    return found


def _references(manifest: dict[str, Any], files: set[str]) -> list[str]:
    found = []
    participants = {p["id"] for p in manifest["participants"]}
    conversations = {c["id"] for c in manifest["conversations"]}
    for conversation in manifest["conversations"]:
        if not set(conversation["participants"]) <= participants:
            found.append(f"conversation {conversation['id']} names an unknown participant")
    for participant in manifest["participants"]:
        if "avatar" in participant and participant["avatar"] not in files:
            found.append(f"avatar {participant['avatar']} is not in the zip")
    seen: dict[str, str] = {}
    referenced: set[str] = set()
    previous = None
    for event in manifest["events"]:
        if event.get("participant") not in participants:
            found.append(f"event {event.get('id')} has an unknown participant")
        if event.get("conversation") not in conversations:
            found.append(f"event {event.get('id')} has an unknown conversation")
        moment = parse_time(event["timestamp"])
        if previous is not None and moment < previous:
            found.append(f"event {event.get('id')} is out of time order")
        previous = moment
        parent = event.get("parent")
        if parent is not None and seen.get(parent) != event.get("conversation"):
            found.append(f"event {event.get('id')} has a parent that is not an earlier event")
        for group in ("reactions", "read_receipts"):
            for item in event.get(group, []):
                people = item.get("participants", [item.get("participant")])
                if not set(people) <= participants:
                    found.append(f"event {event.get('id')} {group} name an unknown participant")
        for edit in event.get("edits", []):
            if edit["participant"] not in participants:
                found.append(f"event {event.get('id')} edit by an unknown participant")
        for attachment in event.get("attachments", []):
            referenced.add(attachment["id"])
            if attachment["id"] not in files:
                found.append(f"attachment {attachment['id']} was not found in the zip archive")
        if "id" in event:
            seen[event["id"]] = event.get("conversation", "")
    found.extend(
        f"file {n} in the zip archive has no reference" for n in sorted(files - referenced)
    )
    return found
