"""What a conversation event means, in words, for every human-readable format.

Telegram service messages (live ``service`` field names and Telegram Desktop
export ``action`` names) and the Slack and Telegram conversation events
become one phrase each ("created the group", "pinned a message", "added
Noa", ...), used by RSMF (event body), HTML, CSV and the Slack format, so a
group creation is never an ``unknown`` event saying "other".
"""

from __future__ import annotations

from exporters.fold import Event
from exporters.names import actor_label

#: Service message -> what the actor did (``{title}`` is the chat or topic name, when known).
SERVICES = {
    "group_chat_created": "created the group",
    "supergroup_chat_created": "created the supergroup",
    "channel_chat_created": "created the channel",
    "create_group": "created the group",
    "create_channel": "created the channel",
    "new_chat_photo": "changed the chat photo",
    "edit_group_photo": "changed the chat photo",
    "delete_chat_photo": "removed the chat photo",
    "delete_group_photo": "removed the chat photo",
    "migrate_to_chat_id": "upgraded the group to a supergroup",
    "migrate_to_supergroup": "upgraded the group to a supergroup",
    "migrate_from_chat_id": "upgraded this supergroup from a group",
    "migrate_from_group": "upgraded this supergroup from a group",
    "forum_topic_created": "created the topic",
    "topic_created": "created the topic",
    "forum_topic_edited": "edited the topic",
    "topic_edit": "edited the topic",
    "forum_topic_closed": "closed the topic",
    "forum_topic_reopened": "reopened the topic",
    "message_auto_delete_timer_changed": "changed the auto-delete timer",
    "video_chat_started": "started a video chat",
    "video_chat_ended": "ended a video chat",
    "clear_history": "cleared the history",
}
_KINDS = {
    "member_joined": "joined the conversation",
    "member_left": "left the conversation",
    "conversation_renamed": "renamed the conversation",
    "conversation_archived": "archived the conversation",
    "monitoring_changed": "changed archiving for this conversation",
    "admin_action": "ran an archive admin command",
}


def service_of(event: Event) -> str | None:
    """The Telegram service message behind ``event``, if it is one."""
    return event.details.get("service") or event.details.get("action")


def _title(event: Event) -> str | None:
    for name in ("new_name", "topic_name", "title", "name"):
        if event.details.get(name):
            return event.details[name]
    return None


def phrase(event: Event) -> str:
    """What happened, without who did it: "added Noa", "created the group “Desk”"."""
    kind = event.kind.value
    if event.members:
        names = ", ".join(actor_label(m) for m in event.members)
        return f"added {names}" if kind == "member_joined" else f"removed {names}"
    service = service_of(event)
    title = _title(event)
    if service in SERVICES:
        return SERVICES[service] + (f" “{title}”" if title else "")
    if kind == "conversation_renamed" and title:
        return f"renamed the conversation to “{title}”"
    if kind == "conversation_archived" and event.details.get("archived") == "False":
        return "unarchived the conversation"
    if kind in _KINDS:
        return _KINDS[kind]
    named = service or event.details.get("event") or event.details.get("update_type")
    return f"{named.replace('_', ' ')} event" if named else "an event chatkeeper has no words for"


def describe(event: Event) -> str:
    """Who did what: "Ivan Petrov added Noa"."""
    return f"{actor_label(event.actor)} {phrase(event)}"


def is_known(event: Event) -> bool:
    """Whether the event has a meaning beyond "something happened" (RSMF ``history``)."""
    return event.kind.value in _KINDS or service_of(event) in SERVICES
