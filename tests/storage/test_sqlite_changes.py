"""The SQLite change feed: counters in a shared mapped file, seen by every adapter on the same database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.query.where import Compare
from engine.schema.model import new_class
from engine.storage.base import HOOKS_TOPIC, ROLES_TOPIC, SCHEMA_TOPIC, StoredObject
from engine.storage.sqlite import SQLiteAdapter
from engine.storage.sqlite_changes import TOPICS, ChangeCounters


@pytest.fixture
async def two_adapters(tmp_path: Path) -> AsyncIterator[tuple[SQLiteAdapter, SQLiteAdapter]]:
    """Two adapters on one database file, as two server processes would open it: a writer and an observer."""
    path = str(tmp_path / "shared.db")
    writer, other = SQLiteAdapter(path), SQLiteAdapter(path)
    await writer.open()
    await other.open()
    try:
        yield writer, other
    finally:
        await writer.aclose()
        await other.aclose()


def test_counters_are_shared_between_openers_of_one_file(tmp_path: Path) -> None:
    one, two = ChangeCounters(str(tmp_path / "db-changes")), ChangeCounters(str(tmp_path / "db-changes"))
    try:
        assert (one.count(SCHEMA_TOPIC), one.count(ROLES_TOPIC)) == (0, 0)
        two.bump([ROLES_TOPIC, ROLES_TOPIC])  # one bump per topic, however often it is named
        assert (one.count(SCHEMA_TOPIC), one.count(ROLES_TOPIC)) == (0, 1)
        one.bump([SCHEMA_TOPIC])
        assert (two.count(SCHEMA_TOPIC), two.count(ROLES_TOPIC)) == (1, 1)
        assert one.count("no such topic") == 0
    finally:
        one.close()
        two.close()


async def test_a_role_or_schema_write_in_one_adapter_moves_the_other_adapters_count(
        two_adapters: tuple[SQLiteAdapter, SQLiteAdapter]) -> None:
    writer, other = two_adapters
    before = (other.change_count(SCHEMA_TOPIC), other.change_count(ROLES_TOPIC))
    roles = new_class("_Role")
    await writer.save_schema(roles)
    assert other.change_count(SCHEMA_TOPIC) == before[0] + 1
    await writer.add_relation(roles, "users", "r1", ["u1"])
    assert other.change_count(ROLES_TOPIC) == before[1] + 1
    notes = new_class("Note")
    await writer.save_schema(notes)
    roles_now = other.change_count(ROLES_TOPIC)
    await writer.add_relation(notes, "readers", "n1", ["u1"])  # not a role: role caches stay valid
    assert other.change_count(ROLES_TOPIC) == roles_now


def test_topics_keep_their_slots_as_topics_are_added() -> None:
    # A process of an older build shares the counter file: a topic's slot must never move.
    assert TOPICS[:3] == (SCHEMA_TOPIC, ROLES_TOPIC, HOOKS_TOPIC)


async def test_a_hooks_write_moves_only_the_hooks_count(two_adapters: tuple[SQLiteAdapter, SQLiteAdapter]) -> None:
    writer, other = two_adapters
    hooks = new_class("_Hooks")
    await writer.save_schema(hooks)
    before = {t: other.change_count(t) for t in TOPICS}
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    row = StoredObject("_Hooks", "h1", stamp, stamp).with_fields({"functionName": "score", "url": "http://h/x"})
    await writer.create(hooks, row)
    assert {t: other.change_count(t) for t in TOPICS} == {**before, HOOKS_TOPIC: before[HOOKS_TOPIC] + 1}
    await writer.delete(hooks, Compare(("objectId",), "eq", "h1"))
    assert other.change_count(HOOKS_TOPIC) == before[HOOKS_TOPIC] + 2
