"""Realistic records for the benchmarks: Slack Events API envelopes of about 1 KB.

Texts are drawn from a vocabulary with a seeded RNG so that compression ratios
are like real chat, not like repeated strings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
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


def realistic_record(n: int, rng: random.Random) -> Record:
    team, channel = "T0BENCH01", f"C0BENCH{n % 40:03d}"
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


def records(count: int, seed: int = 7, start: int = 0) -> Iterator[Record]:
    rng = random.Random(seed + start)
    for n in range(start, start + count):
        yield realistic_record(n, rng)


def fill_journal(journal: RecordLog, count: int, batch: int = 10_000) -> int:
    """Append ``count`` realistic records in batches; return the body bytes written."""
    total = 0
    for start in range(0, count, batch):
        chunk = list(records(min(batch, count - start), start=start))
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
