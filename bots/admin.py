"""The admin command grammar and audit records shared by both bots.

Slack: ``/chatkeeper on|off|status|list|help [--backfill[=DAYS]]`` and the same
words in an @mention. Telegram: ``/archive_on``, ``/archive_off``,
``/archive_status`` (also ``/archive_on@botname``). Every attempt, allowed or
refused, becomes an ``admin_action`` record; a change that is allowed also
becomes a ``monitoring_changed`` record and updates the journal's monitoring
table, in that order, so the audit trail is durable before the change applies.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from archive.capture import capture
from archive.journal import Journal, Monitored
from archive.journal.aio import AsyncJournal
from archive.model import Actor, Kind, Platform, Record, Source, record_key


class Command(StrEnum):
    ON = "on"
    OFF = "off"
    STATUS = "status"
    LIST = "list"
    HELP = "help"


CHANGES_MONITORING = frozenset({Command.ON, Command.OFF})
TELEGRAM_COMMANDS = {
    "archive_on": Command.ON,
    "archive_off": Command.OFF,
    "archive_status": Command.STATUS,
}
_BACKFILL = re.compile(r"^--backfill(?:=(\d{1,4}))?$")
DEFAULT_BACKFILL_DAYS = 30


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    command: Command | None  # None: not understood (see ``error``)
    backfill_days: int | None = None
    error: str | None = None


def parse_words(text: str) -> ParsedCommand:
    """Parse ``on --backfill=7`` style words (slash command text or @mention)."""
    words = text.split()
    if not words:
        return ParsedCommand(Command.HELP)
    try:
        command = Command(words[0].lower())
    except ValueError:
        return ParsedCommand(None, error=f"unknown command {words[0][:32]!r}")
    backfill: int | None = None
    for word in words[1:]:
        match = _BACKFILL.match(word)
        if match is None or command is not Command.ON:
            return ParsedCommand(None, error=f"unexpected argument {word[:32]!r}")
        backfill = int(match.group(1) or DEFAULT_BACKFILL_DAYS)
    return ParsedCommand(command, backfill_days=backfill)


def parse_telegram(text: str, bot_username: str) -> ParsedCommand | None:
    """Parse a Telegram bot command; None when the text is not one of ours."""
    if not text.startswith("/"):
        return None
    head = text.split(maxsplit=1)[0][1:]
    name, _, target = head.partition("@")
    if target and target.lower() != bot_username.lower():
        return None
    command = TELEGRAM_COMMANDS.get(name.lower())
    return None if command is None else ParsedCommand(command)


def is_authorized(
    user_id: str, *, platform_admin: bool, configured_admins: Collection[str]
) -> bool:
    """Platform admins/owners, or user ids listed in ``capture.admin_user_ids``."""
    return platform_admin or user_id in configured_admins


@dataclass(frozen=True, slots=True)
class AdminAttempt:
    """One admin command as received, with the verdict."""

    platform: Platform
    workspace: str
    conversation: str
    conversation_name: str | None
    actor: Actor
    command: Command | None
    words: str
    allowed: bool
    reason: str
    identity: str  # platform-unique id of the delivery (Slack trigger id, Telegram update id)
    source: Source
    occurred_at: datetime
    captured_at: datetime
    raw: bytes


def admin_action_record(attempt: AdminAttempt) -> Record:
    return Record(
        key=record_key(attempt.platform.value, attempt.workspace, "admin", attempt.identity),
        platform=attempt.platform,
        workspace=attempt.workspace,
        conversation=attempt.conversation,
        conversation_name=attempt.conversation_name,
        kind=Kind.ADMIN_ACTION,
        source=attempt.source,
        actor=attempt.actor,
        occurred_at=attempt.occurred_at,
        captured_at=attempt.captured_at,
        text=attempt.words,
        details={
            "command": attempt.command.value if attempt.command else None,
            "allowed": attempt.allowed,
            "reason": attempt.reason,
        },
        raw=attempt.raw,
    )


def monitoring_changed_record(attempt: AdminAttempt) -> Record:
    enabled = attempt.command is Command.ON
    return Record(
        key=record_key(attempt.platform.value, attempt.workspace, "monitoring", attempt.identity),
        platform=attempt.platform,
        workspace=attempt.workspace,
        conversation=attempt.conversation,
        conversation_name=attempt.conversation_name,
        kind=Kind.MONITORING_CHANGED,
        source=Source.ADMIN,
        actor=attempt.actor,
        occurred_at=attempt.occurred_at,
        captured_at=attempt.captured_at,
        details={"enabled": enabled},
        raw=attempt.raw,
    )


async def record_attempt(journal: Journal, attempt: AdminAttempt) -> None:
    """Journal the attempt (and the change, if allowed), then apply the change."""
    records = [admin_action_record(attempt)]
    changes = attempt.allowed and attempt.command in CHANGES_MONITORING
    if changes:
        records.append(monitoring_changed_record(attempt))
    await capture(journal, records)
    if changes:
        await AsyncJournal(journal).set_monitoring(
            Monitored(
                platform=attempt.platform.value,
                workspace=attempt.workspace,
                conversation=attempt.conversation,
                conversation_name=attempt.conversation_name,
                enabled=attempt.command is Command.ON,
                changed_by=attempt.actor.id,
                changed_at=attempt.captured_at,
            )
        )
