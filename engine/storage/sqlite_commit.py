"""Group commit for the SQLite writer: concurrent writes share one transaction and one fsync.

Each write runs inside its own SAVEPOINT, so one write's failure (a unique violation, a type error) rolls back
only that write; the group commits once, and every write is acknowledged only after that COMMIT, so what was
acknowledged is as durable as with one transaction per write. Under load this turns N fsyncs into one.

Each group transaction runs inside the cross-process write lock (sqlite_write_lock.py), so the writers of several
server processes queue for the database in the kernel rather than in SQLite's backing-off busy handler."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from engine.storage.sqlite_driver import sqlite3

MAX_GROUP = 64  # writes per transaction: bounds the latency one slow group adds to the writes queued behind it

WriteFn = Callable[..., Any]
RunOnWriter = Callable[[Callable[[sqlite3.Connection], Any]], Awaitable[Any]]
Hold = Callable[[], AbstractContextManager[None]]


@dataclass
class _Job:
    fn: WriteFn
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    created: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    value: Any  # the result, or the exception the write raised


class GroupCommitter:
    """Queue writes; one flusher at a time runs everything queued in a single IMMEDIATE transaction."""

    def __init__(self, run_on_writer: RunOnWriter, on_commit: Callable[[set[str]], None], hold: Hold,
                 on_begin: Callable[[sqlite3.Connection], None] = lambda conn: None) -> None:
        self._run = run_on_writer
        self._hold = hold  # entered on the writer thread around each group transaction
        self._on_begin = on_begin  # called on the writer thread once each group transaction has begun
        self._on_commit = on_commit  # told which tables the committed writes created
        self._pending: list[_Job] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, fn: WriteFn, *args: Any) -> Any:
        """Run ``fn(conn, created, *args)`` as part of the next group; raises what ``fn`` raised."""
        job = _Job(fn, args, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return await job.future

    async def _flush(self) -> None:
        while self._pending:
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            try:
                work = functools.partial(_run_group, group=group, hold=self._hold, on_begin=self._on_begin)
                outcomes: list[_Outcome] = await self._run(work)
            except BaseException as exc:
                for job in group:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            created: set[str] = set()
            for job, outcome in zip(group, outcomes, strict=True):
                if outcome.ok:
                    created |= job.created
            self._on_commit(created)
            for job, outcome in zip(group, outcomes, strict=True):
                if job.future.done():
                    continue  # the caller went away; its write still committed (or rolled back) with the group
                if outcome.ok:
                    job.future.set_result(outcome.value)
                else:
                    job.future.set_exception(outcome.value)


def _run_group(conn: sqlite3.Connection, group: list[_Job], hold: Hold,
               on_begin: Callable[[sqlite3.Connection], None]) -> list[_Outcome]:
    with hold():
        return _run_transaction(conn, group, on_begin)


def _run_transaction(conn: sqlite3.Connection, group: list[_Job],
                     on_begin: Callable[[sqlite3.Connection], None]) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        on_begin(conn)
        for job in group:
            conn.execute("SAVEPOINT write")
            try:
                value = job.fn(conn, job.created, *job.args)
            except Exception as exc:
                conn.execute("ROLLBACK TO write")
                conn.execute("RELEASE write")
                job.created.clear()
                outcomes.append(_Outcome(False, exc))
                continue
            conn.execute("RELEASE write")
            outcomes.append(_Outcome(True, value))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes
