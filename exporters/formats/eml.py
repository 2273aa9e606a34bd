"""EML: one RFC 5322 message per chat message, readable in any mail client.

From is the sender, To the conversation, Date the platform time; replies in
a thread carry In-Reply-To and References to their parent's Message-ID.
From, To and Subject are written by ``exporters.formats.mail_headers`` (not by the
email package, whose folding of mixed-script text loses and doubles
spaces), so they decode back to exactly the original text. The body states
the edit history, deletion and reactions; stored attachments are attached
under the same safe single-component names as in the HTML and RSMF exports
(``<sha256 prefix>_<safe name>``), the original name in the body.
Boundaries are derived from the record key, so the same archive gives the
same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from archive.codec import format_time
from archive.model import Actor, AttachmentState, Platform
from exporters.empty import notice_instead
from exporters.fold import Message
from exporters.formats.mail_headers import mailbox, unstructured
from exporters.formats.mime_text import TEXT_PART as _TEXT_PART
from exporters.formats.mime_text import plain_fields, quoted_printable
from exporters.names import (
    actor_label,
    attachment_file_name,
    conversation_slug,
    mail_address,
    message_address,
    safe_component,
)
from exporters.partition import Conversation
from exporters.render import RenderContext
from exporters.source import copy_blob

DIRECTORY = "eml"
_ZERO = timedelta(0)


class _HeaderClasses(HeaderRegistry):
    """The standard header classes, built once per header name.

    The stdlib registry creates a new class for every header it parses, which
    dominated the cost of writing a message.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


_POLICY = SMTP.clone(header_factory=_HeaderClasses())
Reader = Callable[[str], str]


def _same(value: str) -> str:
    return value


def export_eml(context: RenderContext) -> None:
    """Write ``eml/<conversation>/<day>/<time>-<key>.eml`` for every message."""
    if notice_instead(context):
        return
    store = context.store
    for conversation in context.conversations():
        slug = conversation_slug(
            conversation.platform, conversation.workspace, conversation.conversation
        )
        for number in store.slices(conversation):
            for item in context.readable_items(conversation, number):
                if not isinstance(item, Message) or item.pin_only:
                    continue
                at = item.occurred_at
                relative = (
                    f"{DIRECTORY}/{slug}/{at.year:04d}-{at.month:02d}-{at.day:02d}/"
                    f"{at.hour:02d}{at.minute:02d}{at.second:02d}{at.microsecond:06d}"
                    f"-{item.key[:16]}.eml"
                )
                if context.out.done(relative):
                    continue
                data = render_message(context, conversation, item)
                with context.out.create(relative) as handle:
                    handle.write(data)


_ADDRESS_SAFE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+$")


def _address(actor: Actor | None, platform: Platform) -> str:
    addr = mail_address(actor, platform)
    if _ADDRESS_SAFE.match(addr) and ".." not in addr and not addr.startswith("."):
        return addr
    user = addr.rpartition("@")[0]
    return f"{safe_component(user, 64)}@chatkeeper.invalid"


def subject_of(conversation: Conversation, message: Message, text: Reader = _same) -> str:
    """``[platform conversation] first line`` (the first line cut at 70 characters)."""
    body = text(message.text).strip()
    first_line = body.splitlines()[0] if body else "(no text)"
    if len(first_line) > 70:
        first_line = first_line[:69] + "…"
    return f"[{conversation.platform.value} {conversation.display}] {first_line}"


