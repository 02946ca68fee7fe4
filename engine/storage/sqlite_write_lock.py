"""A cross-process write lock for server processes sharing one SQLite file (`sleeplab serve --workers N`).

Each process has its own writer connection and group committer. Left to SQLite, two of them meeting at
``BEGIN IMMEDIATE`` serialize through SQLite's busy handler, which polls with sleeps that back off to 100 ms: the
loser may sleep long after the winner committed, and that sleep is the write latency's tail. An exclusive
``flock`` on a file beside the database (``<db>-lock``) taken around each group transaction makes the loser wait in
the kernel instead, which wakes it the moment the holder unlocks. SQLite's own locking stays in place beneath it,
so a writer that does not take this lock (an older build, the sqlite3 shell) is still safe, only slower to
meet. The kernel drops a flock when its holder dies, so a process killed mid-transaction (kill -9) never leaves
the others blocked."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager


def lock_path(database_path: str) -> str:
    return database_path + "-lock"


class WriteLock:
    """One open lock file per adapter; ``held()`` blocks the calling (writer) thread until this process holds it.

    flock conflicts between open file descriptions, not only between processes, so two adapters on one file in
    one process (the tests do this) exclude each other just as two processes do."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def held(self) -> Iterator[None]:
        fd = self._fd
        if fd is None:
            raise OSError("the write lock is closed")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
