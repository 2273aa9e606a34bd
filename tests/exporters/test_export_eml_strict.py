"""EML read back with Python's email package in strict mode: exact headers, safe file names."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from archive.model import Actor, Attachment, AttachmentState, Kind, Platform
from tests.exporters.export_fixtures import (
    DictBlobs,
    ListBundleSource,
    _Builder,
    archive_records,
    run,
)

HOSTILE = "../../etc/passwd\x07.txt"
PAYLOAD = b"not really a password file"
SUBJECTS = [
    "Привет world 你好 مرحبا — שלום test with mixed scripts in one subject line ok",
    "Zusammenfassung: Übernahme 日本語 テキスト and more words after the encoded run",
    "plain ascii subject that is long enough to need folding somewhere in the line",
    "Emoji 👩‍👩‍👧 family, flags 🇫🇷🇯🇵 and combining Cafe\u0301 text",
    "  leading spaces and double  spaces  kept",
    # These three lose a space and double another when Python's email package folds them.
    "Übernahme שלום order שלום 你好 order 日本語 world 你好 你好",
    "world test deal שלום 👋 world noon test firm مرحبا",
    "مرحبا deal שלום Übernahme שלום",
]
NAMES = [
    "Moreau, Dana",
    'Quote "Q" Person',
    "Ærøskøbing Ölund",
    "李小龙",
    "Zoë (QA) <x>",
    "Łukasz Ivanov",
    "נעמה כהן",
    "Åsa Öberg",
]


def _records() -> list:  # type: ignore[type-arg]
    b = _Builder()
    b.records = archive_records()
    for n, (text, name) in enumerate(zip(SUBJECTS, NAMES, strict=True)):
        actor = Actor(f"U0MIX{n:04d}", name, None)
        b.add(
            Platform.SLACK,
            "C0MIXED01",
            Kind.MESSAGE,
            70 + n,
            actor,
            name="Ünïcode 📈 room",
            text=text,
        )
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    hostile = Attachment(
        HOSTILE, AttachmentState.STORED, sha, "text/plain", len(PAYLOAD), ref="F0BAD"
    )
    b.add(
        Platform.SLACK,
        "C0MIXED01",
        Kind.MESSAGE,
        80,
        Actor("U0EVIL001", "Mallory"),
        name="Ünïcode 📈 room",
        text="see file",
        attachments=(hostile,),
    )
    return b.records


def _first_line(text: str) -> str:
    """The subject's text part: the message's first line, cut at 70 characters."""
    first = text.strip()
    return first[:69] + "…" if len(first) > 70 else first


def _mails(out: Path) -> list[tuple[Path, EmailMessage]]:
    parser = BytesParser(policy=policy.strict)
    found = []
    for path in sorted((out / "eml").rglob("*.eml")):
        mail = parser.parsebytes(path.read_bytes())
        assert isinstance(mail, EmailMessage)
        found.append((path, mail))
    return found


@pytest.fixture
def mails(tmp_path: Path) -> list[tuple[Path, EmailMessage]]:
    blobs = DictBlobs()
    blobs.blobs[hashlib.sha256(PAYLOAD).hexdigest()] = PAYLOAD
    run("eml", tmp_path, source=ListBundleSource(_records()), blobs=blobs)
    return _mails(tmp_path)


def test_every_eml_parses_strictly_with_no_defects(mails: list[tuple[Path, EmailMessage]]) -> None:
    """policy.strict raises on any defect; no part of any message carries one either."""
    assert len(mails) == 13 + 9
    for path, mail in mails:
        for part in mail.walk():
            assert part.defects == [], (path.name, part.defects)
        for line in path.read_bytes().split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
            assert len(line) <= 78 or b"=?" not in line, line


def test_mixed_script_and_long_headers_decode_to_the_exact_text(
    mails: list[tuple[Path, EmailMessage]],
) -> None:
    """Subject, From and To give back exactly the original text: no lost or doubled space."""
    mixed = {str(m["From"].addresses[0].display_name): m for _, m in mails}
    for text, name in zip(SUBJECTS, NAMES, strict=True):
        mail = mixed[name]
        assert str(mail["Subject"]) == f"[slack Ünïcode 📈 room] {_first_line(text)}"
        assert mail["To"].addresses[0].display_name == "Ünïcode 📈 room"


def test_hostile_attachment_names_become_safe_single_components(
    mails: list[tuple[Path, EmailMessage]],
) -> None:
    """../../etc/passwd\\x07.txt never reaches Content-Disposition; the bytes and name survive."""
    [mail] = [m for _, m in mails if m["From"].addresses[0].display_name == "Mallory"]
    [attachment] = list(mail.iter_attachments())
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    assert attachment.get_filename() == f"{sha[:12]}_etc_passwd_.txt"
    assert "/" not in str(attachment["Content-Disposition"])
    assert "\x07" not in str(attachment["Content-Disposition"])
    assert attachment.get_content() == PAYLOAD.decode()
    body = mail.get_body(("plain",))
    assert body is not None
    assert f"original name {HOSTILE!r}" in str(body.get_content())


def _notmuch() -> str:
    found = shutil.which("notmuch")
    if found is None:
        pytest.fail("notmuch is not installed (make system-deps, or apt-get install -y notmuch)")
    return found


def test_notmuch_indexes_the_exact_headers(tmp_path: Path) -> None:
    """notmuch, a mail indexer, reads the same Subject and From as the original text."""
    blobs = DictBlobs()
    blobs.blobs[hashlib.sha256(PAYLOAD).hexdigest()] = PAYLOAD
    run("eml", tmp_path / "out", source=ListBundleSource(_records()), blobs=blobs)
    mail = tmp_path / "mail"
    shutil.copytree(tmp_path / "out" / "eml", mail / "eml")
    config = tmp_path / "notmuch-config"
    config.write_text(
        f"[database]\npath={mail}\n[user]\nname=test\nprimary_email=t@example.invalid\n"
        "[new]\ntags=new\n[maildir]\nsynchronize_flags=false\n",
        encoding="utf-8",
    )
    env = {**os.environ, "NOTMUCH_CONFIG": str(config)}
    subprocess.run([_notmuch(), "new", "--quiet"], env=env, check=True, capture_output=True)
    shown = subprocess.run(
        [_notmuch(), "show", "--format=json", "--body=false", "to:C0MIXED01"],
        env=env,
        check=True,
        capture_output=True,
    )
    headers = {}
    for thread in json.loads(shown.stdout):
        for node in _nodes(thread):
            headers[node["headers"]["From"]] = node["headers"]["Subject"]
    for n, (text, name) in enumerate(zip(SUBJECTS, NAMES, strict=True)):
        subject = f"[slack Ünïcode 📈 room] {_first_line(text)}"
        [sender] = [f for f in headers if f"<U0MIX{n:04d}@" in f]
        assert headers[sender] == subject, name
        assert sender.startswith(name) or sender.startswith('"'), sender


def _nodes(value: object) -> list[dict]:  # type: ignore[type-arg]
    """Every message node of notmuch's nested thread/reply lists."""
    if isinstance(value, dict) and "headers" in value:
        return [value]
    if isinstance(value, list):
        return [node for item in value for node in _nodes(item)]
    return []
