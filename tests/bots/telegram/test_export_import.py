"""Telegram Desktop exports: text shapes, service messages, hostile paths, dedupe with live capture."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from archive.clock import FixedClock
from archive.errors import TelegramExportError
from archive.journal.sqlite import SqliteJournal
from archive.model import AttachmentState, Kind, Record, Source
from archive.seal import SealPolicy
from archive.store.s3 import S3ArchiveStore
from bots.telegram.completeness import message_gaps
from bots.telegram.export_files import BlobTarget
from bots.telegram.export_import import ImportReport, import_telegram_export
from bots.telegram.polling import PollingLoop
from bots.telegram.sandbox import payloads as p
from bots.telegram.sandbox.fake_api import FakeBotApi
from tests.bots.telegram.conftest import RuntimeFactory
from tests.exporters.export_fixtures import ListBundleSource
from tests.exporters.export_fixtures import run as run_export
from tests.exporters.rsmf_spec import manifest_of, parsed, problems

Importer = Callable[[Path], ImportReport]
BARE_ID = 1234567890  # the export's id of the supergroup -1001234567890
PHOTO = b"\xff\xd8\xff\xe0 exported photo bytes" * 50


def _message(n: int, text: Any, **extra: Any) -> dict[str, Any]:
    unixtime = p.BASE_DATE + n * 60
    return {
        "id": n,
        "type": "message",
        "date": "2026-10-26T13:53:20",  # exporter-local time: must be ignored
        "date_unixtime": str(unixtime),
        "from": "Alice",
        "from_id": "user501",
        "text": text,
        "text_entities": [],
        **extra,
    }


def _export(tmp_path: Path, messages: list[dict[str, Any]]) -> Path:
    folder = tmp_path / "ChatExport_2026-10-26"
    (folder / "photos").mkdir(parents=True)
    (folder / "photos" / "photo_1.jpg").write_bytes(PHOTO)
    (tmp_path / "secret.txt").write_text("outside the export")
    (folder / "photos" / "link.jpg").symlink_to(tmp_path / "secret.txt")
    root = {"name": "Deals desk", "type": "private_supergroup", "id": BARE_ID, "messages": messages}
    (folder / "result.json").write_text(json.dumps(root, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture
def importer(
    journal: SqliteJournal, store: S3ArchiveStore, policy: SealPolicy, clock: FixedClock
) -> Importer:
    blobs = BlobTarget(store, policy.layout, "COMPLIANCE", 1)
    return lambda path: import_telegram_export(journal, path, blobs=blobs, clock=clock)


def _by_id(journal: SqliteJournal) -> dict[str, Record]:
    return {r.message_id or "": r for r in journal.iter_records()}


def test_text_shapes_time_and_chat_id(
    tmp_path: Path, journal: SqliteJournal, importer: Importer
) -> None:
    """Entity-list text is flattened, date_unixtime is used, the chat id gets the -100 form."""
    entities = [
        "Rate is ",
        {"type": "bold", "text": "3.12"},
        " see ",
        {"type": "link", "text": "x.io"},
    ]
    folder = _export(tmp_path, [_message(1, "plain"), _message(2, entities)])
    report = importer(folder)
    assert (report.chats, report.messages, report.new) == (1, 2, 2)
    records = _by_id(journal)
    assert records["2"].text == "Rate is 3.12 see x.io"
    assert records["1"].occurred_at.timestamp() == p.BASE_DATE + 60
    assert records["1"].conversation == "-1001234567890"
    assert records["1"].source is Source.IMPORT_TELEGRAM_EXPORT
    assert records["1"].actor is not None and records["1"].actor.id == "501"


def test_service_messages(tmp_path: Path, journal: SqliteJournal, importer: Importer) -> None:
    """Service messages map to joined, left, renamed and pinned; unknown actions to other."""

    def service(n: int, action: str, **extra: Any) -> dict[str, Any]:
        body = _message(n, "", **extra)
        body.update(type="service", action=action, actor="Dana", actor_id="user601")
        del body["from"], body["from_id"]
        return body

    folder = _export(
        tmp_path,
        [
            service(1, "invite_members", members=["Bob"]),
            service(2, "remove_members", members=["Bob"]),
            service(3, "edit_group_title", title="Deals desk EU"),
            service(4, "pin_message", message_id=1),
            service(5, "boost_apply"),
        ],
    )
    importer(folder)
    kinds = [r.kind for r in journal.iter_records()]
    assert kinds == [
        Kind.MEMBER_JOINED,
        Kind.MEMBER_LEFT,
        Kind.CONVERSATION_RENAMED,
        Kind.PIN_ADDED,
        Kind.OTHER,
    ]
    records = _by_id(journal)
    assert records["3"].details["title"] == "Deals desk EU"
    assert records["1"].actor is not None and records["1"].actor.id == "601"


def test_imported_service_messages_export_as_what_they_were(
    tmp_path: Path, journal: SqliteJournal, importer: Importer
) -> None:
    """Desktop-export actions become the right RSMF events: creation, added by, pin, topic."""

    def service(n: int, action: str, **extra: Any) -> dict[str, Any]:
        body = _message(n, "", **extra)
        body.update(type="service", action=action, actor="Dana", actor_id="user601")
        del body["from"], body["from_id"]
        return body

    folder = _export(
        tmp_path,
        [
            service(1, "create_group", title="Deals desk", members=["Dana", "Bob"]),
            _message(2, "first order"),
            service(3, "invite_members", members=["Bob"]),
            service(4, "pin_message", message_id=2),
            service(5, "topic_created", title="Orders"),
            service(6, "join_group_by_link"),
        ],
    )
    importer(folder)
    records = [replace(r, seq=n) for n, r in enumerate(journal.iter_records(), 1)]
    run_export("rsmf", tmp_path / "out", source=ListBundleSource(records))
    [path] = (tmp_path / "out" / "rsmf").rglob("*.rsmf")
    assert problems(path) == []
    manifest, _ = manifest_of(parsed(path))
    names = {x["id"]: x["display"] for x in manifest["participants"]}
    seen = [(e["type"], names[e["participant"]], e.get("body")) for e in manifest["events"]]
    assert seen == [
        ("history", "Dana", "Dana created the group “Deals desk”"),
        ("message", "Alice", "first order"),
        ("join", "Bob", None),
        ("history", "Dana", "Dana created the topic “Orders”"),
        ("join", "Dana", None),
    ]
    first = manifest["events"][1]
    assert {"name": "pinned", "value": "yes"} in first["custom"]
    assert {"name": "pinned_by", "value": "601"} in first["custom"]


def test_imported_reactions_edits_and_forwards_reach_the_exports(
    tmp_path: Path, journal: SqliteJournal, importer: Importer
) -> None:
    """Desktop-export reactions (who), the edited time and "forwarded from" show in every format."""
    reactions = [
        {
            "type": "emoji",
            "count": 2,
            "emoji": "🔥",
            "recent": [
                {"from": "Bob", "from_id": "user502", "date_unixtime": str(p.BASE_DATE + 90)},
                {"from": "Dana", "from_id": "user601", "date_unixtime": str(p.BASE_DATE + 95)},
            ],
        }
    ]
    folder = _export(
        tmp_path,
        [
            _message(
                1,
                "rate is 3.1",
                reactions=reactions,
                edited="2026-10-26T14:00:00",
                edited_unixtime=str(p.BASE_DATE + 120),
                forwarded_from="Research notes",
            )
        ],
    )
    importer(folder)
    importer(folder)  # a second import adds nothing
    records = [replace(r, seq=n) for n, r in enumerate(journal.iter_records(), 1)]
    assert sorted(r.kind.value for r in records) == ["message", "reaction_added", "reaction_added"]
    run_export("rsmf", tmp_path / "rsmf", source=ListBundleSource(records))
    [path] = (tmp_path / "rsmf" / "rsmf").rglob("*.rsmf")
    assert problems(path) == []
    manifest, _ = manifest_of(parsed(path))
    [event] = manifest["events"]
    assert event["reactions"] == [{"value": "🔥", "count": 2, "participants": ["502", "601"]}]
    assert event["edits"] == [{"participant": "501", "timestamp": "2026-10-26T07:35:20.000000Z"}]
    assert {"name": "forwarded_from", "value": "Research notes"} in event["custom"]
    run_export("html", tmp_path / "html", source=ListBundleSource(records))
    [page] = (tmp_path / "html" / "html").glob("*.html")
    html = page.read_text("utf-8")
    assert "↪ forwarded from Research notes" in html
    assert "🔥 2 (Bob, Dana)" in html
    run_export("csv", tmp_path / "csv", source=ListBundleSource(records))
    text = (tmp_path / "csv" / "messages.csv").read_text("utf-8-sig")
    assert "Research notes" in text and "🔥: Bob (502), Dana (601)" in text


def test_hostile_paths_are_never_read(
    tmp_path: Path,
    journal: SqliteJournal,
    importer: Importer,
    store: S3ArchiveStore,
    policy: SealPolicy,
) -> None:
    """Paths leaving the export folder are unavailable; the real photo is stored as a blob."""
    folder = _export(
        tmp_path,
        [
            _message(1, "chart", photo="photos/photo_1.jpg", width=10, height=10),
            _message(2, "", file="../secret.txt", file_name="../../secret.txt"),
            _message(3, "", file="/etc/passwd"),
            _message(4, "", photo="photos/link.jpg"),
            _message(
                5, "", file="(File not included. Change data exporting settings to download.)"
            ),
        ],
    )
    report = importer(folder)
    records = _by_id(journal)
    stored = records["1"].attachments[0]
    digest = hashlib.sha256(PHOTO).hexdigest()
    assert (stored.state, stored.sha256, stored.size) == (
        AttachmentState.STORED,
        digest,
        len(PHOTO),
    )
    assert [v.key for v in store.versions(policy.layout.blob_key(digest))] == [
        policy.layout.blob_key(digest)
    ]
    for n in ("2", "3", "4"):
        (attachment,) = records[n].attachments
        assert attachment.state is AttachmentState.UNAVAILABLE
        assert attachment.sha256 is None and attachment.size is None
        assert "/" not in attachment.name and ".." not in attachment.name
    assert records["5"].attachments[0].reason is not None
    assert report.attachments == {"stored": 1, "unavailable": 4}


async def test_reimport_and_live_capture_are_deduplicated(
    tmp_path: Path,
    fake: FakeBotApi,
    journal: SqliteJournal,
    make_runtime: RuntimeFactory,
    importer: Importer,
) -> None:
    """A message captured live is not stored again by the import; a re-import adds nothing."""
    group = p.supergroup(-1001234567890)
    loop = PollingLoop(await make_runtime())
    await fake.push("message", p.message(group, p.user(501, "Alice"), 2, "live copy"))
    await loop.poll_once()
    folder = _export(
        tmp_path, [_message(1, "only in export"), _message(2, "live copy"), _message(5, "later")]
    )
    report = importer(folder)
    assert (report.new, report.duplicates) == (2, 1)
    assert _by_id(journal)["2"].source is Source.POLLING
    again = importer(folder)
    assert (again.new, again.duplicates) == (0, 3)
    (gaps,) = message_gaps(journal.iter_records())
    assert (gaps.first, gaps.last, gaps.missing, gaps.ranges) == (1, 5, 2, ((3, 4),))


def test_full_account_export(tmp_path: Path, journal: SqliteJournal, importer: Importer) -> None:
    """A whole-account export imports every chat with the right Bot API ids."""
    chats = [
        {"name": "Ops", "type": "private_group", "id": 4001, "messages": [_message(1, "hi")]},
        {"name": "Alice", "type": "personal_chat", "id": 501, "messages": [_message(1, "dm")]},
        {"name": "News", "type": "public_channel", "id": 77, "messages": [_message(9, "post")]},
    ]
    root = {"about": "export", "chats": {"about": "", "list": chats}, "left_chats": {"list": []}}
    (tmp_path / "result.json").write_text(json.dumps(root))
    report = importer(tmp_path)
    assert (report.chats, report.new) == (3, 3)
    assert sorted(r.conversation for r in journal.iter_records()) == [
        "-1000000000077",
        "-4001",
        "501",
    ]


def test_not_an_export(tmp_path: Path, importer: Importer) -> None:
    """A folder without result.json is a usage error."""
    with pytest.raises(TelegramExportError):
        importer(tmp_path)
