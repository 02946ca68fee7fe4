"""SQLite's GROUP BY statement: whether an index leads with the group key (walked in order) or not (the per-row
values are read once in a subquery and only they are sorted), the store's answer is the Python stages' answer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.pipeline.aggregate import _document
from engine.query.aggregate import run_pipeline
from engine.query.options import FindOptions
from engine.query.where import MATCH_ALL, Where, parse_where
from engine.schema.model import ClassDef, FieldDef, FieldType, new_class
from engine.storage.aggregate_plan import plan_store_stages
from engine.storage.base import StoredObject
from engine.storage.sql_aggregate import group_statement, sqlite_dialect
from engine.storage.sql_compile import Compiler
from engine.storage.sqlite import SQLiteAdapter, _index_leads, _indexes
from engine.storage.sqlite_driver import sqlite3
from engine.storage.sqlite_nodes import quote_ident
from engine.storage.sqlite_shadows import add_shadows
from engine.wire import Pointer

T0 = datetime(2024, 5, 1, tzinfo=UTC)
FIELDS = {"bucket": FieldDef(FieldType.NUMBER), "n": FieldDef(FieldType.NUMBER),
          "label": FieldDef(FieldType.STRING), "ok": FieldDef(FieldType.BOOLEAN),
          "owner": FieldDef(FieldType.POINTER, "_User")}
PLAIN = new_class("Plain", FIELDS)
INDEXED = new_class("Indexed", FIELDS).with_indexes(
    {"bucket_n": {"bucket": 1, "n": 1}, "label_1": {"label": -1}, "ok_label": {"ok": 1, "label": 1}})
# Nulls, fractions and missing fields among the declared types (the plan is exact for what the schema admits).
ODD: list[Any] = [None, 2.5, -0.5]


def _row(cls: ClassDef, i: int) -> StoredObject:
    fields: dict[str, Any] = {"bucket": i % 7, "n": i, "label": f"l{i % 5}", "owner": Pointer("_User", f"u{i % 3}")}
    if i % 11 == 0:
        fields["bucket"] = ODD[(i // 11) % len(ODD)]
    if i % 13 == 0:
        del fields["bucket"]
    if i % 17 == 0:
        fields["n"] = ODD[(i // 17) % len(ODD)]
    if i % 4 == 0:
        fields["ok"] = i % 8 == 0
    return StoredObject(cls.name, f"o{i:04d}", T0, T0, None).with_fields(fields)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteAdapter]:
    adapter = SQLiteAdapter(str(tmp_path / "agg.db"))
    await adapter.open()
    for cls in (PLAIN, INDEXED):
        await adapter.save_schema(cls)
        for i in range(300):
            await adapter.create(cls, _row(cls, i))
    yield adapter
    await adapter.aclose()


PIPELINES: list[tuple[dict[str, Any] | None, list[dict[str, Any]]]] = [
    (None, [{"$group": {"_id": "$bucket", "total": {"$sum": "$n"}}}]),
    (None, [{"$group": {"_id": "$bucket", "total": {"$sum": "$n"}, "c": {"$sum": 1}}}, {"$sort": {"total": -1}}]),
    (None, [{"$group": {"_id": {"b": "$bucket", "o": "$ok"}, "avg": {"$avg": "$n"}, "hi": {"$max": "$label"}}}]),
    (None, [{"$group": {"_id": "$label", "lo": {"$min": "$n"}}}, {"$sort": {"_id": 1}}, {"$skip": 1},
            {"$limit": 2}]),
    (None, [{"$group": {"_id": "$owner", "c": {"$count": {}}}}]),
    (None, [{"$group": {"_id": "$ok", "c": {"$sum": 1}}}, {"$count": "groups"}]),
    (None, [{"$group": {"_id": None, "total": {"$sum": "$n"}}}]),
    ({"bucket": {"$gte": 2}}, [{"$group": {"_id": "$bucket", "total": {"$sum": "$n"}}}]),
    ({"label": "l3"}, [{"$group": {"_id": "$bucket", "s": {"$sum": "$n"}}}, {"$sort": {"s": 1}}]),
]


async def _in_store(store: SQLiteAdapter, cls: ClassDef, where: Where, rest: list[dict[str, Any]]) -> Any:
    plan = plan_store_stages(cls, where, rest)
    assert plan is not None and plan.group is not None and plan.consumed >= 1
    docs = await store.aggregate(cls, plan)
    assert docs is not None
    return run_pipeline(docs, rest[plan.consumed:])


@pytest.mark.parametrize(("match", "rest"), PIPELINES)
async def test_store_answers_as_the_python_stages(store: SQLiteAdapter, match: dict[str, Any] | None,
                                                  rest: list[dict[str, Any]]) -> None:
    where = MATCH_ALL if match is None else parse_where(match, master=True)
    for cls in (PLAIN, INDEXED):
        rows = await store.find(cls, where, FindOptions(limit=None))
        expected = run_pipeline([_document(r) for r in rows], rest)
        assert expected, "a pipeline that answers nothing checks nothing"
        got = await _in_store(store, cls, where, rest)
        plan = plan_store_stages(cls, where, rest)
        assert plan is not None
        if not plan.ordered:  # groups nothing sorts or pages come in no defined order
            got, expected = _unordered(got), _unordered(expected)
        assert got == expected, cls.name


def _unordered(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(docs, key=lambda d: json.dumps(d, sort_keys=True))


def _plan(cls: ClassDef, rest: list[dict[str, Any]]) -> list[str]:
    plan = plan_store_stages(cls, MATCH_ALL, rest)
    assert plan is not None
    compiler = Compiler(cls)
    stmt = group_statement(cls, plan, quote_ident(cls.name), compiler.where(MATCH_ALL),
                           sqlite_dialect(cls, _index_leads(cls)))
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE {quote_ident(cls.name)} (objectId TEXT PRIMARY KEY, data TEXT NOT NULL, "
                 "internal TEXT NOT NULL)")
    shadows = add_shadows(conn, cls.name, ())
    for index in _indexes(cls).values():
        shadows = add_shadows(conn, cls.name, index.shadows)
        conn.execute(index.statement)
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + shadows.apply(stmt.sql), compiler.params)]


def test_an_index_leading_with_the_key_is_walked_instead_of_sorting() -> None:
    group = [{"$group": {"_id": "$bucket", "total": {"$sum": "$n"}}}]
    indexed = _plan(INDEXED, group)
    # Covering: the index's shadow columns hold both values, so no entry costs a seek into the table.
    assert any("USING COVERING INDEX idx:Indexed:bucket_n" in step for step in indexed), indexed
    assert "USE TEMP B-TREE FOR GROUP BY" not in indexed
    # Without one, the rows are sorted -- but only their extracted values, read once in a subquery.
    plain = _plan(PLAIN, group)
    assert "USE TEMP B-TREE FOR GROUP BY" in plain and "SCAN r" in plain, plain


def test_index_leads_follow_the_created_indexes() -> None:
    indexes = _indexes(INDEXED)
    leads = _index_leads(INDEXED)
    assert leads == {"json_extract(data, '$.\"bucket\"')", "json_extract(data, '$.\"label\"')",
                     "json_extract(data, '$.\"ok\"')"}
    # Each lead is the first column of an index: the shadow column that holds it.
    firsts = {index.shadows[0].expression for name, index in indexes.items() if name.startswith("idx:")}
    assert leads == firsts
    assert _index_leads(PLAIN) == frozenset()
    # A text index has no SQLite counterpart, so it leads nothing.
    assert _index_leads(PLAIN.with_indexes({"t": {"label": "text"}})) == frozenset()