def render_message(context: RenderContext, conversation: Conversation, message: Message) -> bytes:
    """The message as RFC 5322 bytes (CRLF line ends)."""
    platform = conversation.platform
    text = context.reader(conversation)
    room = safe_component(f"{conversation.workspace}-{conversation.conversation}", 64)
    head = (
        mailbox("From", actor_label(message.actor), _address(message.actor, platform))
        + mailbox("To", conversation.display, f"{room}@{platform.value}.chatkeeper.invalid")
        + unstructured("Subject", subject_of(conversation, message, text))
    )
    if message.forwarded_from:
        head += unstructured("X-Chatkeeper-Forwarded-From", message.forwarded_from)
    fields = _fields(conversation, message)
    body = _body(conversation, message, text)
    stored = any(a.state is AttachmentState.STORED and a.sha256 for a in message.attachments)
    plain = None if stored else plain_fields(fields)
    if (
        plain is not None
    ):  # what the email package writes for these fields, at a fraction of its cost
        return head + plain + _TEXT_PART + quoted_printable(body)
    mail = EmailMessage(policy=_POLICY)
    for name, value in fields:
        mail[name] = value
    mail.set_content(body, cte="quoted-printable")
    for attachment in message.attachments:
        if attachment.state is not AttachmentState.STORED or not attachment.sha256:
            continue
        source = context.blobs.open_blob(attachment.sha256)
        if source is None:
            continue
        buffer = io.BytesIO()
        copy_blob(source, attachment.sha256, buffer)
        maintype, _, subtype = (attachment.mime or "application/octet-stream").partition("/")
        mail.add_attachment(
            buffer.getvalue(),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment_file_name(attachment.sha256, attachment.name),
        )
    if mail.is_multipart():
        mail.set_boundary(f"chatkeeper-{message.key[:32]}")
    return head + mail.as_bytes()


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _date(moment: datetime) -> str:
    """``email.utils.format_datetime`` of a UTC time, without its cost (else that function)."""
    if moment.utcoffset() != _ZERO:
        return format_datetime(moment)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} "
        f"{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000"
    )


def _fields(conversation: Conversation, message: Message) -> list[tuple[str, str]]:
    """The ASCII header fields after From, To and Subject, in order."""
    platform = conversation.platform
    fields = [
        ("Date", _date(message.occurred_at)),
        (
            "Message-ID",
            message_address(
                platform, conversation.workspace, conversation.conversation, message.message_id
            ),
        ),
    ]
    parent = message.parent_id
    if parent:
        parent_id = message_address(
            platform, conversation.workspace, conversation.conversation, parent
        )
        fields += [("In-Reply-To", parent_id), ("References", parent_id)]
    fields += [
        ("X-Chatkeeper-Record-Key", message.key),
        ("X-Chatkeeper-Seq", str(message.seq)),
        ("X-Chatkeeper-Bundle", "" if message.bundle is None else str(message.bundle)),
        (
            "X-Chatkeeper-Verified",
            "yes" if message.verified else "NO (exported with --allow-unverified)",
        ),
    ]
    if message.edits:
        fields.append(("X-Chatkeeper-Edited", str(len(message.edits))))
    elif message.edited_at is not None:
        fields.append(("X-Chatkeeper-Edited", "yes (earlier text not archived)"))
    if message.deleted:
        fields.append(("X-Chatkeeper-Deleted", "yes"))
    return fields


def _body(conversation: Conversation, message: Message, text: Reader) -> str:
    lines = [text(message.text), "", "-- "]
    lines.append(
        f"{conversation.platform.value} conversation {conversation.display} "
        f"({conversation.conversation}), {format_time(message.occurred_at)}"
    )
    if message.parent_id:
        lines.append(f"Reply in thread to message {message.parent_id}")
    if message.album:
        lines.append(f"Album: also messages {', '.join(message.album)}")
    if message.forwarded_from:
        lines.append(f"Forwarded from {message.forwarded_from}")
    if message.edited_at is not None and not message.edits:
        lines.append(
            f"Edited by {actor_label(message.edited_by)} at {format_time(message.edited_at)}"
            " (the earlier text is not in the archive)"
        )
    for index, edit in enumerate(message.edits, 1):
        lines.append(f"Edit {index} by {actor_label(edit.actor)} at {format_time(edit.at)}:")
        lines.append(f"  before: {text(edit.previous)}")
        lines.append(f"  after:  {text(edit.new)}")
    if message.deleted:
        when = format_time(message.deleted_at) if message.deleted_at else "unknown time"
        lines.append(
            f"DELETED by {actor_label(message.deleted_by)} at {when} (last known text above)"
        )
    if message.orphan:
        lines.append("The original message is not in this export; text is as last recorded.")
    for name, actors in sorted(message.reactions.items()):
        lines.append(f"Reaction {name} by {', '.join(actor_label(a) for a in actors)}")
    for attachment in message.attachments:
        if attachment.state is AttachmentState.STORED and attachment.sha256:
            safe = attachment_file_name(attachment.sha256, attachment.name)
            lines.append(f"Attachment {safe}: original name {attachment.name!r}")
        else:
            reason = f": {attachment.reason}" if attachment.reason else ""
            lines.append(
                f"Attachment {attachment.name} not archived ({attachment.state.value}{reason})"
            )
    lines.append(f"Archive record {message.key}, seq {message.seq}, bundle {message.bundle}")
    return "\n".join(lines) + "\n"
