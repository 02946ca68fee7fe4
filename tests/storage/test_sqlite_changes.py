"""The SQLite change feed: counters in a shared mapped file, seen by every adapter on the same database."""

from __future__ import annotations

from pathlib import Path

from engine.schema.model import new_class
from engine.storage.base import ROLES_TOPIC, SCHEMA_TOPIC
from engine.storage.sqlite import SQLiteAdapter
from engine.storage.sqlite_changes import ChangeCounters


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


async def test_a_role_or_schema_write_in_one_adapter_moves_the_other_adapters_count(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    writer, other = SQLiteAdapter(path), SQLiteAdapter(path)
    await writer.open()
    await other.open()
    try:
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
    finally:
        await writer.aclose()
        await other.aclose()
