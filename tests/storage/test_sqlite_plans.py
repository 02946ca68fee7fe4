"""SQLite answers indexed finds and counts with an index search, exactly, at 10 000 rows and at a million."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.query.options import FindOptions
from engine.query.where import Compare, Where, conjoin, parse_where
from engine.schema.model import FieldDef, FieldType, default_fields, new_class
from engine.security.acl import read_constraint
from engine.security.auth import Auth
from engine.storage.base import StoredObject
from engine.storage.memory import MemoryAdapter
from engine.storage.sql_compile import Compiler
from engine.storage.sqlite import SQLiteAdapter
from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_shadows import insert_sql, read_shadows
from engine.wire import ACL, Pointer

T0 = datetime(2024, 5, 1, tzinfo=UTC)
ITEM = new_class("Item", {
    "n": FieldDef(FieldType.NUMBER),
    "name": FieldDef(FieldType.STRING),
    "when": FieldDef(FieldType.DATE),
    "owner": FieldDef(FieldType.POINTER, "_User"),
}).with_indexes({"n_1": {"n": 1}, "name_1": {"name": 1}, "when_1": {"when": -1}})
ROWS = 10_000
# Values of other types in the Number column (the schema refuses them, a stray one must still neither match
# nor be counted). Not an array: a field declared of a non-array type is compiled without array branches.
ODD = [None, True, False, "600", "abc", {"n": 800}]


def _row(i: int) -> StoredObject:
    fields: dict[str, Any] = {"n": i % 1000, "name": f"name{i % 50}",
                              "owner": Pointer("_User", f"u{i % 20}"), "when": T0.replace(minute=i % 60)}
    if i % 997 == 0:
        fields["n"] = ODD[(i // 997) % len(ODD)]
    if i % 1999 == 0:
        del fields["n"]
    acl = ACL(frozenset({f"u{i % 20}"}), frozenset()) if i % 2 else None
    return StoredObject("Item", f"o{i:05d}", T0, T0, acl).with_fields(fields)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plans") / "plans.db"


@pytest.fixture
async def stores(db_path: Path) -> AsyncIterator[tuple[SQLiteAdapter, MemoryAdapter]]:
    sqlite, memory = SQLiteAdapter(str(db_path)), MemoryAdapter()
    await sqlite.open()
    await sqlite.save_schema(ITEM)
    await memory.save_schema(ITEM)
    rows = [_row(i) for i in range(ROWS)]
    for row in rows:
        await memory.create(ITEM, row)
    if await sqlite.count(ITEM, parse_where(None, master=True)) == 0:
        with sqlite3.connect(db_path) as conn:  # one transaction: 10 000 adapter writes would take a while
            from engine.storage.sqlite_codec import INSERT_COLUMNS, encode_row
            conn.executemany(insert_sql(conn, "Item", INSERT_COLUMNS), [encode_row(ITEM, r) for r in rows])
    yield sqlite, memory
    await sqlite.aclose()


QUERIES: list[tuple[dict[str, Any], str]] = [
    ({"n": {"$gt": 500}}, "idx:Item:n_1"),
    ({"n": {"$gte": 10, "$lt": 20}}, "idx:Item:n_1"),
    ({"n": 5}, "idx:Item:n_1"),
    ({"n": {"$in": [5, 6, 600]}}, "idx:Item:n_1"),
    ({"name": "name7"}, "idx:Item:name_1"),
    ({"name": {"$in": ["name1", "name2"]}}, "idx:Item:name_1"),
    ({"when": {"$lt": {"__type": "Date", "iso": "2024-05-01T00:03:00.000Z"}}}, "idx:Item:when_1"),
    ({"owner": {"__type": "Pointer", "className": "_User", "objectId": "u3"}}, "pointer:Item:owner"),
    ({"owner": {"$in": [{"__type": "Pointer", "className": "_User", "objectId": "u3"},
                        {"__type": "Pointer", "className": "_User", "objectId": "u4"}]}}, "pointer:Item:owner"),
]


def _plan(db_path: Path, sql: str, params: dict[str, Any], table: str = "Item") -> list[str]:
    """The plan of ``sql`` as the adapter runs it: reading the table's shadow columns."""
    with sqlite3.connect(db_path) as conn:
        shaded = read_shadows(conn, table).apply(sql)
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + shaded, params)]


def _count_sql(where: Where) -> tuple[str, dict[str, Any]]:
    compiler = Compiler(ITEM)
    return f'SELECT count(*) FROM "Item" WHERE {compiler.where(where)}', compiler.params


