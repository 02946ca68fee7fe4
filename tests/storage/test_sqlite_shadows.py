"""Shadow columns on SQLite (engine/storage/sqlite_shadows.py): every write keeps them equal to the JSON they copy,
across a schema change in the same group transaction and in another process; they go with their last index; a
reader whose view of a table is older than the table still answers; containers are never shadowed; a `$group`
walks a covering index; a file from before them is upgraded at open."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.errors import ErrorCode, ParseError
from engine.query.options import FindOptions
from engine.query.where import Where, parse_where
from engine.schema.model import ClassDef, FieldDef, FieldType, default_fields, new_class
from engine.storage.aggregate_plan import plan_store_stages
from engine.storage.base import Changes, FieldOp, Increment, SetValue, StoredObject, Unset
from engine.storage.sqlite import SQLiteAdapter, _call
from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_nodes import index_value_is_scalar
from engine.storage.sqlite_shadows import PREFIX, read_shadows, shadow_of
from engine.wire import File, Pointer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ALL = FindOptions(limit=None)
VISIT = new_class("Visit", {
    "label": FieldDef(FieldType.STRING), "n": FieldDef(FieldType.NUMBER), "ok": FieldDef(FieldType.BOOLEAN),
    "when": FieldDef(FieldType.DATE), "patient": FieldDef(FieldType.POINTER, "Patient"),
    "scan": FieldDef(FieldType.FILE), "extra": FieldDef(FieldType.OBJECT), "tags": FieldDef(FieldType.ARRAY),
}).with_indexes({"label_n": {"label": 1, "n": -1}, "ok_1": {"ok": 1}, "when_1": {"when": 1},
                 "scan_1": {"scan": 1}, "extra_1": {"extra": 1}, "tags_1": {"tags": 1},
                 "patient_u": {"patient": 1, "unique": True}})
TALLY = new_class("Tally", {"team": FieldDef(FieldType.STRING), "score": FieldDef(FieldType.NUMBER)})


def _where(data: dict[str, Any]) -> Where:
    return parse_where(data, master=True)


def _changes(**ops: FieldOp) -> Changes:
    return Changes(T0, tuple(((key,), op) for key, op in ops.items()))


def _visit(i: int, **fields: Any) -> StoredObject:
    base: dict[str, Any] = {
        "label": f"it's \"{i % 3}\"", "n": [i, i + 0.5, 2**62 + i, -i][i % 4], "ok": i % 2 == 0,
        "when": T0 + timedelta(minutes=i), "patient": Pointer("Patient", f"p{i}"), "scan": File(f"s{i}.edf"),
        "extra": {"kind": f"k{i % 2}"}, "tags": ["psg", i],
    }
    base.update(fields)
    return StoredObject("Visit", f"v{i:04d}", T0, T0).with_fields({k: v for k, v in base.items() if v is not None})


def _mismatches(path: Path, table: str) -> dict[str, int]:
    """Per shadow column, the rows where it differs from the expression it is named for (IS NOT: NULL-aware)."""
    with sqlite3.connect(path) as conn:
        return {s.name: conn.execute(f'SELECT count(*) FROM "{table}" WHERE {s.column} IS NOT {s.expression}')
                .fetchone()[0] for s in read_shadows(conn, table).shadows}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "app.db"


@pytest.fixture
async def db(path: Path) -> AsyncIterator[SQLiteAdapter]:
    adapter = SQLiteAdapter(str(path))
    await adapter.open()
    await adapter.save_schema(VISIT)
    yield adapter
    await adapter.aclose()


async def test_every_write_keeps_the_shadow_columns_equal_to_the_json(db: SQLiteAdapter, path: Path) -> None:
    await db.create(VISIT, _visit(0))
    assert await db.create_many(VISIT, [_visit(i) for i in range(1, 40)]) == [None] * 39
    await db.create(VISIT, _visit(40, label=None, n=None, ok=None, when=None))  # unset fields: NULL shadows
    await db.update(VISIT, _where({"objectId": "v0001"}), _changes(label=SetValue("changed"), n=Increment(5)))
    await db.update(VISIT, _where({"objectId": "v0002"}), _changes(when=Unset(), ok=SetValue(None)))
    await db.update(VISIT, _where({"objectId": "v0003"}), _changes(patient=SetValue(Pointer("Patient", "other"))))
    shadows = _mismatches(path, "Visit")
    assert len(shadows) >= 8 and set(shadows.values()) == {0}, shadows
    # The answers are the JSON's: by the shadowed index, and without it.
    found = await db.find(VISIT, _where({"label": "changed"}), ALL)
    assert [(o.object_id, o.fields["n"]) for o in found] == [("v0001", 6.5)]
    assert await db.count(VISIT, _where({"n": {"$gt": 2**61}})) == 10
    assert await db.count(VISIT, _where({"when": {"$exists": False}})) == 2
    assert [o.object_id for o in await db.find(VISIT, _where({"patient": Pointer("Patient", "other")}), ALL)] \
        == ["v0003"]
    await db.delete(VISIT, _where({"label": "changed"}))
    assert await db.count(VISIT, _where({"label": "changed"})) == 0


async def test_containers_are_never_shadowed(db: SQLiteAdapter, path: Path) -> None:
    with sqlite3.connect(path) as conn:
        names = {s.expression for s in read_shadows(conn, "Visit").shadows}
        indexes = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'Visit' AND sql NOT NULL"))
    # A container's json_extract carries a JSON subtype a column would drop: its index keeps the expression.
    for name, whole in [("extra_1", "extra"), ("tags_1", "tags"), ("patient_u", "patient")]:
        expression = f"""json_extract(data, '$."{whole}"')"""
        assert expression not in names
        assert expression in indexes[f"idx:Visit:{name}"], indexes[f"idx:Visit:{name}"]
    # The string inside a typed value is shadowed (a date's iso, a pointer's objectId, a file's name).
    for inner in ['when"."iso', 'patient"."objectId', 'scan"."name', 'label', 'n', 'ok']:
        assert f"""json_extract(data, '$."{inner}"')""" in names
    assert shadow_of("json_extract(data, '$.\"x\"') + 1") is None
    assert not index_value_is_scalar(VISIT, "extra.kind", False)  # inside an object: the schema says nothing


async def test_a_create_grouped_after_an_index_change_fills_the_new_column(db: SQLiteAdapter, path: Path) -> None:
    await db.save_schema(TALLY)
    await db.create(TALLY, StoredObject("Tally", "t0", T0, T0).with_fields({"team": "a", "score": 1}))
    indexed = TALLY.with_indexes({"score_1": {"score": 1}})
    # Submitted together, they share one group transaction: the create runs right after the ALTER TABLE.
    await asyncio.gather(db.save_schema(indexed),
                         db.create(TALLY, StoredObject("Tally", "t1", T0, T0).with_fields({"team": "b", "score": 2})))
    assert {name for name in _mismatches(path, "Tally")} == {
        PREFIX + "json_extract(data, '$.\"score\"')", PREFIX + "json_type(data, '$.\"score\"')"}
    assert set(_mismatches(path, "Tally").values()) == {0}
    assert [o.object_id for o in await db.find(indexed, _where({"score": 2}), ALL)] == ["t1"]


async def test_an_index_added_by_another_process_is_filled_by_this_ones_writes(db: SQLiteAdapter, path: Path) -> None:
    other = SQLiteAdapter(str(path))  # a second server process on the same file
    await other.open()
    try:
        await db.save_schema(TALLY)
        await db.create(TALLY, StoredObject("Tally", "t0", T0, T0).with_fields({"team": "a", "score": 1}))
        await other.save_schema(TALLY.with_indexes({"score_1": {"score": 1}}))
        await db.create(TALLY, StoredObject("Tally", "t1", T0, T0).with_fields({"team": "b", "score": 2}))
        await db.update(TALLY, _where({"objectId": "t0"}), _changes(score=SetValue(3)))
        assert set(_mismatches(path, "Tally").values()) == {0}
        indexed = TALLY.with_indexes({"score_1": {"score": 1}})
        for adapter in (db, other):
            assert [o.object_id for o in await adapter.find(indexed, _where({"score": {"$gte": 2}}), ALL)] \
                == ["t0", "t1"]
    finally:
        await other.aclose()


async def test_a_reader_whose_view_predates_a_remade_table_still_answers(db: SQLiteAdapter, path: Path) -> None:
    other = SQLiteAdapter(str(path))
    await other.open()
    try:
        indexed = TALLY.with_indexes({"score_1": {"score": 1}})
        await db.save_schema(indexed)
        await db.create(indexed, StoredObject("Tally", "t0", T0, T0).with_fields({"team": "a", "score": 1}))
        # This process never learns of the schema change below (as when its change-feed check runs first).
        other.change_count = lambda topic: 0  # type: ignore[method-assign]
        assert len(await other.find(indexed, _where({"score": 1}), ALL)) == 1  # its view: the shadow columns
        await db.drop_class(indexed)
        await db.save_schema(TALLY)  # made again, without the index and so without its columns
        await db.create(TALLY, StoredObject("Tally", "t1", T0, T0).with_fields({"team": "b", "score": 1}))
        assert [o.object_id for o in await other.find(indexed, _where({"score": 1}), ALL)] == ["t1"]
        assert await other.count(indexed, _where({"score": 1})) == 1
    finally:
        await other.aclose()


async def test_a_removed_index_takes_its_columns_and_a_reader_naming_them_still_answers(db: SQLiteAdapter,
                                                                                         path: Path) -> None:
    other = SQLiteAdapter(str(path))
    await other.open()
    try:
        indexed = TALLY.with_indexes({"score_1": {"score": 1}, "team_1": {"team": 1}})
        await db.save_schema(indexed)
        await db.create(indexed, StoredObject("Tally", "t0", T0, T0).with_fields({"team": "a", "score": 1}))
        other.change_count = lambda topic: 0  # type: ignore[method-assign]
        assert len(await other.find(indexed, _where({"score": 1, "team": "a"}), ALL)) == 1  # its view: 4 columns
        await db.save_schema(TALLY.with_indexes({"team_1": {"team": 1}}))
        with sqlite3.connect(path) as conn:
            assert {s.expression for s in read_shadows(conn, "Tally").shadows} == {
                "json_extract(data, '$.\"team\"')", "json_type(data, '$.\"team\"')"}
        await db.create(TALLY, StoredObject("Tally", "t1", T0, T0).with_fields({"team": "a", "score": 1}))
        assert [o.object_id for o in await other.find(indexed, _where({"score": 1, "team": "a"}), ALL)] \
            == ["t0", "t1"]
        assert await other.count(indexed, _where({"score": 1})) == 2
        assert set(_mismatches(path, "Tally").values()) == {0}
    finally:
        await other.aclose()


async def test_a_failed_index_change_leaves_writes_working(db: SQLiteAdapter, path: Path) -> None:
    await db.save_schema(TALLY)
    for i in range(2):
        await db.create(TALLY, StoredObject("Tally", f"t{i}", T0, T0).with_fields({"team": "same", "score": i}))
    with pytest.raises(ParseError) as err:
        await db.save_schema(TALLY.with_indexes({"team_u": {"team": 1, "unique": True}}))
    assert err.value.code == ErrorCode.DUPLICATE_VALUE
    with sqlite3.connect(path) as conn:
        assert read_shadows(conn, "Tally").shadows == ()  # rolled back with the index
    await db.create(TALLY, StoredObject("Tally", "t2", T0, T0).with_fields({"team": "other", "score": 2}))
    assert await db.count(TALLY, _where({"team": "same"})) == 2


async def test_a_group_over_a_shadowed_index_walks_it_as_a_covering_index(db: SQLiteAdapter, path: Path) -> None:
    cls = ClassDef("Agg", {**default_fields("Agg"), "bucket": FieldDef(FieldType.NUMBER),
                           "n": FieldDef(FieldType.NUMBER)}, indexes={"bucket_n": {"bucket": 1, "n": 1}})
    await db.save_schema(cls)
    objs = [StoredObject("Agg", f"a{i:04d}", T0, T0).with_fields({"bucket": i % 7, "n": i}) for i in range(700)]
    assert await db.create_many(cls, objs) == [None] * 700
    plan = plan_store_stages(cls, _where({}), [{"$group": {"_id": "$bucket", "total": {"$sum": "$n"}}}])
    assert plan is not None
    out = await db.aggregate(cls, plan)
    assert sorted((d["_id"], d["total"]) for d in out or []) == [
        (b, sum(i for i in range(700) if i % 7 == b)) for b in range(7)]
    statements: list[str] = []

    def trace(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(statements.append)

    for reader in db._pool.connections if db._pool else ():
        await _call(reader, trace)
    await db.aggregate(cls, plan)
    [sql] = [s for s in statements if "GROUP BY" in s]
    with sqlite3.connect(path) as conn:
        steps = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert any("USING COVERING INDEX idx:Agg:bucket_n" in step for step in steps), steps


def _unshadowed(statement: str) -> str:
    """An index statement as the version before shadow columns wrote it: the expressions themselves."""
    return re.sub(r"`\$((?:[^`]|``)*)`", lambda m: m.group(1).replace("``", "`"), statement)


async def test_a_file_from_before_shadow_columns_is_upgraded_at_open(path: Path) -> None:
    first = SQLiteAdapter(str(path))
    await first.open()
    await first.save_schema(VISIT)
    assert await first.create_many(VISIT, [_visit(i) for i in range(30)]) == [None] * 30
    await first.aclose()
    with sqlite3.connect(path) as conn:  # back to the layout the version before wrote
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'Visit' "
                                      "AND type = 'index' AND sql NOT NULL").fetchall():
            conn.execute(f'DROP INDEX "{name}"')
            conn.execute(_unshadowed(sql))
        for shadow in read_shadows(conn, "Visit").shadows:
            conn.execute(f'ALTER TABLE "Visit" DROP COLUMN {shadow.column}')
    queries = [{"label": 'it\'s "1"'}, {"n": {"$lt": 10}}, {"when": {"$exists": True}}, {"ok": True}]
    db = SQLiteAdapter(str(path))
    await db.open()
    try:
        before = [[o.object_id for o in await db.find(VISIT, _where(q), ALL)] for q in queries]
        assert db._refreshing is not None
        await db._refreshing  # the upgrade (then the statistics) run beside the first requests
        with sqlite3.connect(path) as conn:
            statements = [sql for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'Visit' AND type = 'index' AND sql NOT NULL")]
        assert sum("`$json_extract(data, '$.\"label\"')`" in sql for sql in statements) == 1, statements
        assert set(_mismatches(path, "Visit").values()) == {0} and len(_mismatches(path, "Visit")) >= 8
        after = [[o.object_id for o in await db.find(VISIT, _where(q), ALL)] for q in queries]
        assert after == before and all(before)
    finally:
        await db.aclose()
