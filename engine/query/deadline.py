"""The time budget of the query being evaluated: one deadline shared by every regex and text evaluation of it.

A store sets the deadline around one query (`running_until`); the in-process evaluators (match.py, and the SQL
functions SQLite calls back into) read it from a context variable, so a catastrophic pattern costs one budget per
query, never one per row. Without a deadline (LiveQuery, writes) evaluators keep their own per-match cap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from engine.errors import ErrorCode, ParseError

QUERY_TIMEOUT_MESSAGE = "Query timed out"


class Deadline:
    """When the query must stop, and whether an evaluator already stopped because of it.

    Mutable on purpose: a SQL function that hit the deadline cannot raise through SQLite with its own error, so it
    marks the deadline and the store turns SQLite's generic failure into a timeout."""

    __slots__ = ("at", "expired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.expired = False

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        if not self.expired and time.monotonic() >= self.at:
            self.expired = True
        return self.expired

    def check(self) -> None:
        if self.passed():
            raise query_timeout()


_current: ContextVar[Deadline | None] = ContextVar("query_deadline", default=None)


def query_timeout() -> ParseError:
    return ParseError(ErrorCode.TIMEOUT, QUERY_TIMEOUT_MESSAGE)


def deadline_after(budget_ms: int | None) -> Deadline | None:
    """A deadline ``budget_ms`` from now; None (or 0, or less) means no budget."""
    if budget_ms is None or budget_ms <= 0:
        return None
    return Deadline(time.monotonic() + budget_ms / 1000)


def current_deadline() -> Deadline | None:
    return _current.get()


@contextmanager
def running_until(deadline: Deadline | None) -> Iterator[Deadline | None]:
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def check_deadline() -> None:
    """Raise the query timeout if the current query is past its deadline (no-op without one)."""
    deadline = _current.get()
    if deadline is not None:
        deadline.check()
