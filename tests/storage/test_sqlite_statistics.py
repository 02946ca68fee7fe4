"""Planner statistics on SQLite: a range few rows match becomes an index search; one most rows match still walks
the table in insertion order and stops at the limit. Results are the same either way."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.query.options import FindOptions
from engine.query.where import Where, parse_where
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage import sqlite_statistics
from engine.storage.base import StoredObject
from engine.storage.sqlite import SQLiteAdapter

ROWS = 20_000
LOG = new_class("Log", {"n": FieldDef(FieldType.NUMBER)}).with_indexes({"n_1": {"n": 1}})
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NARROW = parse_where({"n": {"$gt": ROWS - 50}}, master=True)
BROAD = parse_where({"n": {"$gt": 5}}, master=True)
FIRST_100 = FindOptions(limit=100)


async def _fill(db: SQLiteAdapter) -> None:
    for start in range(0, ROWS, 1000):
        objects = [StoredObject("Log", f"o{i:06d}", T0, T0).with_fields({"n": i}) for i in range(start, start + 1000)]
        assert await db.create_many(LOG, objects) == [None] * len(objects)


async def _plan(db: SQLiteAdapter, where: Where) -> str:
    return " / ".join(str(step["detail"]) for step in await db.explain(LOG, where, FIRST_100))


async def _searches_soon(db: SQLiteAdapter) -> str:
    """The narrow range's plan once the refresh running beside requests has landed (or after 5 s)."""
    for _ in range(100):
        plan = await _plan(db, NARROW)
        if plan.startswith("SEARCH"):
            return plan
        await asyncio.sleep(0.05)
    return plan


async def _numbers(db: SQLiteAdapter, where: Where) -> list[object]:
    return [o.fields["n"] for o in await db.find(LOG, where, FIRST_100)]


async def test_opening_the_store_analyses_what_changed(tmp_path: Path) -> None:
    path = str(tmp_path / "stats.db")
    db = SQLiteAdapter(path)
    await db.open()
    try:
        await db.save_schema(LOG)
        await _fill(db)
        # No statistics yet: SQLite guesses that a range matches many rows and walks the whole table for 49.
        assert (await _plan(db, NARROW)).startswith("SCAN Log")
        assert await _numbers(db, NARROW) == list(range(ROWS - 49, ROWS))
    finally:
        await db.aclose()
    db = SQLiteAdapter(path)
    await db.open()
    try:
        assert (await _searches_soon(db)).startswith("SEARCH Log USING INDEX idx:Log:n_1")
        assert (await _plan(db, BROAD)).startswith("SCAN Log")  # reads about 100 rows, sorts nothing
        assert await _numbers(db, NARROW) == list(range(ROWS - 49, ROWS))
        assert await _numbers(db, BROAD) == list(range(6, 106))  # insertion order, as before
    finally:
        await db.aclose()


async def test_statistics_follow_the_writes_without_a_restart(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_statistics, "WRITES_BETWEEN", 5)
    db = SQLiteAdapter(str(tmp_path / "stats.db"))
    await db.open()
    try:
        await db.save_schema(LOG)
        await _fill(db)  # 20 writes: refreshes run beside them
        assert (await _searches_soon(db)).startswith("SEARCH Log USING INDEX idx:Log:n_1")
        assert await _numbers(db, NARROW) == list(range(ROWS - 49, ROWS))
    finally:
        await db.aclose()
