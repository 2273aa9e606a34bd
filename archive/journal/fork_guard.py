"""Keeps ``fork()`` out of the journal's background SQLite calls.

A forked child inherits every mutex in the state it had at the fork, and SQLite's
process-wide mutexes (its allocator's above all) are never reset: a fork while
another thread is inside SQLite leaves the child's first SQLite call waiting
forever. Export forks render workers, which open SQLite files of their own, from
processes that may hold a journal (the tests do, and any tool that appends and
exports in one process). So the journal's own threads (the group-commit writer and
the checkpointer) enter SQLite only inside :func:`sqlite_section`, and a hook
registered with ``os.register_at_fork`` waits before each fork until none of them
is inside, and holds them out until the fork is done.

Calls made by the forking thread itself need no guard: it is not inside SQLite
when it forks. Other threads of a process that forks must not call SQLite
unguarded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_condition = threading.Condition(threading.Lock())
_inside = 0  # threads inside a section now
_forking = False  # a fork is waiting or in progress: no new section starts


@contextmanager
def sqlite_section() -> Iterator[None]:
    """Wrap a background thread's SQLite calls: a fork never happens in the middle."""
    global _inside
    with _condition:
        while _forking:
            _condition.wait()
        _inside += 1
    try:
        yield
    finally:
        with _condition:
            _inside -= 1
            if not _inside:
                _condition.notify_all()


def _before_fork() -> None:
    """Wait until no section is open; keep the lock held across the fork itself."""
    global _forking
    _condition.acquire()
    _forking = True
    while _inside:
        _condition.wait()


def _after_fork() -> None:
    """In the parent and in the child: let sections start again."""
    global _forking
    _forking = False
    _condition.notify_all()
    _condition.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)
