"""Planner statistics for the SQLite store, so a range on an indexed field is an index search when few rows match.

A find without `order` reads in insertion order (``ORDER BY rowid``). Without statistics SQLite guesses that a
range matches a large share of the rows, so it walks the table in rowid order and stops at the limit: right for
`n > 5`, a full scan for `n > 199950` (256 ms at 200 000 rows, growing with the table). ANALYZE with the STAT4
histograms of the bundled SQLite (sqlite_driver.py) lets it cost the bound value: index search and sort the few
matches, or walk the table when many match.

``PRAGMA optimize=0x10002`` analyses only the tables that need it (never analysed, or grown or shrunk about
tenfold since): a no-op most of the time, and over a table's life its cost adds up to a few full passes, since
each one waits for the table to grow tenfold. It runs beside the first requests after the store opens, then
every WRITES_BETWEEN writes, as one write of the group commit, so it holds the writer (and the cross-process write
lock) while it runs: about 0.15 s per 200 000 rows of an analysed table. Statistics only steer plans; results are
the same without them.
"""

from __future__ import annotations

from engine.storage.sqlite_driver import sqlite3

# All tables (0x10000), ANALYZE where useful (0x02), and without the sampling limit (0x10 unset): a limited
# ANALYZE writes no STAT4 histogram, and the histogram is what ranges need.
OPTIMIZE = "PRAGMA optimize=0x10002"
WRITES_BETWEEN = 2000


def refresh(conn: sqlite3.Connection, created: set[str]) -> None:
    """A write for the group committer: analyse whatever has gone stale."""
    conn.execute(OPTIMIZE).fetchall()


class WriteClock:
    """Says when WRITES_BETWEEN writes have gone by since the last refresh."""

    def __init__(self, every: int = WRITES_BETWEEN) -> None:
        self._every = every
        self._count = 0

    def tick(self) -> bool:
        self._count += 1
        if self._count < self._every:
            return False
        self._count = 0
        return True
