"""The sample archive grown into a workspace a Slack reviewer would meet.

On top of ``archive_records()``: a private channel with a thread, a member
who never posts and a pin of a message that is not in the archive; a group
DM; a second workspace; the public channel archived at the end.
"""

from __future__ import annotations

from dataclasses import replace

from archive.model import Actor, Kind, Platform, Record, record_key
from tests.exporters.export_fixtures import ADMIN, ALICE, BOB, CAROL, _Builder, archive_records

PRIVATE = "C0PRIV0001"
MPIM = "C0MPIM0001"
MPIM_NAME = "mpdm-alice--bob--carol-1"
OTHER_TEAM = "T0002"
PARTNERS = "C0PARTNER1"
DANA = Actor("U0DANA0001", "Moreau, Dana", "dana@partner.example")


def workspace_records() -> list[Record]:
    """archive_records() plus the private, group-DM, second-workspace and archive records."""
    b = _Builder()
    b.records = archive_records()
    s = Platform.SLACK
    m = "m-and-a"
    private = {"conversation_type": "private_channel"}
    b.add(s, PRIVATE, Kind.MEMBER_JOINED, 60, CAROL, name=m, details=dict(private))
    b.add(s, PRIVATE, Kind.MESSAGE, 61, ALICE, name=m, text="Target is ACME", details=dict(private))
    b.add(
        s,
        PRIVATE,
        Kind.MESSAGE,
        62,
        BOB,
        name=m,
        text="Keep it quiet until Friday",
        thread_at=61,
        details=dict(private),
    )
    b.add(
        s,
        PRIVATE,
        Kind.PIN_ADDED,
        63,
        ALICE,
        name=m,
        message_id="1793600000.000100",
        details=dict(private),
    )
    group = {"conversation_type": "mpim"}
    b.add(s, MPIM, Kind.MESSAGE, 64, CAROL, name=MPIM_NAME, text="lunch?", details=group)
    partners = b.add(s, PARTNERS, Kind.MESSAGE, 65, DANA, name="partners", text="Hello from T0002")
    b.records[-1] = _in_team(partners, OTHER_TEAM, {"conversation_type": "public_channel"})
    b.add(
        s,
        "C0DEALS01",
        Kind.CONVERSATION_ARCHIVED,
        24 * 60 + 30,
        ADMIN,
        name="deals",
        text="<@U0ADMIN01> archived the channel",
        details={"archived": True},
    )
    return b.records


def _in_team(record: Record, team: str, details: dict[str, str]) -> Record:
    return replace(
        record,
        workspace=team,
        key=record_key("slack", team, record.conversation, "message", record.seq or 0),
        details=details,
    )
