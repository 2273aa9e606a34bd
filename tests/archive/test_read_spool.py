"""LineSpool keeps a records object's lines while it is checked, in memory and beyond."""

from __future__ import annotations

from archive.read import LineSpool


def test_lines_beyond_the_memory_limit_come_back_in_order() -> None:
    """Lines past ``limit`` bytes go to a temporary file and are read back after the others."""
    lines = [b'{"record":{"n":%d},"seq":%d}' % (n, n) for n in range(1, 2001)]
    with LineSpool(limit=10_000) as spool:
        for line in lines:
            spool.append(line)
        assert spool.size == sum(len(line) for line in lines)
        assert list(spool) == lines
        assert list(spool) == lines  # read twice: the same lines


def test_a_small_object_stays_in_memory() -> None:
    """Under the limit nothing is written to disk, and the lines are the ones appended."""
    with LineSpool(limit=1_000) as spool:
        spool.append(b"a")
        spool.append(b"b")
        assert spool._overflow is None
        assert list(spool) == [b"a", b"b"]


def test_lines_read_after_the_spool_closed_raise() -> None:
    """Reading a bundle's records after moving on to the next one fails loudly, never empty."""
    import pytest

    spool = LineSpool()
    spool.append(b"a")
    records = iter(spool)
    spool.close()
    with pytest.raises(ValueError, match="after moving on"):
        next(records)
