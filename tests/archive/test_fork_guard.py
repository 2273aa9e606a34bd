"""A fork waits until the journal's background threads are out of SQLite (``fork_guard``):
a child forked mid-call would find SQLite's mutexes held forever."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

from archive.journal.fork_guard import sqlite_section
from archive.journal.sqlite import SqliteJournal
from tests.factories import slack_message


def _fork_child_that_opens_sqlite(path: Path) -> int:
    """Fork; the child opens a SQLite file of its own and exits 0 if it could."""
    pid = os.fork()
    if pid == 0:  # the child: no pytest teardown, only the exit code
        code = 1
        try:
            sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
            code = 0
        finally:
            os._exit(code)
    return pid


def _exit_code(pid: int, within: float = 30.0) -> int:
    """The child's exit code; a child still running after ``within`` seconds is hung: killed,
    and reported as -9."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -9


def test_a_fork_waits_for_a_section_to_end_and_holds_new_ones_out(tmp_path: Path) -> None:
    """While a thread is inside a section the fork does not happen; once it leaves, the fork
    runs and the child can use SQLite; a section begun during the fork starts after it."""
    inside, leave = threading.Event(), threading.Event()

    def background() -> None:
        with sqlite_section():
            inside.set()
            leave.wait(30)

    holder = threading.Thread(target=background)
    holder.start()
    assert inside.wait(30)
    forked: list[int] = []
    forker = threading.Thread(
        target=lambda: forked.append(_fork_child_that_opens_sqlite(tmp_path / "child.db"))
    )
    forker.start()
    forker.join(0.5)
    assert forker.is_alive() and forked == []  # held back by the open section
    leave.set()
    forker.join(30)
    holder.join(30)
    (pid,) = forked
    assert _exit_code(pid) == 0
    with sqlite_section():  # sections start again after the fork
        pass


def test_forks_beside_a_busy_journal_give_children_that_use_sqlite(tmp_path: Path) -> None:
    """Forked over and over while the journal's writer commits and its checkpointer runs,
    every child opens SQLite and exits; none waits forever on an inherited mutex."""
    stop = threading.Event()
    with SqliteJournal(tmp_path / "journal.db") as journal:

        def append() -> None:
            n = 0
            while not stop.is_set():
                journal.append([slack_message(n + i) for i in range(50)])
                n += 50

        writer = threading.Thread(target=append)
        writer.start()
        try:
            codes = []
            for round_ in range(40):
                pid = _fork_child_that_opens_sqlite(tmp_path / f"child-{round_}.db")
                codes.append(_exit_code(pid))
        finally:
            stop.set()
            writer.join(30)
    assert codes == [0] * 40
