"""Chain of custody, verify-export, and resuming an interrupted export."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from archive.errors import ConfigError
from exporters.custody import verify_export
from exporters.output import MANIFEST_NAME, PROGRESS_NAME
from tests.exporters.export_fixtures import BLOBS, CHART, PINNED, DictBlobs, archive_records, run


def test_custody_manifest_records_request_bundles_files_tool_and_operator(tmp_path: Path) -> None:
    """export-manifest.json names the filters, bundles with hashes, files with SHA-256, who and when."""
    result = run("csv", tmp_path, allow_unverified=False)
    custody = json.loads((tmp_path / MANIFEST_NAME).read_text("utf-8"))
    assert custody["format"] == "chatkeeper-export/1"
    assert custody["tool"] == {"name": "chatkeeper", "version": "0.1.0"}
    assert custody["operator"] == "officer@example.com"
    assert custody["created_at"] == "2026-11-20T12:00:00.000000Z"
    assert custody["request"]["format"] == "csv"
    assert custody["request"]["filters"]["platform"] is None
    assert [b["number"] for b in custody["bundles"]] == [1, 2, 3]
    assert all(len(b["manifest_sha256"]) == 64 and b["verified"] for b in custody["bundles"])
    assert custody["records_read"] == 29
    [entry] = custody["files"]
    data = (tmp_path / "messages.csv").read_bytes()
    assert entry == {
        "path": "messages.csv",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    assert [f.path for f in result.files] == ["messages.csv"]
    assert not (tmp_path / PROGRESS_NAME).exists()


def test_verify_export_passes_an_intact_export(tmp_path: Path) -> None:
    """Every listed file re-hashes to its recorded SHA-256."""
    run("html", tmp_path)
    check = verify_export(tmp_path, PINNED)
    assert check.ok
    assert check.files_checked == 6


def test_verify_export_reports_changed_missing_and_unlisted_files(tmp_path: Path) -> None:
    """A changed byte, a removed file and an added file are each named."""
    run("eml", tmp_path)
    files = sorted((tmp_path / "eml").rglob("*.eml"))
    changed = files[0]
    changed.write_bytes(changed.read_bytes().replace(b"Morning", b"Evening"))
    files[1].unlink()
    (tmp_path / "eml" / "extra.eml").write_bytes(b"From: someone\r\n\r\nhello\r\n")
    check = verify_export(tmp_path, PINNED)
    relative = [p.relative_to(tmp_path).as_posix() for p in files[:2]]
    assert set(check.problems) == {
        f"changed: {relative[0]}",
        f"missing: {relative[1]}",
        "not listed: eml/extra.eml",
    }


def test_verify_export_without_manifest_fails(tmp_path: Path) -> None:
    """A directory without export-manifest.json is not an intact export."""
    assert verify_export(tmp_path, PINNED).problems == ("export-manifest.json is missing",)


class _FailingBlobs(DictBlobs):
    """Blobs whose chart download breaks (the fault that interrupts the export)."""

    def open_blob(self, sha256: str) -> BinaryIO | None:
        if sha256 == hashlib.sha256(CHART).hexdigest():
            raise OSError("connection reset while reading the blob")
        data = BLOBS.get(sha256)
        return None if data is None else io.BytesIO(data)


def test_interrupted_export_resumes_skipping_complete_files(tmp_path: Path) -> None:
    """After a failure mid-way, a re-run keeps complete files and ends like a clean run."""
    with pytest.raises(OSError, match="connection reset"):
        run("html", tmp_path / "out", blobs=_FailingBlobs())
    assert (tmp_path / "out" / PROGRESS_NAME).exists()
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()
    done_before = {p.name for p in (tmp_path / "out" / "html").glob("*.html")}
    assert done_before == {"slack-T0001-C0DEALS01.html", "slack-T0001-C0QUIET01.html"}
    resumed = run("html", tmp_path / "out")
    assert resumed.skipped == 3  # two transcripts and the term sheet
    clean = run("html", tmp_path / "clean")
    assert [(f.path, f.sha256) for f in resumed.files] == [(f.path, f.sha256) for f in clean.files]
    assert verify_export(tmp_path / "out", PINNED).ok


def test_rerun_of_a_finished_export_rewrites_nothing(tmp_path: Path) -> None:
    """Running the same export again skips every file."""
    first = run("eml", tmp_path)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.eml")}
    again = run("eml", tmp_path)
    assert again.skipped == len(first.files) == 13
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.eml")} == before


def test_a_different_request_into_the_same_directory_is_refused(tmp_path: Path) -> None:
    """Two different exports never mix in one directory."""
    run("csv", tmp_path)
    with pytest.raises(ConfigError, match="another request"):
        run("csv", tmp_path, allow_unverified=True)


def test_a_file_changed_since_the_first_run_is_rewritten(tmp_path: Path) -> None:
    """A complete file whose hash no longer matches is produced again."""
    run("csv", tmp_path)
    path = tmp_path / "messages.csv"
    good = path.read_bytes()
    path.write_bytes(b"tampered")
    again = run("csv", tmp_path)
    assert again.skipped == 0
    assert path.read_bytes() == good
    assert len(archive_records()) == again.records_read


def test_progress_counts_every_record_read(tmp_path: Path) -> None:
    """The progress callback (the CLI's tqdm bar) is told about every record read."""
    from exporters.pipeline import ExportRequest, run_export
    from tests.exporters.export_fixtures import EXPORT_SIGNER, EXPORT_TIME, ListBundleSource

    counts: list[int] = []
    run_export(
        ListBundleSource(archive_records()),
        DictBlobs(),
        ExportRequest("rsmf"),
        tmp_path,
        generator="chatkeeper 0.1.0",
        tool_version="0.1.0",
        operator="officer@example.com",
        now=lambda: EXPORT_TIME,
        signer=EXPORT_SIGNER,
        progress=counts.append,
    )
    assert sum(counts) == 29
    assert counts == [10, 10, 9]


class _BrokenBlobs(DictBlobs):
    """Blobs that fail in every worker (the fault that stops a forked render)."""

    def open_blob(self, sha256: str) -> BinaryIO | None:
        raise OSError("blob store went away")


def test_failed_render_worker_stops_the_export_and_it_resumes(tmp_path: Path) -> None:
    """A worker's failure is raised in the parent; a re-run finishes with every file."""
    from archive.errors import RenderWorkerError

    with pytest.raises(RenderWorkerError, match="blob store went away"):
        run("html", tmp_path / "out", blobs=_BrokenBlobs(), workers=2)
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()
    finished = run("html", tmp_path / "out", workers=2)
    assert finished.skipped >= 1  # the transcripts without attachments were kept
    clean = run("html", tmp_path / "clean")
    assert [(f.path, f.sha256) for f in finished.files] == [(f.path, f.sha256) for f in clean.files]
    assert verify_export(tmp_path / "out", PINNED).ok


class _LeakyBlobs(DictBlobs):
    """Blobs whose reader fails with a message that carries record content."""

    def open_blob(self, sha256: str) -> BinaryIO | None:
        raise ValueError("secret merger terms")


def test_failed_render_worker_is_one_line_with_its_exit_code(tmp_path: Path) -> None:
    """A worker's failure is a ChatkeeperError (exit 1): one line, naming no record content."""
    from archive.errors import ChatkeeperError, RenderWorkerError

    with pytest.raises(RenderWorkerError) as failed:
        run("html", tmp_path / "out", blobs=_LeakyBlobs(), workers=2)
    assert isinstance(failed.value, ChatkeeperError) and failed.value.exit_code == 1
    message = str(failed.value)
    assert "\n" not in message and "ValueError at " in message
    assert "secret merger terms" not in message


class _DyingBlobs(DictBlobs):
    """Blobs whose reader kills its process outright (as the OOM killer would)."""

    def open_blob(self, sha256: str) -> BinaryIO | None:
        import os

        os._exit(9)


def test_killed_render_worker_is_reported_not_waited_for(tmp_path: Path) -> None:
    """A worker that dies without a word fails the export instead of hanging it."""
    from archive.errors import RenderWorkerError

    with pytest.raises(RenderWorkerError, match="exit codes"):
        run("html", tmp_path / "out", blobs=_DyingBlobs(), workers=2)
    assert (tmp_path / "out" / PROGRESS_NAME).exists()


def test_manifest_file_list_streams_and_stays_json(tmp_path: Path) -> None:
    """Thousands of entries are written and read back line by line, as valid JSON."""
    from exporters.file_index import FileEntry
    from exporters.manifest_io import (
        iter_manifest_files,
        read_manifest_header,
        write_manifest_file,
    )

    entries = [FileEntry(f"eml/c/{n:05d}.eml", f"{n:064x}", n) for n in range(3000)]
    path = tmp_path / "m.json"
    write_manifest_file(path, {"format": "x", "nested": {"a": [1, 2]}}, iter(entries))
    assert list(iter_manifest_files(path)) == entries
    assert read_manifest_header(path) == {"format": "x", "nested": {"a": [1, 2]}}
    assert json.loads(path.read_text("utf-8"))["files"][2999]["path"] == "eml/c/02999.eml"
    write_manifest_file(path, {"format": "x"}, iter([]))
    assert json.loads(path.read_text("utf-8")) == {"format": "x", "files": []}


def test_export_that_matches_nothing_is_intact_and_empty(tmp_path: Path) -> None:
    """A filter that selects no record gives only the notice, a manifest, and verify-export passes."""
    from exporters.empty import NOTICE_NAME
    from exporters.filters import Filters

    result = run("html", tmp_path, filters=Filters(conversations=("C0NOSUCH",)))
    assert result.file_count == 1
    assert [f.path for f in result.files] == [NOTICE_NAME]
    check = verify_export(tmp_path, PINNED)
    assert check.ok and check.files_checked == 1


def _many_messages() -> list[Any]:
    """700 Slack messages in two channels: more files than one batch of progress lines."""
    from dataclasses import replace

    from tests.factories import slack_message

    return [
        replace(slack_message(n, channel=("C0DEALS01", "C0RATES01")[n % 2]), seq=n + 1)
        for n in range(700)
    ]


def test_worker_killed_after_hundreds_of_files_leaves_whole_log_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress lines are written in batches: a worker killed mid-way leaves only whole lines,
    each naming a complete file, and the re-run ends exactly like a clean export."""
    import os

    from archive.errors import RenderWorkerError
    from exporters.formats import eml
    from tests.exporters.export_fixtures import ListBundleSource

    records = _many_messages()
    real = eml.render_message
    written = [0]

    def dies_after_300(*args: Any) -> bytes:
        written[0] += 1  # counted in each forked worker on its own
        if written[0] > 300:
            os._exit(9)
        return real(*args)

    monkeypatch.setattr(eml, "render_message", dies_after_300)
    out = tmp_path / "out"
    with pytest.raises(RenderWorkerError, match="exit codes"):
        run("eml", out, source=ListBundleSource(records, 100), workers=2)
    lines = (out / PROGRESS_NAME).read_text(encoding="utf-8").splitlines()
    logged = [json.loads(line) for line in lines[1:]]  # each line whole JSON
    assert len(logged) >= 256
    for entry in logged:
        data = (out / entry["path"]).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
    monkeypatch.setattr(eml, "render_message", real)
    resumed = run("eml", out, source=ListBundleSource(records, 100), workers=2)
    assert resumed.skipped == len({entry["path"] for entry in logged})
    clean = run("eml", tmp_path / "clean", source=ListBundleSource(records, 100))
    assert len(clean.files) == 700
    assert [(f.path, f.sha256) for f in resumed.files] == [(f.path, f.sha256) for f in clean.files]
    assert verify_export(out, PINNED).ok
