"""How a transcript names the message a reply belongs to: a time and a sender, not an id.

A Slack thread is named by its parent's sender and time ("Bob Åkesson,
2026-11-02 09:03"), or by the time in its ``ts`` when the parent is not in the
transcript; a Telegram reply by its parent's sender and time, and a message of
a forum topic by the topic's name ("topic “Orders”").
"""

from __future__ import annotations

from datetime import UTC, datetime

from archive.model import Platform
from exporters.fold import Event, Message
from exporters.names import actor_label
from exporters.partition import Conversation

_TOPICS = ("forum_topic_created", "topic_created")


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


class Threads:
    """What the transcript has shown so far, to name the parents of later replies."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self._messages: dict[str, str] = {}  # message id -> "sender, time"
        self._topics: dict[str, str] = {}  # topic message id -> topic name

    def seen(self, message: Message) -> None:
        label = f"{actor_label(message.actor)}, {_minute(message.occurred_at)}"
        self._messages[message.message_id] = label

    def seen_event(self, event: Event) -> None:
        service = event.details.get("service") or event.details.get("action")
        if event.message_id and service in _TOPICS:
            name = event.details.get("topic_name") or event.details.get("title") or ""
            self._topics[event.message_id] = name

    def reply(self, message: Message) -> tuple[str, str] | None:
        """(where, link text) for a reply, e.g. ("thread", "Bob Åkesson, 2026-11-02 09:03")."""
        parent = message.parent_id
        if parent is None:
            return None
        if parent in self._topics:
            return "topic", f"“{self._topics[parent]}”" if self._topics[parent] else parent
        if parent in self._messages:
            return "thread", self._messages[parent]
        if self.conversation.platform is Platform.SLACK:
            try:
                moment = datetime.fromtimestamp(float(parent), UTC)
            except ValueError:
                return "thread", parent
            return "thread", f"message of {_minute(moment)} (not shown here)"
        return "thread", f"message {parent} (not shown here)"
