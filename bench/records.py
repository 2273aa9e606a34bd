"""Realistic records for the benchmarks: Slack Events API envelopes of about 1 KB.

Texts are drawn from a vocabulary with a seeded RNG so that compression ratios
are like real chat, not like repeated strings. With ``history``, that share of
the records are reactions and edits of an earlier message of the same channel
instead: most about the last minute or so, one in fifty about a message up to
six hours old (late reactions), as ``refers_back`` sees in real chat.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.journal import RecordLog
from archive.model import Actor, Kind, Platform, Record, Source, record_key

WORDS = (
    "eur usd gbp jpy forward spot swap bid offer firm indicative notional value date booked "
    "confirm trade desk client fee spread basis points tomorrow today call cell pricing limit "
    "risk hedge deal term sheet signed counterparty settlement margin collateral rate curve "
    "please thanks done agreed check numbers revised quarter revenue budget approve review"
).split()
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CHANNELS = 40
_STEP = timedelta(milliseconds=37)


def realistic_record(n: int, rng: random.Random) -> Record:
    team, channel = "T0BENCH01", f"C0BENCH{n % CHANNELS:03d}"
    user = f"U0{n % 300:07d}"
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
    moment = START + timedelta(milliseconds=n * 37)
    ts = f"{moment.timestamp():.6f}"
    event_id = f"Ev{n:010d}{rng.getrandbits(24):06x}"
    envelope = {
        "token": "unused",
        "team_id": team,
        "api_app_id": "A0CHATKEEP",
        "event": {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
            "client_msg_id": f"{rng.getrandbits(128):032x}",
            "blocks": [
                {
                    "type": "rich_text",
                    "block_id": f"{rng.getrandbits(20):05x}",
                    "elements": [
                        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                    ],
                }
            ],
        },
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(moment.timestamp()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": "U0CHATBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{rng.getrandbits(160):040x}",
    }
    return Record(
        key=record_key("slack", team, event_id),
        platform=Platform.SLACK,
        workspace=team,
        conversation=channel,
        conversation_name="desk",
        kind=Kind.MESSAGE,
        source=Source.EVENTS_API,
        message_id=ts,
        actor=Actor(user, f"Trader {n % 300}", f"trader{n % 300}@example.com"),
        occurred_at=moment,
        captured_at=moment + timedelta(milliseconds=150),
        text=text,
        raw=json.dumps(envelope, separators=(",", ":")).encode(),
    )


def about_earlier(record: Record, n: int, rng: random.Random, late: float = 0.02) -> Record:
    """Record ``n`` as a reaction or an edit of an earlier message of its channel: of the
    last minute or so, or (a ``late`` share) of the last six hours."""
    back = rng.randint(1, 14_000) if rng.random() < late else rng.randint(1, 50)
    target = START + _STEP * max(n % CHANNELS, n - CHANNELS * back)
    if rng.random() < 0.8:
        return replace(
            record,
            kind=Kind.REACTION_ADDED,
            message_id=f"{target.timestamp():.6f}",
            text=None,
            details={"reaction": rng.choice(("thumbsup", "eyes", "white_check_mark"))},
        )
    return replace(
        record, kind=Kind.EDIT, message_id=f"{target.timestamp():.6f}", previous_text="draft"
    )


def records(
    count: int, seed: int = 7, start: int = 0, history: float = 0.0, late: float = 0.02
) -> Iterator[Record]:
    """``count`` realistic records from index ``start``; ``history``: the share that are
    reactions and edits of earlier messages (drawn from a second RNG, so the messages
    are the same with or without)."""
    rng = random.Random(seed + start)
    later = random.Random(seed * 31 + start)
    for n in range(start, start + count):
        record = realistic_record(n, rng)
        if history and later.random() < history:
            record = about_earlier(record, n, later, late)
        yield record


def fill_journal(
    journal: RecordLog, count: int, batch: int = 10_000, history: float = 0.0, late: float = 0.02
) -> int:
    """Append ``count`` realistic records in batches; return the body bytes written."""
    total = 0
    for start in range(0, count, batch):
        chunk = list(records(min(batch, count - start), start=start, history=history, late=late))
        journal.append(chunk)
        total += sum(len(r.raw) for r in chunk)
    return total


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def peak_rss_mb() -> float:
    """Peak resident set of this process (VmHWM; unlike ru_maxrss it is not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
