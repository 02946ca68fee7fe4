"""The PostgreSQL store keeps Parse Server's own table layout: what Parse Server writes is read, and the reverse.

The rows below are written with raw SQL exactly as Parse Server's PostgresStorageAdapter writes them (column types,
`_SCHEMA` document, pointer objectIds, `point`/`polygon`, `_Join:` tables), on a throw-away cluster."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from engine.errors import ErrorCode, ParseError
from engine.query.options import FindOptions, SortKey
from engine.query.where import MATCH_ALL, parse_where
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import StoredObject
from engine.storage.postgres import PostgresAdapter
from engine.storage.registry import open_adapter
from engine.wire import ACL, GeoPoint, Pointer, Polygon

ALL = FindOptions(limit=None)
T0 = datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)

# What Parse Server 9.10 creates for a class with these fields (createClass + createTable).
PARSE_DDL = """
CREATE TABLE "_SCHEMA" ("className" varChar(120), "schema" jsonb, "isParseClass" bool, PRIMARY KEY ("className"));
CREATE TABLE "Visit" ("objectId" text, "createdAt" timestamp with time zone, "updatedAt" timestamp with time zone,
  "_rperm" text[], "_wperm" text[], "note" text, "score" double precision, "done" boolean,
  "at" timestamp with time zone, "meta" jsonb, "tags" jsonb, "where" point, "area" polygon, "patient" text,
  PRIMARY KEY ("objectId"));
CREATE TABLE "_Join:staff:Visit" ("relatedId" varChar(120), "owningId" varChar(120),
  PRIMARY KEY("relatedId", "owningId"));
INSERT INTO "_SCHEMA" VALUES ('Visit', $$ {"className": "Visit", "fields": {
  "objectId": {"type": "String"}, "createdAt": {"type": "Date"}, "updatedAt": {"type": "Date"},
  "_rperm": {"type": "Array", "contents": {"type": "String"}},
  "_wperm": {"type": "Array", "contents": {"type": "String"}},
  "note": {"type": "String"}, "score": {"type": "Number"}, "done": {"type": "Boolean"}, "at": {"type": "Date"},
  "meta": {"type": "Object"}, "tags": {"type": "Array"}, "where": {"type": "GeoPoint"}, "area": {"type": "Polygon"},
  "patient": {"type": "Pointer", "targetClass": "_User"}, "staff": {"type": "Relation", "targetClass": "_User"}},
  "classLevelPermissions": {"find": {"*": true}, "get": {"*": true}, "count": {"*": true}, "create": {"*": true},
  "update": {"*": true}, "delete": {"*": true}, "addField": {"*": true}, "protectedFields": {"*": []}},
  "indexes": {"_id_": {"_id": 1}}} $$, true);
INSERT INTO "Visit" VALUES ('v1', '2024-05-01T10:20:30.123Z', '2024-05-01T10:21:00Z', '{*}', '{u1}', 'first', 3,
  true, '2024-06-01T00:00:00Z', '{"k": {"__type": "Date", "iso": "2024-01-02T00:00:00.000Z"}}', '["a", "b"]',
  POINT(-30, 40), '((0,0),(1,0),(1,1),(0,0))', 'u1');
INSERT INTO "Visit" ("objectId", "createdAt", "updatedAt", "note", "score") VALUES
  ('v2', '2024-05-02T00:00:00Z', '2024-05-02T00:00:00Z', 'second', 7.5);
