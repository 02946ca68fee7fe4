"""The SQLite change feed (base.ChangeFeed) for server processes sharing one database file.

Several `sleeplab serve --workers N` processes keep their own schema and role caches. A change one of them commits
must reach the others' caches before the next request, without costing the others a query per request. The
counters live in a tiny memory-mapped file beside the database (``<db>-changes``, like SQLite's own ``-shm``):
reading one is a load from shared memory (no system call, no thread hop to a SQLite connection), and a writer
bumps it under an exclusive ``flock`` after its transaction committed and before the write is acknowledged. So a
request that follows an acknowledged change, on any process, sees the new count and refills its cache.

Bumping after the commit (not inside it) means a reader can never record the new count beside the old data: a
reader notes the count before reading, so a commit landing during its read leaves it with an outdated count and
the next check refills. A process killed between its commit and its bump leaves the others on their TTL (5 s),
which is the same window Parse Server's own caches keep."""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
from collections.abc import Iterable

from engine.storage.base import CHANGE_TOPICS

TOPICS = CHANGE_TOPICS  # a topic's slot is its place in this tuple
_SLOT = struct.Struct("<Q")
_SIZE = 4096  # one page; room for 512 topics
_OFFSETS = {topic: i * _SLOT.size for i, topic in enumerate(TOPICS)}


def feed_path(database_path: str) -> str:
    return database_path + "-changes"


class ChangeCounters:
    """Per-topic counters in a shared, memory-mapped file; every process opening the same path shares them."""

    def __init__(self, path: str) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size < _SIZE:
                    os.ftruncate(fd, _SIZE)  # zero-filled: every counter starts at 0
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, _SIZE)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def count(self, topic: str) -> int:
        offset = _OFFSETS.get(topic)
        return 0 if offset is None else int(_SLOT.unpack_from(self._map, offset)[0])

    def bump(self, topics: Iterable[str]) -> None:
        wanted = set(topics)
        if not wanted:
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # another process may be bumping the same counter
        try:
            for topic in wanted:
                offset = _OFFSETS[topic]
                _SLOT.pack_into(self._map, offset, (_SLOT.unpack_from(self._map, offset)[0] + 1) % 2**64)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

