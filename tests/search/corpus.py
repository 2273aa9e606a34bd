"""A small multi-language desk archive for search tests: each record has a label.

Slack and Telegram, eleven languages, a thread, an edited message (twice), a
deleted message, attachments, and events without text. ``LABELS[seq]`` names
the record a hit is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archive.model import (
    Actor,
    Attachment,
    AttachmentState,
    Kind,
    Platform,
    Record,
    Source,
    record_key,
)

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
DANA = Actor("U0DANA", "Dana Levi", "dana.levi@example.com")
ELODIE = Actor("U0ELODIE", "Élodie Martin", "elodie@example.fr")
OMAR = Actor("U0OMAR", "Omar Haddad", "omar@example.ae")
MEI = Actor("U0MEI", "Mei Chen", "mei.chen@example.cn")
IVAN = Actor("7001", "Иван Петров", None)


@dataclass(frozen=True)
class Entry:
    label: str
    text: str | None
    actor: Actor
    kind: Kind = Kind.MESSAGE
    platform: Platform = Platform.SLACK
    conversation: str = "C0DEALS01"
    name: str = "deals"
    message: str | None = None  # label of the message this edits or deletes, or replies to
    files: tuple[str, ...] = ()
    previous: str | None = None


ENTRIES = (
    Entry("budget_q3", "Budget for Q3 approved by the board", DANA),
    Entry(
        "term_sheet",
        "Please review the term sheet before signing",
        DANA,
        files=("term-sheet-v2.pdf",),
        message="budget_q3",
    ),
    Entry(
        "term_sheet_edit1",
        "Please review the revised term sheet before signing",
        DANA,
        Kind.EDIT,
        message="term_sheet",
    ),
    Entry(
        "term_sheet_edit2",
        "Please review the final term sheet before signing tomorrow",
        DANA,
        Kind.EDIT,
        message="term_sheet",
    ),
    Entry("whatsapp", "Let's move this to WhatsApp, off the record", OMAR),
    Entry(
        "whatsapp_deleted",
        None,
        OMAR,
        Kind.DELETE,
        message="whatsapp",
        previous="Let's move this to WhatsApp, off the record",
    ),
    Entry("french", "Le café est prêt, réunion à midi pour la clôture", ELODIE),
    Entry("german", "Die Straße ist gesperrt; Übergabe morgen früh", ELODIE),
    Entry("hebrew", "התקציב אושר על ידי הדירקטוריון", DANA),
    Entry("hebrew_niqqud", "שָׁלוֹם לְכֻלָּם", DANA),
    Entry("arabic", "تمت الموافقة على الميزانية", OMAR),
    Entry("arabic_harakat", "مَرْحَبًا بِالْجَمِيعِ", OMAR),
    Entry("chinese", "明天的会议讨论预算", MEI, conversation="C0ASIA001", name="asia-desk"),
    Entry(
        "japanese",
        "明日の会議で予算を確認します。ガイドラインも",
        MEI,
        conversation="C0ASIA001",
        name="asia-desk",
    ),
    Entry(
        "korean", "내일 회의에서 예산을 논의합니다", MEI, conversation="C0ASIA001", name="asia-desk"
    ),
    Entry("booked", "the trade was booked late and the client confirmed", DANA),
    Entry("budgeting", "budgets and budgeting for next year", ELODIE),
    Entry("reaction", None, DANA, Kind.REACTION_ADDED, message="budget_q3"),
    Entry("joined", None, MEI, Kind.MEMBER_JOINED),
    Entry(
        "russian",
        "Бюджет утверждён, созвон завтра",
        IVAN,
        platform=Platform.TELEGRAM,
        conversation="-1001234",
        name="Trading Desk TLV",
    ),
    Entry(
        "telegram_photo",
        "see you at the café",
        IVAN,
        platform=Platform.TELEGRAM,
        conversation="-1001234",
        name="Trading Desk TLV",
        files=("chart-Q3.png",),
    ),
)
LABELS = {seq: e.label for seq, e in enumerate(ENTRIES, 1)}
SEQ = {label: seq for seq, label in LABELS.items()}


def _message_id(entry: Entry, index: int) -> str:
    return f"{(START + timedelta(minutes=index)).timestamp():.6f}"


def corpus() -> list[Record]:
    """The records, sealed-shaped (each has its seq), in seq order."""
    ids: dict[str, str] = {}
    out: list[Record] = []
    for index, entry in enumerate(ENTRIES):
        seq = index + 1
        own = _message_id(entry, index)
        ids[entry.label] = own
        parent = ids.get(entry.message or "")
        versioned = entry.kind in (Kind.EDIT, Kind.DELETE, Kind.REACTION_ADDED)
        message_id = parent if versioned else own
        thread = parent if entry.kind is Kind.MESSAGE and parent else None
        if entry.label.startswith("term_sheet"):
            thread = ids["budget_q3"]
        workspace = "T0ACME" if entry.platform is Platform.SLACK else "5550001"
        moment = START + timedelta(minutes=index)
        out.append(
            Record(
                key=record_key(entry.platform.value, workspace, entry.label),
                platform=entry.platform,
                workspace=workspace,
                conversation=entry.conversation,
                conversation_name=entry.name,
                kind=entry.kind,
                source=Source.EVENTS_API if entry.platform is Platform.SLACK else Source.WEBHOOK,
                occurred_at=moment,
                captured_at=moment + timedelta(seconds=1),
                message_id=message_id,
                thread_id=thread,
                actor=entry.actor,
                text=entry.text,
                previous_text=entry.previous,
                attachments=tuple(
                    Attachment(name, AttachmentState.PENDING, ref=f"F{n}")
                    for n, name in enumerate(entry.files)
                ),
                raw=json.dumps({"label": entry.label}).encode(),
                seq=seq,
            )
        )
    return out