def _find_sql(where: Where) -> tuple[str, dict[str, Any]]:
    compiler = Compiler(ITEM)
    return f'SELECT objectId FROM "Item" WHERE {compiler.where(where)} ORDER BY rowid LIMIT 100', compiler.params


@pytest.mark.parametrize(("query", "index"), QUERIES, ids=[str(q) for q, _ in QUERIES])
async def test_counts_are_exact_index_searches(stores: tuple[SQLiteAdapter, MemoryAdapter], db_path: Path,
                                               query: dict[str, Any], index: str) -> None:
    sqlite, memory = stores
    where = parse_where(query, master=True)
    assert await sqlite.count(ITEM, where) == await memory.count(ITEM, where)
    plan = _plan(db_path, *_count_sql(where))
    assert any(step.startswith("SEARCH Item USING") and index in step for step in plan), plan
    user = conjoin(where, read_constraint(Auth(user_id="u3")))
    assert await sqlite.count(ITEM, user) == await memory.count(ITEM, user)
    assert any(index in step for step in _plan(db_path, *_count_sql(user)))


# A one-sided range may match half the table (n > 500 does): reading the table in insertion order finds 100
# matches in about 200 rows, which SQLite (without range statistics) prefers to sorting every match the index
# holds back into that order. Equalities, lists and two-sided ranges are index searches.
SELECTIVE = [(q, i) for q, i in QUERIES if not any(
    isinstance(c, dict) and len(c) == 1 and next(iter(c)) in ("$gt", "$lt") for c in q.values())]


@pytest.mark.parametrize(("query", "index"), SELECTIVE, ids=[str(q) for q, _ in SELECTIVE])
async def test_selective_finds_are_index_searches(stores: tuple[SQLiteAdapter, MemoryAdapter], db_path: Path,
                                                  query: dict[str, Any], index: str) -> None:
    sqlite, memory = stores
    where = parse_where(query, master=True)
    opts = FindOptions(limit=100)
    assert ([o.object_id for o in await sqlite.find(ITEM, where, opts)]
            == [o.object_id for o in await memory.find(ITEM, where, opts)])
    plan = _plan(db_path, *_find_sql(where))
    assert any(step.startswith("SEARCH Item USING") and index in step for step in plan), plan


async def test_plans_stay_index_searches_at_a_million_rows(stores: tuple[SQLiteAdapter, MemoryAdapter],
                                                           db_path: Path) -> None:
    # The planner's statistics as ANALYZE would leave them for a million rows (a thousand per value of n):
    # what it decides from them is what it would decide with the rows there.
    with sqlite3.connect(db_path) as conn:
        conn.execute("ANALYZE")
        conn.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'Item'")
        conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('Item', ?, ?)", [
            ("idx:Item:n_1", "1000000 1000"), ("idx:Item:name_1", "1000000 10"),
            ("idx:Item:when_1", "1000000 100"), ("pointer:Item:owner", "1000000 50"),
            ("sqlite_autoindex_Item_1", "1000000 1"), (None, "1000000")])
        conn.commit()
    try:
        for query, index in QUERIES:
            where = parse_where(query, master=True)
            plan = _plan(db_path, *_count_sql(where))
            assert any(step.startswith("SEARCH Item USING") and index in step for step in plan), (query, plan)
            if (query, index) in SELECTIVE:
                plan = _plan(db_path, *_find_sql(where))
                assert any(step.startswith("SEARCH Item USING") and index in step for step in plan), (query, plan)
    finally:
        with sqlite3.connect(db_path) as conn:
            conn.execute("DROP TABLE sqlite_stat1")


@pytest.mark.parametrize(("class_name", "key", "value"), [
    ("_Session", "sessionToken", "r:abc"), ("_User", "_session_token", "legacy"),
    ("_Session", "user", Pointer("_User", "u1")), ("_User", "username", "ada"), ("_User", "email", "a@b.c"),
])
async def test_per_request_lookups_are_index_searches(tmp_path: Path, class_name: str, key: str, value: Any) -> None:
    """A session token is resolved on every authenticated request: never by reading the whole table."""
    cls = new_class(class_name, default_fields(class_name))
    adapter = SQLiteAdapter(str(tmp_path / "app.db"))
    await adapter.open()
    try:
        await adapter.save_schema(cls)
        where = Compare((key,), "eq", value)
        compiler = Compiler(cls)
        sql = f'SELECT objectId FROM "{class_name}" WHERE {compiler.where(where)} LIMIT 1'
        plan = _plan(tmp_path / "app.db", sql, compiler.params, class_name)
        assert any(step.startswith(f"SEARCH {class_name} USING INDEX") for step in plan), plan
    finally:
        await adapter.aclose()