INSERT INTO "_Join:staff:Visit" VALUES ('u7', 'v1');
"""


@pytest.fixture
async def parse_db(pg_uri: str) -> AsyncIterator[tuple[PostgresAdapter, asyncpg.Connection]]:
    conn = await asyncpg.connect(pg_uri)
    await conn.execute(PARSE_DDL)
    adapter = PostgresAdapter(pg_uri)
    await adapter.open()
    yield adapter, conn
    await adapter.aclose()
    await conn.close()


def where(data: dict[str, Any]) -> Any:
    return parse_where(data, master=True)


async def test_postgres_uris_pick_this_adapter(pg_uri: str) -> None:
    assert isinstance(open_adapter(pg_uri.replace("postgresql://", "postgres://")), PostgresAdapter)
    with pytest.raises(ValueError):
        PostgresAdapter(pg_uri + "&max_pool_size=0")


async def test_a_database_parse_server_wrote_is_served(parse_db: tuple[PostgresAdapter, Any]) -> None:
    adapter, _ = parse_db
    [cls] = [c for c in await adapter.load_schemas() if c.name == "Visit"]
    assert cls.fields["patient"] == FieldDef(FieldType.POINTER, "_User")
    assert "_rperm" not in cls.fields and "ACL" in cls.fields
    [v1] = await adapter.find(cls, where({"objectId": "v1"}), ALL)
    assert v1.acl == ACL(frozenset({"*"}), frozenset({"u1"}))
    assert v1.created_at == T0
    assert v1.fields["note"] == "first" and v1.fields["score"] == 3 and v1.fields["done"] is True
    assert v1.fields["at"] == datetime(2024, 6, 1, tzinfo=UTC)
    assert v1.fields["meta"] == {"k": datetime(2024, 1, 2, tzinfo=UTC)}
    assert v1.fields["tags"] == ["a", "b"]
    assert v1.fields["where"] == GeoPoint(40.0, -30.0)
    assert v1.fields["area"] == Polygon(((0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.0, 0.0)))
    assert v1.fields["patient"] == Pointer("_User", "u1")
    assert await adapter.related_ids(cls, "staff", ["v1"]) == ["u7"]
    # Queries over Parse's columns: SQL where it can, the matcher where it cannot (geo, dotted keys).
    assert [o.object_id for o in await adapter.find(cls, where({"patient": Pointer("_User", "u1")}), ALL)] == ["v1"]
    assert [o.object_id for o in await adapter.find(cls, where({"tags": "b"}), ALL)] == ["v1"]
    near = {"where": {"$nearSphere": {"__type": "GeoPoint", "latitude": 40, "longitude": -30}}}
    assert [o.object_id for o in await adapter.find(cls, where(near), ALL)] == ["v1"]
    assert await adapter.count(cls, where({"note": {"$regex": "^sec"}})) == 1
    desc = FindOptions(limit=1, order=(SortKey(("score",), descending=True),))
    assert [o.object_id for o in await adapter.find(cls, MATCH_ALL, desc)] == ["v2"]


async def test_what_the_engine_writes_is_in_parse_layout(parse_db: tuple[PostgresAdapter, Any]) -> None:
    adapter, conn = parse_db
    [cls] = [c for c in await adapter.load_schemas() if c.name == "Visit"]
    obj = StoredObject("Visit", "v3", T0, T0, ACL(frozenset({"role:Staff"}), frozenset()), fields={
        "note": "third", "score": 2, "where": GeoPoint(1.5, 2.5), "patient": Pointer("_User", "u2"),
        "tags": ["x", 1], "at": T0})
    await adapter.create(cls, obj)
    row = await conn.fetchrow('SELECT * FROM "Visit" WHERE "objectId" = $1', "v3")
    assert row["_rperm"] == ["role:Staff"] and row["_wperm"] == []
    assert row["patient"] == "u2" and row["score"] == 2.0
    assert (row["where"].x, row["where"].y) == (2.5, 1.5)
    assert json.loads(row["tags"]) == ["x", 1]
    assert row["at"] == T0
    users = new_class("_User")
    await adapter.save_schema(users)
    doc = json.loads(await conn.fetchval('SELECT "schema" FROM "_SCHEMA" WHERE "className" = \'_User\''))
    assert doc["className"] == "_User" and doc["fields"]["_rperm"]["contents"] == {"type": "String"}
    assert "password" not in doc["fields"] and doc["fields"]["_hashed_password"] == {"type": "String"}
    types = dict(await conn.fetch(
        "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = '_User'"))
    assert types["username"] == "text" and types["_rperm"] == "_text" and types["createdAt"] == "timestamptz"
    assert types["emailVerified"] == "bool" and types["authData"] == "jsonb"


async def test_sign_up_races_are_stopped_by_the_database(pg_uri: str) -> None:
    users = new_class("_User")
    first, second = PostgresAdapter(pg_uri), PostgresAdapter(pg_uri)  # two processes' worth of pools
    for adapter in (first, second):
        await adapter.open()
    try:
        await first.save_schema(users)
        await first.create(users, StoredObject("_User", "a1", T0, T0, fields={"username": "kim"}))
        with pytest.raises(ParseError) as err:
            await second.create(users, StoredObject("_User", "a2", T0, T0, fields={"username": "kim"}))
        assert err.value.code == ErrorCode.DUPLICATE_VALUE
        assert await first.count(users, MATCH_ALL) == 1
    finally:
        for adapter in (first, second):
            await adapter.aclose()


async def test_a_column_added_by_a_refused_create_is_not_remembered(pg_uri: str) -> None:
    """The create's ALTER TABLE rolls back with its refused INSERT; the next create must add the column again
    instead of trusting a cached column list (it answered 1 with "column does not exist" before)."""
    tags = new_class("Tag", {"code": FieldDef(FieldType.STRING)}).with_indexes({"code_1": {"code": 1, "unique": True}})
    grown = tags.with_fields({**tags.fields, "extra": FieldDef(FieldType.NUMBER)})
    db = PostgresAdapter(pg_uri)
    await db.open()
    try:
        await db.save_schema(tags)
        await db.create(tags, StoredObject("Tag", "t1", T0, T0, fields={"code": "a"}))
        with pytest.raises(ParseError) as refused:
            await db.create(grown, StoredObject("Tag", "t2", T0, T0, fields={"code": "a", "extra": 1}))
        assert refused.value.code == ErrorCode.DUPLICATE_VALUE
        await db.create(grown, StoredObject("Tag", "t3", T0, T0, fields={"code": "b", "extra": 2}))
        found = await db.find(grown, parse_where({"code": "b"}, master=True), ALL)
        assert [(o.object_id, o.fields.get("extra")) for o in found] == [("t3", 2)]
    finally:
        await db.drop_class(grown)
        await db.aclose()
