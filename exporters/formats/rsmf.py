"""RSMF 2.0.0: one ``.rsmf`` file per conversation per slice (a day by default).

An RSMF file is an RFC 5322 message with ``X-RSMF-*`` headers, the
conversation's readable text as its body (``exporters.formats.rsmf_body``; Relativity
indexes it as extracted text) and exactly one base64 ``rsmf.zip`` attachment
holding ``rsmf_manifest.json`` and the attachment files it references.
``X-RSMF-*`` values are UTF-8 (RFC 6532, as Relativity reads them, never RFC
2047 encoded words); ``X-RSMF-Participants`` lists the participants'
display names separated by commas, in manifest order, a name with a comma
or a double quote written as a quoted string (``exporters.formats.mail_headers``). The zip is
spooled to disk and base64-encoded in chunks, so attachments never sit in
memory whole; entries carry a fixed date so output is byte-identical.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import zipfile
from email.utils import format_datetime
from typing import IO, BinaryIO

import orjson

from archive.codec import parse_time
from archive.model import Platform
from exporters.empty import notice_instead
from exporters.formats.mail_headers import mailbox, unstructured, utf8, utf8_list
from exporters.formats.rsmf_body import transcript
from exporters.formats.rsmf_manifest import ManifestBuilder
from exporters.names import conversation_slug, slice_label
from exporters.partition import Conversation
from exporters.render import RenderContext
from exporters.source import copy_blob

DIRECTORY = "rsmf"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_B64_CHUNK = 57 * 1024  # 57 bytes make one 76-character base64 line
_APPLICATIONS = {
    Platform.SLACK: "Slack",
    Platform.TELEGRAM: "Telegram",
    Platform.CHATKEEPER: "chatkeeper",
}


def export_rsmf(context: RenderContext) -> None:
    """Write ``rsmf/<conversation>/<slice>.rsmf`` for every slice with events."""
    if notice_instead(context):
        return
    store = context.store
    for conversation in context.conversations():
        slug = conversation_slug(
            conversation.platform, conversation.workspace, conversation.conversation
        )
        collection = "chatkeeper-" + hashlib.sha256(slug.encode()).hexdigest()[:24]
        for number in store.slices(conversation):
            label = slice_label(store.slice_start(number), store.slice_seconds)
            relative = f"{DIRECTORY}/{slug}/{label}.rsmf"
            if context.out.done(relative):
                continue
            builder = ManifestBuilder(conversation, collection, context.reader(conversation))
            for item in context.readable_items(conversation, number):
                builder.add(item)
            if builder.events:
                _write(context, conversation, builder, relative, label)


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _compact(value: object) -> bytes:
    """Compact UTF-8 JSON: orjson's bytes, which are the standard library's for these values
    (``ensure_ascii=False``, no spaces), except an integer beyond 64 bits, which it refuses."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _write(
    context: RenderContext,
    conversation: Conversation,
    builder: ManifestBuilder,
    relative: str,
    label: str,
) -> None:
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        with zipfile.ZipFile(spool, "w") as archive:
            archive.writestr(
                _zip_entry("rsmf_manifest.json"), _compact(builder.manifest()), compresslevel=1
            )
            for name, (sha256, _size) in sorted(builder.files.items()):
                source = context.blobs.open_blob(sha256)
                if source is None:
                    continue
                with archive.open(_zip_entry(name), "w") as entry:
                    copy_blob(source, sha256, entry)  # type: ignore[arg-type]
        spool.seek(0)
        with context.out.create(relative) as handle:
            _write_message(context, conversation, builder, label, spool, handle)


def _write_message(
    context: RenderContext,
    conversation: Conversation,
    builder: ManifestBuilder,
    label: str,
    spool: IO[bytes],
    handle: BinaryIO,
) -> None:
    boundary = (
        "rsmf-" + hashlib.sha256(f"{builder.collection_id}/{label}".encode()).hexdigest()[:32]
    )
    names = [str(p.get("display", p["id"])) for p in builder.participants.values()]
    references = sum(len(e.get("attachments", ())) for e in builder.events)
    application = _APPLICATIONS[conversation.platform]
    handle.write(mailbox("From", "chatkeeper export", "export@chatkeeper.invalid"))
    handle.write(unstructured("Subject", f"{conversation.display} ({application}) {label}"))
    for name, value in (("Date", _mail_date(builder.first)), ("MIME-Version", "1.0")):
        handle.write(unstructured(name, value))
    for name, value in (
        ("X-RSMF-Version", "2.0.0"),
        ("X-RSMF-Generator", context.generator),
        ("X-RSMF-BeginDate", builder.first or ""),
        ("X-RSMF-EndDate", builder.last or ""),
        ("X-RSMF-EventCount", str(len(builder.events))),
        ("X-RSMF-Application", application),
    ):
        handle.write(utf8(name, value))
    handle.write(utf8_list("X-RSMF-Participants", names))
    for name, value in (
        ("X-RSMF-AttachmentCount", str(references)),
        ("X-RSMF-EventCollectionID", builder.collection_id),
        ("X-Chatkeeper-Verification", context.verification_line()),
    ):
        handle.write(utf8(name, value))
    handle.write(f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n'.encode("ascii"))
    text = transcript(conversation, application, builder.manifest(), context.verification_line())
    summary = text.replace("\n", "\r\n")
    handle.write(
        f'\r\n--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii")
    )
    _base64_lines(summary.encode("utf-8"), handle)
    handle.write(
        f'\r\n--{boundary}\r\nContent-Type: application/zip; name="rsmf.zip"\r\n'
        'Content-Disposition: attachment; filename="rsmf.zip"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n".encode("ascii")
    )
    while chunk := spool.read(_B64_CHUNK):
        _base64_lines(chunk, handle)
    handle.write(f"\r\n--{boundary}--\r\n".encode("ascii"))


def _base64_lines(data: bytes, handle: BinaryIO) -> None:
    encoded = base64.b64encode(data)
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    handle.write(b"\r\n".join(lines))
    if lines:
        handle.write(b"\r\n")


def _mail_date(stamp: str | None) -> str:
    if stamp is None:
        return ""
    return format_datetime(parse_time(stamp))
