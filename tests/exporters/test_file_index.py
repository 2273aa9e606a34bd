"""The export's file index: adds share transactions, and another connection sees them once committed."""

from __future__ import annotations

from pathlib import Path

from exporters.file_index import FileEntry, FileIndex


def _entry(n: int) -> FileEntry:
    return FileEntry(f"eml/c/2026-11-02/{n:06d}.eml", f"{n:064x}", n)


def test_adds_across_batches_are_all_kept_once(tmp_path: Path) -> None:
    """2,500 adds (three transactions) are all listed; adding one again reports it as known."""
    index = FileIndex(tmp_path / "files.sqlite3")
    assert all(index.add(_entry(n)) for n in range(2_500))
    assert not index.add(_entry(10))
    assert index.has(_entry(2_499).path)
    assert index.count() == 2_500
    assert [e.path for e in index.files()] == sorted(_entry(n).path for n in range(2_500))
    index.close()


def test_another_connection_sees_the_adds_once_committed(tmp_path: Path) -> None:
    """What a forked worker's own connection reads: every add committed before it opened."""
    index = FileIndex(tmp_path / "files.sqlite3")
    for n in range(5):
        index.add(_entry(n))
    index.commit()
    other = FileIndex(tmp_path / "files.sqlite3")
    assert other.count() == 5
    index.add_all(_entry(n) for n in range(3, 8))  # 3 and 4 are known already
    assert other.count() == 8
    other.close()
    index.close()
