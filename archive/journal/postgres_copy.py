"""A group commit of new keys in one message to PostgreSQL, and its rows in binary COPY format.

The transaction is one simple-query message: ``BEGIN``, the shared append lock, one seq per
row from the table's sequence, ``COPY records ... FROM STDIN`` and ``COMMIT``. The server
runs it up to the COPY and sends the seqs with the request for the COPY data; the rows go
with their seqs, and the server goes on to the COMMIT once the COPY ends. So the client
waits for the server twice (for the seqs, then for the commit), where statements sent one
by one wait four times. The seqs are drawn in the transaction that holds the lock, as the
column default draws them, so the journal's high-water mark is kept (see ``postgres.py``).

psycopg's ``Cursor.copy`` takes a COPY statement alone, so this speaks to the connection's
libpq handle (``psycopg.pq``) and waits on its socket itself, releasing the GIL while it
waits. The binary COPY rows are written here too: the columns other than ``seq`` of each row
are encoded before the message is sent (a value that cannot be encoded fails the batch
before any transaction starts), and only the seq is added once it is known.

Errors are raised as psycopg's classes for their SQLSTATE (``UniqueViolation`` for a key
stored already), after every result of the message has been read, so the connection is
ready for the next statement; a transaction the error aborted is still open for the caller
to roll back.
"""

from __future__ import annotations

import select
import struct
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import pq

_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_TRAILER = b"\xff\xff"
_LENGTH = struct.Struct("!i")
_SEQ = struct.Struct("!hiq")  # field count, then the seq: its length and int8 value
_INT4 = b"\x00\x00\x00\x04"
_SLICE = 256 * 1024  # COPY data per put (a batch of 64 realistic records is about 130 KB)


def encode_row(row: Sequence[Any]) -> bytes:
    """A journal row (8 text columns, the int4 size, the bytea body) as binary COPY fields."""
    pack = _LENGTH.pack
    parts: list[bytes] = []
    for text in row[:8]:
        data = text.encode("utf-8")
        parts += (pack(len(data)), data)
    body = bytes(row[9])
    parts += (_INT4, pack(row[8]), pack(len(body)), body)
    return b"".join(parts)


def copy_data(seqs: Sequence[int], encoded: Sequence[bytes], fields: int) -> bytes:
    """Binary COPY data: each encoded row after its seq (``fields`` columns in all)."""
    pack = _SEQ.pack
    out = bytearray(_HEADER)
    for seq, row in zip(seqs, encoded, strict=True):
        out += pack(fields, 8, seq)
        out += row
    out += _TRAILER
    return bytes(out)


def append_in_one_message(
    conn: psycopg.Connection[Any], message: str, encoded: Sequence[bytes], fields: int
) -> list[int]:
    """Run ``message`` (ending in the COPY and COMMIT); the seqs it drew for ``encoded``.

    The last statement of ``message`` before the COPY draws the seqs, one row each.
    """
    with conn.lock:
        pgconn = conn.pgconn
        pgconn.send_query(message.encode("utf-8"))
        _flush(pgconn)
        seqs: list[int] = []
        error: pq.abc.PGresult | None = None
        copied = False
        while (result := _next_result(pgconn)) is not None:
            status = result.status
            if status == pq.ExecStatus.TUPLES_OK and not copied:
                seqs = [int(result.get_value(i, 0) or 0) for i in range(result.ntuples)]
            elif status == pq.ExecStatus.COPY_IN:
                copied = True
                if len(seqs) == len(encoded):
                    _put_copy(pgconn, copy_data(seqs, encoded, fields))
                else:  # fails the COPY on the server, so the COMMIT does not run
                    _end_copy(pgconn, b"the seqs drawn do not match the rows")
            elif status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
                error = error or result
    if error is not None:
        raise _error(error)
    if not copied:
        raise psycopg.ProgrammingError("the append message did not reach its COPY")
    return seqs


def _error(result: pq.abc.PGresult) -> psycopg.Error:
    sqlstate = result.error_field(pq.DiagnosticField.SQLSTATE)
    message = (result.error_message or b"unexpected result").decode("utf-8", "replace").strip()
    try:
        cls = psycopg.errors.lookup(sqlstate.decode("ascii")) if sqlstate else psycopg.Error
    except KeyError:
        cls = psycopg.DatabaseError
    return cls(message)


def _next_result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    """The next result of the message, or None at its end; waits for it off the GIL."""
    while pgconn.is_busy():
        _wait(pgconn, select.POLLIN)
        pgconn.consume_input()
    return pgconn.get_result()


def _put_copy(pgconn: pq.abc.PGconn, data: bytes) -> None:
    """Send ``data`` in slices, each flushed, so libpq's buffer stays small; end the COPY."""
    view = memoryview(data)
    for start in range(0, len(view), _SLICE):
        while not pgconn.put_copy_data(view[start : start + _SLICE]):  # 0: buffer full
            _wait_writable(pgconn)
        _flush(pgconn)
    _end_copy(pgconn, None)


def _end_copy(pgconn: pq.abc.PGconn, error: bytes | None) -> None:
    _flush(pgconn)
    while not pgconn.put_copy_end(error):
        _wait_writable(pgconn)
    _flush(pgconn)


def _flush(pgconn: pq.abc.PGconn) -> None:
    while pgconn.flush():  # 1: data left to send
        _wait_writable(pgconn)


def _wait_writable(pgconn: pq.abc.PGconn) -> None:
    if _wait(pgconn, select.POLLIN | select.POLLOUT) & select.POLLIN:
        pgconn.consume_input()  # what the server sends meanwhile, so it never waits on us


def _wait(pgconn: pq.abc.PGconn, events: int) -> int:
    """Block (without the GIL) until the connection's socket is ready; the events seen."""
    poller = select.poll()  # not select(): a process may hold more than 1024 descriptors
    poller.register(pgconn.socket, events)
    seen = 0
    for _, ready in poller.poll():
        seen |= ready
    return seen
