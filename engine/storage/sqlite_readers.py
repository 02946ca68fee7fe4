"""The SQLite reader pool: several read-only connections (one thread each), every read bounded by the query budget.

One reader connection serialised every read behind the slowest one; WAL lets any number of readers run beside the
writer, so a pool keeps a slow query from stalling the rest. Each read runs under a deadline: SQLite's progress
handler interrupts the statement once it passes, and the Python functions the statement calls (regex, text) share
the same deadline through deadline.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import aiosqlite

from engine.query.deadline import current_deadline, deadline_after, query_timeout, running_until
from engine.storage.sqlite_driver import sqlite3

T = TypeVar("T")

DEFAULT_READERS = 4
MAX_READERS = 64
# VM instructions between deadline checks (about 1 to 4 ms of work): a query past its budget stops within a few
# milliseconds. Each check is a Python call, so it must take the GIL from the event loop: checked every 1 000
# instructions, four readers running a 100 000-row $group beside a busy loop thread managed a third of the
# statements they manage unchecked (bench/reader_deadline.py); every 100 000, the same as unchecked. The Python
# functions a statement calls (regex, text) check the deadline themselves.
PROGRESS_STEPS = 100_000


def reader_count(uri_or_path: str) -> int:
    """`?readers=N` on the URI sizes the pool (1..64); 4 by default."""
    query = parse_qs(urlsplit(uri_or_path).query) if uri_or_path.lower().startswith("sqlite:") else {}
    raw = (query.get("readers") or [str(DEFAULT_READERS)])[0]
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"readers must be a whole number, got {raw!r}") from None
    if not 1 <= count <= MAX_READERS:
        raise ValueError(f"readers must be between 1 and {MAX_READERS}, got {count}")
    return count


def _interrupt_when_late() -> int:
    # Runs on the reader's thread, inside the read that set the deadline (running_until in ReaderPool.run).
    deadline = current_deadline()
    return int(deadline is not None and deadline.passed())


def install_deadline_check(conn: sqlite3.Connection) -> None:
    conn.set_progress_handler(_interrupt_when_late, PROGRESS_STEPS)


class ReaderPool:
    """Hands each read to an idle reader connection; a read waits only when every reader is busy."""

    def __init__(self, connections: Sequence[aiosqlite.Connection], budget_ms: int | None) -> None:
        self._connections = tuple(connections)
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in self._connections:
            self._idle.put_nowait(conn)
        self._budget_ms = budget_ms

    @property
    def connections(self) -> tuple[aiosqlite.Connection, ...]:
        return self._connections

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on an idle reader; past the budget it raises ParseError(124).

        The clock starts when the read starts on its reader, not when it was queued: a fast read waiting behind
        slow ones must not be failed for their time."""
        budget_ms = self._budget_ms

        def bounded(raw: sqlite3.Connection) -> T:
            with running_until(deadline_after(budget_ms)) as deadline:
                try:
                    return fn(raw)
                except sqlite3.OperationalError:
                    # "interrupted" (the progress handler) or a SQL function that stopped at the deadline.
                    if deadline is not None and deadline.passed():
                        raise query_timeout() from None
                    raise

        conn = await self._idle.get()
        try:
            result: T = await conn._execute(lambda: bounded(conn._conn))  # type: ignore[no-untyped-call]
            return result
        finally:
            self._idle.put_nowait(conn)
