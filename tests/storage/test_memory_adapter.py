"""MemoryAdapter: update operations, atomicity, unique indexes, relations and find options."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.errors import ErrorCode, ParseError
from engine.query.options import FindOptions, SortKey
from engine.query.where import MATCH_ALL, parse_where
from engine.schema.model import ClassDef, FieldDef, FieldType, new_class
from engine.storage.base import (
    AddItems,
    Changes,
    FieldOp,
    Increment,
    RemoveItems,
    SetValue,
    StoredObject,
    Unset,
)
from engine.storage.memory import MemoryAdapter
from engine.wire import ACL, GeoPoint, Pointer

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
THING = new_class("Thing")
USER = new_class("_User")
ALL = FindOptions(limit=None)


def obj(oid: str, cls: str = "Thing", **fields: Any) -> StoredObject:
    return StoredObject(cls, oid, T0, T0).with_fields(fields)


def where(data: dict[str, Any]) -> Any:
    return parse_where(data, master=True)


def ops(*pairs: tuple[str, FieldOp]) -> Changes:
    return Changes(T1, tuple((tuple(path.split(".")), op) for path, op in pairs))


@pytest.fixture
async def db() -> MemoryAdapter:
    adapter = MemoryAdapter()
    await adapter.open()
    return adapter


async def update_one(db: MemoryAdapter, oid: str, *pairs: tuple[str, FieldOp]) -> StoredObject:
    result = await db.update(THING, where({"objectId": oid}), ops(*pairs))
    assert result is not None
    return result


# ---- objects ----

async def test_create_find_and_copies_are_detached(db: MemoryAdapter) -> None:
    source = {"tags": ["a"], "meta": {"n": 1}}
    await db.create(THING, obj("o1", **source))
    source["tags"].append("leak")
    [found] = await db.find(THING, MATCH_ALL, ALL)
    assert found.fields["tags"] == ["a"]
    found.fields["tags"].append("leak")
    found.fields["meta"]["n"] = 99
    [again] = await db.find(THING, MATCH_ALL, ALL)
    assert again.fields == {"tags": ["a"], "meta": {"n": 1}}
    assert await db.find(new_class("Other"), MATCH_ALL, ALL) == []


async def test_duplicate_object_id_is_137(db: MemoryAdapter) -> None:
    await db.create(THING, obj("o1"))
    with pytest.raises(ParseError) as exc:
        await db.create(THING, obj("o1"))
    assert exc.value.code == ErrorCode.DUPLICATE_VALUE


async def test_find_skip_limit_order_and_count(db: MemoryAdapter) -> None:
    for i, n in enumerate([5, 3, 9, 1, 7]):
        await db.create(THING, obj(f"o{i}", n=n, even=n % 2 == 0))
    got = await db.find(THING, MATCH_ALL, FindOptions(limit=2, skip=1, order=(SortKey(("n",)),)))
    assert [o.fields["n"] for o in got] == [3, 5]
    got = await db.find(THING, MATCH_ALL, FindOptions(limit=None, order=(SortKey(("n",), descending=True),)))
    assert [o.fields["n"] for o in got] == [9, 7, 5, 3, 1]
    got = await db.find(THING, MATCH_ALL, FindOptions())
    assert [o.object_id for o in got] == ["o0", "o1", "o2", "o3", "o4"]  # insertion order
    assert await db.find(THING, MATCH_ALL, FindOptions(limit=0)) == []
    assert await db.find(THING, MATCH_ALL, FindOptions(skip=10)) == []
    got = await db.find(THING, where({"n": {"$gt": 4}}), FindOptions(limit=1))
    assert [o.object_id for o in got] == ["o0"]
    assert await db.count(THING, where({"n": {"$gt": 4}})) == 3
    assert await db.count(THING, MATCH_ALL) == 5


async def test_near_sorts_by_distance_without_order(db: MemoryAdapter) -> None:
    await db.create(THING, obj("far", loc=GeoPoint(10, 10)))
    await db.create(THING, obj("none"))
    await db.create(THING, obj("near", loc=GeoPoint(1, 1)))
    await db.create(THING, obj("mid", loc=GeoPoint(5, 5)))
    near = {"loc": {"$nearSphere": {"__type": "GeoPoint", "latitude": 0, "longitude": 0}}}
    got = await db.find(THING, where(near), ALL)
    assert [o.object_id for o in got] == ["near", "mid", "far"]
    got = await db.find(THING, where(near), FindOptions(order=(SortKey(("loc",), descending=True),)))
    assert [o.object_id for o in got] == ["far", "mid", "near"]


async def test_delete_returns_count(db: MemoryAdapter) -> None:
    for i in range(4):
        await db.create(THING, obj(f"o{i}", n=i))
    assert await db.delete(THING, where({"n": {"$gte": 2}})) == 2
    assert await db.delete(THING, where({"n": 99})) == 0
    assert [o.object_id for o in await db.find(THING, MATCH_ALL, ALL)] == ["o0", "o1"]


# ---- update ----

async def test_update_set_unset_nested(db: MemoryAdapter) -> None:
    await db.create(THING, obj("o1", a=1, meta={"x": 1}))
    got = await update_one(db, "o1", ("a", SetValue(2)), ("meta.y", SetValue([1])), ("deep.er.path", SetValue("v")))
    assert got.fields == {"a": 2, "meta": {"x": 1, "y": [1]}, "deep": {"er": {"path": "v"}}}
    assert got.updated_at == T1 and got.created_at == T0
    got = await update_one(db, "o1", ("meta.x", Unset()), ("a", Unset()), ("nope.x", Unset()))
    assert got.fields == {"meta": {"y": [1]}, "deep": {"er": {"path": "v"}}}
    with pytest.raises(ParseError) as exc:
        await update_one(db, "o1", ("meta.y.z", SetValue(1)))
    assert exc.value.code == ErrorCode.INCORRECT_TYPE


async def test_update_increment(db: MemoryAdapter) -> None:
    await db.create(THING, obj("o1", n=1, s="x", meta={}))
    got = await update_one(db, "o1", ("n", Increment(2)), ("fresh", Increment(5)), ("meta.c", Increment(1.5)))
    assert got.fields["n"] == 3 and got.fields["fresh"] == 5 and got.fields["meta"] == {"c": 1.5}
    got = await update_one(db, "o1", ("n", Increment(-4)))
    assert got.fields["n"] == -1
    with pytest.raises(ParseError) as exc:
        await update_one(db, "o1", ("s", Increment(1)))
    assert exc.value.code == ErrorCode.INCORRECT_TYPE
    assert exc.value.message == "Cannot increment a non-number"
    [stored] = await db.find(THING, MATCH_ALL, ALL)
    assert stored.fields["n"] == -1  # a failed update changes nothing


async def test_update_add_and_remove(db: MemoryAdapter) -> None:
    p1, p2 = Pointer("_User", "u1"), Pointer("_User", "u2")
    await db.create(THING, obj("o1", tags=["a", "b"], users=[p1], s="x"))
    got = await update_one(db, "o1", ("tags", AddItems(("b", "c"))), ("fresh", AddItems((1, 1))))
    assert got.fields["tags"] == ["a", "b", "b", "c"] and got.fields["fresh"] == [1, 1]
    got = await update_one(db, "o1", ("tags", AddItems(("a", "d", "d"), unique=True)))
    assert got.fields["tags"] == ["a", "b", "b", "c", "d"]
    got = await update_one(db, "o1", ("users", AddItems((Pointer("_User", "u1"), p2), unique=True)))
    assert got.fields["users"] == [p1, p2]
    got = await update_one(db, "o1", ("tags", RemoveItems(("b", "zz"))), ("users", RemoveItems((p1,))))
    assert got.fields["tags"] == ["a", "c", "d"] and got.fields["users"] == [p2]
    got = await update_one(db, "o1", ("absent", RemoveItems(("x",))))
    assert "absent" not in got.fields
    got = await update_one(db, "o1", ("nums", AddItems((1, 2.0))), ("nums", RemoveItems((1.0,))))
    assert got.fields["nums"] == [2.0]
    for op in (AddItems(("y",)), AddItems(("y",), unique=True), RemoveItems(("x",))):
        with pytest.raises(ParseError) as exc:
            await update_one(db, "o1", ("s", op))
        assert exc.value.code == ErrorCode.INCORRECT_TYPE


async def test_update_acl_and_internal(db: MemoryAdapter) -> None:
    acl = ACL(frozenset({"*"}), frozenset({"u1"}))
    await db.create(THING, StoredObject("Thing", "o1", T0, T0, acl, internal={"_a": 1, "_b": 2}))
    got = await db.update(THING, MATCH_ALL, Changes(T1, internal={"_a": None, "_c": 3}))
    assert got is not None and got.acl == acl and dict(got.internal) == {"_b": 2, "_c": 3}
    other = ACL(frozenset({"u2"}), frozenset({"u2"}))
    got = await db.update(THING, MATCH_ALL, Changes(T1, acl=other))
    assert got is not None and got.acl == other
    got = await db.update(THING, MATCH_ALL, Changes(T1, clear_acl=True))
    assert got is not None and got.acl is None
    assert await db.count(THING, where({"_rperm": {"$exists": False}})) == 1


async def test_update_touches_only_the_first_match(db: MemoryAdapter) -> None:
    for i in range(3):
        await db.create(THING, obj(f"o{i}", n=0))
    got = await db.update(THING, where({"n": 0}), ops(("n", Increment(1))))
    assert got is not None and got.object_id == "o0"
    assert [o.fields["n"] for o in await db.find(THING, MATCH_ALL, ALL)] == [1, 0, 0]
    assert await db.update(THING, where({"n": 42}), ops(("n", Increment(1)))) is None


async def test_concurrent_increments_are_atomic(db: MemoryAdapter) -> None:
    await db.create(THING, obj("o1"))
    await asyncio.gather(*(update_one(db, "o1", ("n", Increment(1))) for _ in range(50)))
    [stored] = await db.find(THING, MATCH_ALL, ALL)
    assert stored.fields["n"] == 50


# ---- unique indexes ----

async def test_builtin_unique_fields(db: MemoryAdapter) -> None:
    await db.create(USER, obj("u1", "_User", username="ann", email="ann@x.io"))
    await db.create(USER, obj("u2", "_User", username="bob"))
    await db.create(USER, obj("u3", "_User", username="cat"))  # two users without email are fine
    for dup in (obj("u4", "_User", username="ann"), obj("u4", "_User", username="dan", email="ann@x.io")):
        with pytest.raises(ParseError) as exc:
            await db.create(USER, dup)
        assert exc.value.code == ErrorCode.DUPLICATE_VALUE
        assert exc.value.message == "A duplicate value for a field with unique values was provided"
    with pytest.raises(ParseError) as exc:
        await db.update(USER, where({"objectId": "u2"}), ops(("username", SetValue("ann"))))
    assert exc.value.code == ErrorCode.DUPLICATE_VALUE
    # Re-saving one's own value is no conflict.
    assert await db.update(USER, where({"objectId": "u1"}), ops(("username", SetValue("ann")))) is not None
    [bob] = await db.find(USER, where({"objectId": "u2"}), ALL)
    assert bob.fields["username"] == "bob"

    role = new_class("_Role")
    await db.create(role, obj("r1", "_Role", name="admin"))
    with pytest.raises(ParseError):
        await db.create(role, obj("r2", "_Role", name="admin"))


async def test_schema_unique_indexes(db: MemoryAdapter) -> None:
    cls = new_class("Thing", {"code": FieldDef(FieldType.STRING)}).with_indexes(
        {"_id_": {"_id": 1}, "code_1": {"code": 1, "unique": True}, "pair": {"a": 1, "b": 1, "unique": True}}
    )
    await db.create(cls, obj("o1", code="X", a=1, b=1))
    await db.create(cls, obj("o2", code="Y", a=1, b=2))
    await db.create(cls, obj("o3"))
    await db.create(cls, obj("o4"))
    for dup in (obj("o5", code="X"), obj("o5", a=1, b=2)):
        with pytest.raises(ParseError) as exc:
            await db.create(cls, dup)
        assert exc.value.code == ErrorCode.DUPLICATE_VALUE
    with pytest.raises(ParseError) as exc:
        await db.update(cls, where({"objectId": "o2"}), ops(("b", SetValue(1))))
    assert exc.value.code == ErrorCode.DUPLICATE_VALUE
    # Without the schema's index the same values are accepted.
    await db.create(THING, obj("o5", code="X"))


# ---- relations and schemas ----

async def test_relations(db: MemoryAdapter) -> None:
    await db.add_relation(THING, "likes", "o1", ["u1", "u2"])
    await db.add_relation(THING, "likes", "o2", ["u2", "u3"])
    await db.add_relation(THING, "likes", "o1", ["u1"])  # idempotent
    await db.add_relation(THING, "other", "o1", ["z"])
    assert await db.related_ids(THING, "likes", ["o1"]) == ["u1", "u2"]
    assert await db.related_ids(THING, "likes", ["o1", "o2"]) == ["u1", "u2", "u3"]
    assert await db.owning_ids(THING, "likes", ["u2"]) == ["o1", "o2"]
    assert await db.owning_ids(THING, "likes", ["u3", "z"]) == ["o2"]
    await db.remove_relation(THING, "likes", "o1", ["u2", "nope"])
    await db.remove_relation(THING, "missing", "o1", ["u2"])
    assert await db.related_ids(THING, "likes", ["o1"]) == ["u1"]
    assert await db.owning_ids(THING, "likes", ["u2"]) == ["o2"]
    assert await db.related_ids(new_class("Other"), "likes", ["o1"]) == []


async def test_schemas_and_drop_class(db: MemoryAdapter) -> None:
    other = new_class("Other")
    await db.save_schema(THING)
    await db.save_schema(other)
    updated = THING.with_fields({**THING.fields, "n": FieldDef(FieldType.NUMBER)})
    await db.save_schema(updated)
    schemas = {c.name: c for c in await db.load_schemas()}
    assert set(schemas) == {"Thing", "Other"}
    assert isinstance(schemas["Thing"], ClassDef) and "n" in schemas["Thing"].fields

    await db.create(THING, obj("o1"))
    await db.create(other, obj("x1", "Other"))
    await db.add_relation(THING, "likes", "o1", ["u1"])
    await db.add_relation(other, "likes", "x1", ["u1"])
    await db.drop_class(THING)
    assert [c.name for c in await db.load_schemas()] == ["Other"]
    assert await db.count(THING, MATCH_ALL) == 0
    assert await db.related_ids(THING, "likes", ["o1"]) == []
    assert await db.related_ids(other, "likes", ["x1"]) == ["u1"]
    assert await db.count(other, MATCH_ALL) == 1
    await db.aclose()
