"""MongoAdapter on mongomock-motor: Parse Server's exact document layout, read and written, plus filter translation."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from bson import ObjectId
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import BulkWriteError, OperationFailure

from engine.errors import ErrorCode, ParseError
from engine.query.options import FindOptions, SortKey
from engine.query.where import (
    MATCH_ALL,
    InQuery,
    MatchNone,
    RelatedTo,
    Select,
    Text,
    parse_where,
)
from engine.schema.model import ClassDef, FieldDef, FieldType, new_class, public_clp
from engine.storage.base import (
    AddItems,
    Changes,
    Increment,
    RemoveItems,
    SetValue,
    StoredObject,
    Unset,
)
from engine.storage.mongo import MongoAdapter, _failed_documents, database_name
from engine.storage.mongo_query import sort_spec, translate_where, update_document
from engine.wire import ACL, Bytes, File, GeoPoint, Pointer, Polygon

T0 = datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
RAW_T0 = T0.replace(tzinfo=None)  # what BSON stores and mongomock hands back
RAW_T1 = T1.replace(tzinfo=None)
ALL = FindOptions(limit=None)
DB = "app"

GAME = new_class(
    "Game",
    {
        "name": FieldDef(FieldType.STRING),
        "score": FieldDef(FieldType.NUMBER),
        "ok": FieldDef(FieldType.BOOLEAN),
        "when": FieldDef(FieldType.DATE),
        "meta": FieldDef(FieldType.OBJECT),
        "tags": FieldDef(FieldType.ARRAY),
        "loc": FieldDef(FieldType.GEOPOINT),
        "photo": FieldDef(FieldType.FILE),
        "raw": FieldDef(FieldType.BYTES),
        "area": FieldDef(FieldType.POLYGON),
        "player": FieldDef(FieldType.POINTER, "_User"),
        "likes": FieldDef(FieldType.RELATION, "_User"),
        "code": FieldDef(FieldType.STRING),
    },
)
USER = new_class("_User")
SESSION = new_class("_Session")
ROLE = new_class("_Role")


def where(data: dict[str, Any]) -> Any:
    return parse_where(data, master=True)


def ptr(object_id: str, class_name: str = "_User") -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


@pytest.fixture
def client() -> AsyncMongoMockClient:
    return AsyncMongoMockClient()


@pytest.fixture
async def adapter(client: AsyncMongoMockClient) -> MongoAdapter:
    store = MongoAdapter(f"mongodb://localhost:27017/{DB}?retryWrites=true", client=client)
    await store.open()
    yield store
    await store.aclose()


@pytest.fixture
def db(client: AsyncMongoMockClient) -> Any:
    return client[DB]


# ---- construction ----

@pytest.mark.parametrize(
    ("uri", "name"),
    [
        ("mongodb://localhost:27017/app", "app"),
        ("mongodb://user:pw@h1:27017,h2:27017/prod?replicaSet=rs0", "prod"),
        ("mongodb+srv://cluster.example.net/my%20db", "my db"),
        ("mongodb://localhost:27017", "parse"),
        ("mongodb://localhost:27017/", "parse"),
        ("mongodb://localhost/?ssl=true", "parse"),
    ],
)
def test_database_name_comes_from_the_uri_path(uri: str, name: str) -> None:
    assert database_name(uri) == name


async def test_collection_prefix_is_prepended_everywhere(client: AsyncMongoMockClient) -> None:
    store = MongoAdapter("mongodb://localhost/app", client=client, collection_prefix="px_")
    await store.save_schema(GAME)
    await store.create(GAME, StoredObject("Game", "g1", T0, T0))
    await store.add_relation(GAME, "likes", "g1", ["u1"])
    names = set(await client["app"].list_collection_names())
    assert {"px__SCHEMA", "px_Game", "px__Join:likes:Game"} <= names
    assert [c.name for c in await store.load_schemas()] == ["Game"]
    await store.drop_class(GAME)
    assert not {n for n in await client["app"].list_collection_names() if n.startswith("px_")}


# ---- writes: the exact layout ----

def full_object() -> StoredObject:
    return StoredObject(
        "Game",
        "g1",
        T0,
        T1,
        ACL(frozenset({"*", "u1", "role:Admins"}), frozenset({"u1"})),
        MappingProxyType({
            "name": "Alice",
            "score": 1337,
            "ok": True,
            "when": T0,
            "meta": {
                "color": "red",
                "when": T0,
                "owner": Pointer("_User", "u1"),
                "spot": GeoPoint(1.5, 2.5),
                "doc": File("a.txt", "http://files/a.txt"),
            },
            "tags": ["a", Pointer("_User", "u2"), T0],
            "loc": GeoPoint(40.0, -30.0),
            "photo": File("d41_photo.png", "http://files/d41_photo.png"),
            "raw": Bytes(b"\x00\x01\x02"),
            "area": Polygon(((0.0, 0.0), (0.0, 1.0), (1.0, 1.0))),
            "player": Pointer("_User", "Xy12AbCdEf"),
        }),
        MappingProxyType({"_secret": "s", "_when": T1}),
    )


EXPECTED_RAW = {
    "_id": "g1",
    "_created_at": RAW_T0,
    "_updated_at": RAW_T1,
    "name": "Alice",
    "score": 1337,
    "ok": True,
    "when": RAW_T0,
    "meta": {
        "color": "red",
        "when": RAW_T0,
        "owner": ptr("u1"),
        "spot": {"__type": "GeoPoint", "latitude": 1.5, "longitude": 2.5},
        "doc": {"__type": "File", "name": "a.txt", "url": "http://files/a.txt"},
    },
    "tags": ["a", ptr("u2"), RAW_T0],
    "loc": [-30.0, 40.0],
    "photo": "d41_photo.png",
    "raw": b"\x00\x01\x02",
    "area": {"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]},
    "_p_player": "_User$Xy12AbCdEf",
    "_rperm": ["*", "role:Admins", "u1"],
    "_wperm": ["u1"],
    "_acl": {"*": {"r": True}, "role:Admins": {"r": True}, "u1": {"r": True, "w": True}},
    "_secret": "s",
    "_when": RAW_T1,
}


async def test_create_writes_parse_server_layout(adapter: MongoAdapter, db: Any) -> None:
    await adapter.create(GAME, full_object())
    raw = await db["Game"].find_one({"_id": "g1"})
    assert raw == EXPECTED_RAW
    assert "player" not in raw and "likes" not in raw
    assert list(raw["meta"]["owner"]) == ["__type", "className", "objectId"]
    assert list(raw["tags"][1]) == ["__type", "className", "objectId"]


async def test_every_type_round_trips(adapter: MongoAdapter) -> None:
    original = full_object()
    await adapter.create(GAME, original)
    [back] = await adapter.find(GAME, where({"objectId": "g1"}), ALL)
    assert back.object_id == "g1" and back.class_name == "Game"
    assert back.created_at == T0 and back.updated_at == T1
    assert back.created_at.tzinfo is not None
    assert back.acl == original.acl
    assert dict(back.internal) == {"_secret": "s", "_when": T1}
    expected = dict(original.fields)
    # Parse stores a top-level File as its bare name and closes a polygon's ring.
    expected["photo"] = File("d41_photo.png")
    expected["area"] = Polygon(((0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.0, 0.0)))
    assert dict(back.fields) == expected


async def test_object_without_acl_has_no_permission_keys(adapter: MongoAdapter, db: Any) -> None:
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0, fields=MappingProxyType({"score": 1})))
    raw = await db["Game"].find_one({"_id": "g1"})
    assert raw == {"_id": "g1", "_created_at": RAW_T0, "_updated_at": RAW_T0, "score": 1}
    [back] = await adapter.find(GAME, MATCH_ALL, ALL)
    assert back.acl is None


async def test_empty_acl_is_kept_apart_from_no_acl(adapter: MongoAdapter, db: Any) -> None:
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0, ACL()))
    raw = await db["Game"].find_one({"_id": "g1"})
    assert (raw["_rperm"], raw["_wperm"], raw["_acl"]) == ([], [], {})
    [back] = await adapter.find(GAME, MATCH_ALL, ALL)
    assert back.acl == ACL()


async def test_dates_keep_millisecond_precision(adapter: MongoAdapter) -> None:
    fine = T0 + timedelta(microseconds=456)
    await adapter.create(GAME, StoredObject("Game", "g1", fine, fine, fields=MappingProxyType({"when": fine})))
    [back] = await adapter.find(GAME, MATCH_ALL, ALL)
    assert back.created_at == T0 and back.fields["when"] == T0


async def test_null_pointer_is_stored_under_the_pointer_key(adapter: MongoAdapter, db: Any) -> None:
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0, fields=MappingProxyType({"player": None})))
    raw = await db["Game"].find_one({"_id": "g1"})
    assert raw["_p_player"] is None and "player" not in raw
    [back] = await adapter.find(GAME, where({"player": None}), ALL)
    assert back.fields == {"player": None}


async def test_pointer_outside_the_schema_is_still_a_pointer_column(adapter: MongoAdapter, db: Any) -> None:
    fields = MappingProxyType({"team": Pointer("Team", "t1")})
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0, fields=fields))
    raw = await db["Game"].find_one({"_id": "g1"})
    assert raw["_p_team"] == "Team$t1"
    [back] = await adapter.find(GAME, where({"team": ptr("t1", "Team")}), ALL)
    assert back.fields["team"] == Pointer("Team", "t1")


async def test_global_config_keeps_its_integer_id(adapter: MongoAdapter, db: Any) -> None:
    config = new_class("_GlobalConfig", {"params": FieldDef(FieldType.OBJECT)})
    fields = MappingProxyType({"params": {"a": 1}})
    await adapter.create(config, StoredObject("_GlobalConfig", "1", T0, T0, fields=fields))
    assert (await db["_GlobalConfig"].find_one({}))["_id"] == 1
    [back] = await adapter.find(config, where({"objectId": "1"}), ALL)
    assert back.object_id == "1" and back.fields["params"] == {"a": 1}


# ---- reads: documents Parse Server wrote ----

PARSE_USER = {
    "_id": "Xy12AbCdEf",
    "_created_at": RAW_T0,
    "_updated_at": RAW_T1,
    "username": "alice",
    "email": "alice@example.com",
    "emailVerified": False,
    "_hashed_password": "$2b$10$abcdefghijklmnopqrstuv",
    "_auth_data_facebook": {"id": "123", "access_token": "tok"},
    "_email_verify_token": "evt",
    "_email_verify_token_expires_at": RAW_T1,
    "_perishable_token": "reset",
    "_failed_login_count": 2,
    "_password_history": ["$2b$10$old"],
    "_p_team": "Team$T1",  # a pointer column the schema does not list
    "_rperm": ["*", "Xy12AbCdEf"],
    "_wperm": ["Xy12AbCdEf"],
    "_acl": {"*": {"r": True}, "Xy12AbCdEf": {"r": True, "w": True}},
    "_metadata": {"junk": True},
}


async def test_reads_a_parse_server_user_document(adapter: MongoAdapter, db: Any) -> None:
    await db["_User"].insert_one(dict(PARSE_USER))
    [user] = await adapter.find(USER, where({"username": "alice"}), ALL)
    assert user.object_id == "Xy12AbCdEf"
    assert (user.created_at, user.updated_at) == (T0, T1)
    assert dict(user.fields) == {
        "username": "alice",
        "email": "alice@example.com",
        "emailVerified": False,
        "team": Pointer("Team", "T1"),
    }
    assert dict(user.internal) == {
        "_hashed_password": "$2b$10$abcdefghijklmnopqrstuv",
        "_auth_data_facebook": {"id": "123", "access_token": "tok"},
        "_email_verify_token": "evt",
        "_email_verify_token_expires_at": T1,
        "_perishable_token": "reset",
        "_failed_login_count": 2,
        "_password_history": ["$2b$10$old"],
    }
    assert user.acl == ACL(frozenset({"*", "Xy12AbCdEf"}), frozenset({"Xy12AbCdEf"}))


async def test_internal_columns_are_queryable_by_their_stored_names(adapter: MongoAdapter, db: Any) -> None:
    await db["_User"].insert_one(dict(PARSE_USER))
    assert len(await adapter.find(USER, where({"_email_verify_token": "evt"}), ALL)) == 1
    assert len(await adapter.find(USER, where({"_auth_data_facebook.id": "123"}), ALL)) == 1
    assert await adapter.count(USER, where({"_perishable_token": "other"})) == 0


async def test_legacy_acl_map_alone_gives_the_acl(adapter: MongoAdapter, db: Any) -> None:
    await db["Game"].insert_one({
        "_id": "old", "_created_at": RAW_T0, "_updated_at": RAW_T0,
        "_acl": {"*": {"r": True}, "u1": {"r": True, "w": True}, "u2": {"w": True}},
    })
    [obj] = await adapter.find(GAME, MATCH_ALL, ALL)
    assert obj.acl == ACL(frozenset({"*", "u1"}), frozenset({"u1", "u2"}))


async def test_reads_a_parse_server_session(adapter: MongoAdapter, db: Any) -> None:
    await db["_Session"].insert_one({
        "_id": "s1",
        "_session_token": "r:abc",
        "_p_user": "_User$Xy12AbCdEf",
        "expiresAt": RAW_T1,
        "installationId": "inst",
        "createdWith": {"action": "login", "authProvider": "password"},
        "restricted": False,
        "_created_at": RAW_T0,
        "_updated_at": RAW_T0,
        "_rperm": ["Xy12AbCdEf"],
        "_wperm": ["Xy12AbCdEf"],
    })
    [session] = await adapter.find(SESSION, where({"sessionToken": "r:abc"}), ALL)
    assert dict(session.fields) == {
        "sessionToken": "r:abc",
        "user": Pointer("_User", "Xy12AbCdEf"),
        "expiresAt": T1,
        "installationId": "inst",
        "createdWith": {"action": "login", "authProvider": "password"},
        "restricted": False,
    }
    assert session.internal == {}
    assert session.acl == ACL(frozenset({"Xy12AbCdEf"}), frozenset({"Xy12AbCdEf"}))


async def test_session_token_is_written_with_parse_underscore(adapter: MongoAdapter, db: Any) -> None:
    fields = {"sessionToken": "r:new", "user": Pointer("_User", "u1"), "expiresAt": T1}
    await adapter.create(SESSION, StoredObject("_Session", "s2", T0, T0, fields=MappingProxyType(fields)))
    raw = await db["_Session"].find_one({"_id": "s2"})
    assert raw == {
        "_id": "s2", "_created_at": RAW_T0, "_updated_at": RAW_T0,
        "_session_token": "r:new", "_p_user": "_User$u1", "expiresAt": RAW_T1,
    }


async def test_user_legacy_session_token_stays_internal(adapter: MongoAdapter, db: Any) -> None:
    await db["_User"].insert_one({"_id": "u1", "_created_at": RAW_T0, "_updated_at": RAW_T0, "_session_token": "r:x"})
    [user] = await adapter.find(USER, MATCH_ALL, ALL)
    assert user.fields == {} and user.internal == {"_session_token": "r:x"}


async def test_unknown_keys_decode_as_plain_values(adapter: MongoAdapter, db: Any) -> None:
    await db["Game"].insert_one({
        "_id": "g1", "_created_at": RAW_T0, "_updated_at": RAW_T0,
        "extra": {"at": RAW_T0, "who": ptr("u1"), "bin": b"\x01", "list": [1, "x", None]},
        "legacyDate": {"__type": "Date", "iso": RAW_T1},
        "oid": ObjectId("65f000000000000000000000"),
        "_p_broken": 17,
    })
    [obj] = await adapter.find(GAME, MATCH_ALL, ALL)
    assert dict(obj.fields) == {
        "extra": {"at": T0, "who": Pointer("_User", "u1"), "bin": Bytes(b"\x01"), "list": [1, "x", None]},
        "legacyDate": T1,
        "oid": "65f000000000000000000000",
    }


async def test_legacy_timestamp_keys_are_read(adapter: MongoAdapter, db: Any) -> None:
    await db["Game"].insert_one({"_id": "g1", "createdAt": RAW_T0, "updatedAt": RAW_T1, "ACL": {"x": 1}})
    [obj] = await adapter.find(GAME, MATCH_ALL, ALL)
    assert (obj.created_at, obj.updated_at, obj.fields) == (T0, T1, {})


async def test_objects_without_timestamps_still_decode(adapter: MongoAdapter, db: Any) -> None:
    oid = ObjectId.from_datetime(T0)
    await db["Game"].insert_one({"_id": oid, "name": "imported"})
    [obj] = await adapter.find(GAME, MATCH_ALL, ALL)
    assert obj.object_id == str(oid)
    assert obj.created_at == T0.replace(microsecond=0) and obj.updated_at == obj.created_at


# ---- _SCHEMA ----

PARSE_GAME_SCHEMA = {
    "_id": "GameScore",
    "objectId": "string",
    "updatedAt": "date",
    "createdAt": "date",
    "score": "number",
    "name": "string",
    "ok": "boolean",
    "when": "date",
    "meta": "object",
    "legacy": "map",
    "tags": "array",
    "loc": "geopoint",
    "photo": "file",
    "raw": "bytes",
    "area": "polygon",
    "player": "*_User",
    "likes": "relation<_User>",
    "_metadata": {
        "class_permissions": {
            "find": {"*": True}, "get": {"*": True}, "count": {"*": True},
            "create": {"role:Admin": True}, "update": {"role:Admin": True}, "delete": {"role:Admin": True},
            "addField": {}, "protectedFields": {"*": ["secret"]},
        },
        "indexes": {"_id_": {"_id": 1}, "score_1": {"score": 1}},
        "fields_options": {
            "score": {"required": True, "defaultValue": 0},
            "when": {"defaultValue": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}},
            "player": {"required": False},
        },
    },
}

PARSE_USER_SCHEMA = {
    "_id": "_User",
    "objectId": "string",
    "updatedAt": "date",
    "createdAt": "date",
    "username": "string",
    "email": "string",
    "emailVerified": "boolean",
    "authData": "object",
    "_hashed_password": "string",
    "_rperm": "array",
    "_wperm": "array",
    "nickname": "string",
    "_metadata": {"class_permissions": {"find": {"*": True}}},
}


async def test_load_schemas_reads_parse_server_documents(adapter: MongoAdapter, db: Any) -> None:
    await db["_SCHEMA"].insert_many([
        dict(PARSE_GAME_SCHEMA),
        dict(PARSE_USER_SCHEMA),
        {"_id": "Bare", "objectId": "string", "updatedAt": "string", "createdAt": "string", "title": "string"},
    ])
    classes = {c.name: c for c in await adapter.load_schemas()}
    game = classes["GameScore"]
    assert dict(game.fields) == {
        "objectId": FieldDef(FieldType.STRING),
        "createdAt": FieldDef(FieldType.DATE),
        "updatedAt": FieldDef(FieldType.DATE),
        "ACL": FieldDef(FieldType.ACL),
        "score": FieldDef(FieldType.NUMBER, required=True, default=0),
        "name": FieldDef(FieldType.STRING),
        "ok": FieldDef(FieldType.BOOLEAN),
        "when": FieldDef(FieldType.DATE, default=datetime(2024, 1, 1, tzinfo=UTC)),
        "meta": FieldDef(FieldType.OBJECT),
        "legacy": FieldDef(FieldType.OBJECT),
        "tags": FieldDef(FieldType.ARRAY),
        "loc": FieldDef(FieldType.GEOPOINT),
        "photo": FieldDef(FieldType.FILE),
        "raw": FieldDef(FieldType.BYTES),
        "area": FieldDef(FieldType.POLYGON),
        "player": FieldDef(FieldType.POINTER, "_User"),
        "likes": FieldDef(FieldType.RELATION, "_User"),
    }
    assert game.clp == PARSE_GAME_SCHEMA["_metadata"]["class_permissions"]
    assert game.indexes == {"_id_": {"_id": 1}, "score_1": {"score": 1}}

    user = classes["_User"]
    assert set(user.fields) == {
        "objectId", "createdAt", "updatedAt", "ACL", "username", "password", "email", "emailVerified", "authData",
        "nickname",
    }
    assert user.clp == {"find": {"*": True}}

    bare = classes["Bare"]
    assert set(bare.fields) == {"objectId", "createdAt", "updatedAt", "ACL", "title"}
    assert bare.clp == public_clp()
    assert bare.indexes == {"_id_": {"_id": 1}}


def rich_class() -> ClassDef:
    fields = dict(GAME.fields)
    fields["score"] = FieldDef(FieldType.NUMBER, required=True, default=0)
    fields["when"] = FieldDef(FieldType.DATE, default=T0)
    fields["player"] = FieldDef(FieldType.POINTER, "_User", default=Pointer("_User", "u1"))
    clp = public_clp() | {"create": {"role:Admin": True}, "protectedFields": {"*": ["code"]}}
    indexes = {
        "_id_": {"_id": 1},
        "score_1": {"score": 1},
        "recent": {"createdAt": -1, "player": 1},
        "code_1": {"code": 1, "unique": True},
    }
    return GAME.with_fields(fields).with_clp(clp).with_indexes(indexes)


async def test_save_schema_writes_parse_server_document(adapter: MongoAdapter, db: Any) -> None:
    cls = rich_class()
    await adapter.save_schema(cls)
    raw = await db["_SCHEMA"].find_one({"_id": "Game"})
    assert raw == {
        "_id": "Game",
        "objectId": "string",
        "updatedAt": "date",
        "createdAt": "date",
        "name": "string",
        "score": "number",
        "ok": "boolean",
        "when": "date",
        "meta": "object",
        "tags": "array",
        "loc": "geopoint",
        "photo": "file",
        "raw": "bytes",
        "area": "polygon",
        "player": "*_User",
        "likes": "relation<_User>",
        "code": "string",
        "_metadata": {
            "class_permissions": dict(cls.clp),
            "indexes": dict(cls.indexes),
            "fields_options": {
                "score": {"required": True, "defaultValue": 0},
                "when": {"defaultValue": {"__type": "Date", "iso": "2024-05-01T10:20:30.123Z"}},
                "player": {"defaultValue": ptr("u1")},
            },
        },
    }
    [loaded] = await adapter.load_schemas()
    assert loaded == cls


async def test_save_schema_upserts(adapter: MongoAdapter, db: Any) -> None:
    await adapter.save_schema(GAME)
    smaller = GAME.with_fields({k: v for k, v in GAME.fields.items() if k != "code"})
    await adapter.save_schema(smaller)
    assert await db["_SCHEMA"].count_documents({}) == 1
    raw = await db["_SCHEMA"].find_one({"_id": "Game"})
    assert "code" not in raw
    [loaded] = await adapter.load_schemas()
    assert loaded == smaller


async def test_user_schema_keeps_password_implicit(adapter: MongoAdapter, db: Any) -> None:
    await adapter.save_schema(USER)
    raw = await db["_SCHEMA"].find_one({"_id": "_User"})
    assert "password" not in raw and "ACL" not in raw
    assert raw["username"] == "string" and raw["authData"] == "object"
    [loaded] = await adapter.load_schemas()
    assert loaded == USER


async def test_save_schema_creates_indexes_with_storage_names(adapter: MongoAdapter, db: Any) -> None:
    await adapter.save_schema(rich_class())
    info = await db["Game"].index_information()
    assert info["score_1"]["key"] == [("score", 1)]
    assert info["recent"]["key"] == [("_created_at", -1), ("_p_player", 1)]
    assert info["code_1"]["key"] == [("code", 1)]
    assert info["code_1"]["unique"] is True
    assert "unique" not in info["score_1"]
    assert info["area_2dsphere"]["key"] == [("area", "2dsphere")]


async def test_save_schema_creates_parse_builtin_unique_indexes(adapter: MongoAdapter, db: Any) -> None:
    await adapter.save_schema(USER)
    await adapter.save_schema(ROLE)
    await adapter.save_schema(new_class("_Idempotency", {"reqId": FieldDef(FieldType.STRING),
                                                         "expire": FieldDef(FieldType.DATE)}))
    users = await db["_User"].index_information()
    for name, field in (("username_1", "username"), ("email_1", "email")):
        assert users[name]["key"] == [(field, 1)]
        assert users[name]["unique"] is True and users[name]["sparse"] is True
    assert users["case_insensitive_username"]["key"] == [("username", 1)]
    assert users["case_insensitive_email"]["key"] == [("email", 1)]
    roles = await db["_Role"].index_information()
    assert roles["name_1"]["key"] == [("name", 1)] and roles["name_1"]["unique"] is True
    idempotency = await db["_Idempotency"].index_information()
    assert idempotency["reqId_1"]["unique"] is True
    assert idempotency["ttl"]["key"] == [("expire", 1)]


async def test_builtin_index_already_created_differently_is_kept(adapter: MongoAdapter, db: Any) -> None:
    await db["_User"].create_index([("email", 1)], name="email_1")
    await adapter.save_schema(USER)
    assert "unique" not in (await db["_User"].index_information())["email_1"]


async def test_users_without_username_or_email_do_not_collide(adapter: MongoAdapter) -> None:
    await adapter.save_schema(USER)
    await adapter.create(USER, StoredObject("_User", "u1", T0, T0))
    await adapter.create(USER, StoredObject("_User", "u2", T0, T0))
    assert await adapter.count(USER, MATCH_ALL) == 2


async def test_save_schema_drops_indexes_removed_from_the_schema(adapter: MongoAdapter, db: Any) -> None:
    cls = rich_class()
    await adapter.save_schema(cls)
    await adapter.save_schema(cls.with_indexes({k: v for k, v in cls.indexes.items() if k != "score_1"}))
    info = await db["Game"].index_information()
    assert "score_1" not in info and "recent" in info


async def test_unique_index_over_existing_duplicates_is_refused(adapter: MongoAdapter, db: Any) -> None:
    await db["Game"].insert_many([{"_id": "a", "code": "x"}, {"_id": "b", "code": "x"}])
    with pytest.raises(ParseError) as err:
        await adapter.save_schema(GAME.with_indexes({"code_1": {"code": 1, "unique": True}}))
    assert err.value.code == ErrorCode.DUPLICATE_VALUE
    assert await db["_SCHEMA"].count_documents({}) == 0


async def test_drop_class_removes_collection_schema_and_join_tables(adapter: MongoAdapter, db: Any) -> None:
    other = new_class("Other", {"likes": FieldDef(FieldType.RELATION, "_User")})
    await adapter.save_schema(GAME)
    await adapter.save_schema(other)
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0))
    await adapter.add_relation(GAME, "likes", "g1", ["u1"])
    await adapter.add_relation(other, "likes", "o1", ["u1"])
    await db["_Join:oldField:Game"].insert_one({"owningId": "g1", "relatedId": "x"})
    await adapter.drop_class(GAME)
    names = set(await db.list_collection_names())
    assert "Game" not in names and "_Join:likes:Game" not in names and "_Join:oldField:Game" not in names
    assert "_Join:likes:Other" in names
    assert [c.name for c in await adapter.load_schemas()] == ["Other"]


# ---- unique values ----

async def test_duplicate_objectid_is_137(adapter: MongoAdapter) -> None:
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0))
    with pytest.raises(ParseError) as err:
        await adapter.create(GAME, StoredObject("Game", "g1", T0, T0))
    assert (err.value.code, err.value.message) == (137, "A duplicate value for a field with unique values was provided")


async def test_duplicate_username_is_137(adapter: MongoAdapter) -> None:
    await adapter.save_schema(USER)
    await adapter.create(USER, StoredObject("_User", "u1", T0, T0, fields=MappingProxyType({"username": "a"})))
    with pytest.raises(ParseError) as err:
        await adapter.create(USER, StoredObject("_User", "u2", T0, T0, fields=MappingProxyType({"username": "a"})))
    assert err.value.code == ErrorCode.DUPLICATE_VALUE


async def test_update_into_a_duplicate_is_137(adapter: MongoAdapter) -> None:
    await adapter.save_schema(GAME.with_indexes({"code_1": {"code": 1, "unique": True}}))
    for oid, code in (("g1", "a"), ("g2", "b")):
        await adapter.create(GAME, StoredObject("Game", oid, T0, T0, fields=MappingProxyType({"code": code})))
    with pytest.raises(ParseError) as err:
        await adapter.update(GAME, where({"objectId": "g2"}), Changes(T1, ((("code",), SetValue("a")),)))
    assert err.value.code == ErrorCode.DUPLICATE_VALUE


# ---- updates ----

async def test_update_operations_write_parse_layout(adapter: MongoAdapter, db: Any) -> None:
    start = {"score": 1, "tags": ["a", "b", "a"], "meta": {"n": 1}, "name": "x", "player": Pointer("_User", "u1")}
    await adapter.create(
        GAME,
        StoredObject("Game", "g1", T0, T0, ACL(frozenset({"*"}), frozenset({"*"})), MappingProxyType(start),
                     MappingProxyType({"_token": "t"})),
    )
    changes = Changes(
        T1,
        (
            (("score",), Increment(2)),
            (("tags",), RemoveItems(("a",))),
            (("meta", "n"), Increment(5)),
            (("meta", "when"), SetValue(T0)),
            (("name",), Unset()),
            (("player",), SetValue(Pointer("_User", "u2"))),
            (("loc",), SetValue(GeoPoint(10.0, 20.0))),
            (("when",), SetValue(T1)),
        ),
        acl=ACL(frozenset({"u2"}), frozenset({"u2"})),
        internal=MappingProxyType({"_token": None, "_hashed_password": "h"}),
    )
    back = await adapter.update(GAME, where({"objectId": "g1"}), changes)
    raw = await db["Game"].find_one({"_id": "g1"})
    assert raw == {
        "_id": "g1",
        "_created_at": RAW_T0,
        "_updated_at": RAW_T1,
        "score": 3,
        "tags": ["b"],
        "meta": {"n": 6, "when": RAW_T0},
        "_p_player": "_User$u2",
        "loc": [20.0, 10.0],
        "when": RAW_T1,
        "_rperm": ["u2"],
        "_wperm": ["u2"],
        "_acl": {"u2": {"r": True, "w": True}},
        "_hashed_password": "h",
    }
    assert back is not None and back.updated_at == T1
    assert dict(back.fields) == {
        "score": 3, "tags": ["b"], "meta": {"n": 6, "when": T0}, "player": Pointer("_User", "u2"),
        "loc": GeoPoint(10.0, 20.0), "when": T1,
    }
    assert dict(back.internal) == {"_hashed_password": "h"}


async def test_add_items_push_and_add_to_set(adapter: MongoAdapter, db: Any) -> None:
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0, fields=MappingProxyType({"tags": ["a"]})))
    changes = Changes(T1, ((("tags",), AddItems(("a", Pointer("_User", "u1"))),),))
    await adapter.update(GAME, MATCH_ALL, changes)
    unique = Changes(T1, ((("tags",), AddItems(("a", Pointer("_User", "u1"), "z"), unique=True)),))
    back = await adapter.update(GAME, MATCH_ALL, unique)
    assert (await db["Game"].find_one({}))["tags"] == ["a", "a", ptr("u1"), "z"]
    assert back is not None and back.fields["tags"] == ["a", "a", Pointer("_User", "u1"), "z"]


async def test_clear_acl_removes_all_three_keys(adapter: MongoAdapter, db: Any) -> None:
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0, ACL(frozenset({"u1"}), frozenset({"u1"}))))
    back = await adapter.update(GAME, MATCH_ALL, Changes(T1, clear_acl=True))
    raw = await db["Game"].find_one({})
    assert not {"_rperm", "_wperm", "_acl"} & set(raw)
    assert back is not None and back.acl is None


async def test_update_without_a_match_returns_none(adapter: MongoAdapter) -> None:
    await adapter.create(GAME, StoredObject("Game", "g1", T0, T0, fields=MappingProxyType({"score": 1})))
    changes = Changes(T1, ((("score",), SetValue(2)),))
    assert await adapter.update(GAME, where({"objectId": "g1", "score": 5}), changes) is None
    assert await adapter.update(GAME, where({"objectId": "nope"}), changes) is None


def test_update_document_shape() -> None:
    changes = Changes(
        T1,
        (
            (("score",), Increment(-1)),
            (("tags",), AddItems((Pointer("_User", "u1"), T0))),
            (("list",), AddItems(("a",), unique=True)),
            (("old",), RemoveItems((1, 2))),
            (("player",), Unset()),
            (("ghost",), Unset()),
            (("meta", "a"), SetValue({"x": GeoPoint(1.0, 2.0)})),
            (("photo",), SetValue(File("f.png", "http://x/f.png"))),
            (("raw",), SetValue(Bytes(b"\x01"))),
            (("area",), SetValue(Polygon(((0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0))))),
        ),
        clear_acl=True,
    )
    assert update_document(GAME, changes) == {
        "$inc": {"score": -1},
        "$push": {"tags": {"$each": [ptr("u1"), RAW_T0]}},
        "$addToSet": {"list": {"$each": ["a"]}},
        "$pullAll": {"old": [1, 2]},
        "$unset": {"_p_player": "", "ghost": "", "_p_ghost": "", "_rperm": "", "_wperm": "", "_acl": ""},
        "$set": {
            "meta.a": {"x": {"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0}},
            "photo": "f.png",
            "raw": b"\x01",
            "area": {"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]]},
            "_updated_at": RAW_T1,
        },
    }


async def test_delete_returns_the_count(adapter: MongoAdapter) -> None:
    for i in range(3):
        await adapter.create(GAME, StoredObject("Game", f"g{i}", T0, T0, fields=MappingProxyType({"score": i})))
    assert await adapter.delete(GAME, where({"score": {"$gte": 1}})) == 2
    assert [o.object_id for o in await adapter.find(GAME, MATCH_ALL, ALL)] == ["g0"]
    assert await adapter.delete(GAME, where({"score": 99})) == 0


# ---- find options ----

async def test_order_skip_limit(adapter: MongoAdapter) -> None:
    for i, score in enumerate([5, 1, 4, 2, 3]):
        fields = MappingProxyType({"score": score, "player": Pointer("_User", f"u{score}")})
        await adapter.create(GAME, StoredObject("Game", f"g{i}", T0 + timedelta(seconds=i), T0, fields=fields))

    async def ids(**kw: Any) -> list[str]:
        return [o.object_id for o in await adapter.find(GAME, MATCH_ALL, FindOptions(**kw))]

    assert await ids(order=(SortKey(("score",)),), limit=None) == ["g1", "g3", "g4", "g2", "g0"]
    assert await ids(order=(SortKey(("score",), descending=True),), skip=1, limit=2) == ["g2", "g4"]
    assert await ids(order=(SortKey(("createdAt",), descending=True),), limit=2) == ["g4", "g3"]
    assert await ids(order=(SortKey(("player",)),), limit=1) == ["g1"]
    assert await ids(limit=0) == []
    assert len(await ids(limit=None)) == 5


def test_sort_spec_uses_storage_names() -> None:
    order = (
        SortKey(("createdAt",)), SortKey(("updatedAt",), True), SortKey(("objectId",)), SortKey(("player",), True),
        SortKey(("meta", "n")), SortKey(("$score",)),
    )
    assert sort_spec(GAME, order) == [
        ("_created_at", 1), ("_updated_at", -1), ("_id", 1), ("_p_player", -1), ("meta.n", 1),
        ("score", {"$meta": "textScore"}),
    ]


# ---- relations ----

async def test_relations_live_in_join_collections(adapter: MongoAdapter, db: Any) -> None:
    await adapter.add_relation(GAME, "likes", "g1", ["u1", "u2", "u1"])
    await adapter.add_relation(GAME, "likes", "g1", ["u2"])
    await adapter.add_relation(GAME, "likes", "g2", ["u2"])
    rows = await db["_Join:likes:Game"].find({}).to_list(None)
    assert sorted((r["owningId"], r["relatedId"]) for r in rows) == [("g1", "u1"), ("g1", "u2"), ("g2", "u2")]
    assert all(set(r) == {"_id", "owningId", "relatedId"} and isinstance(r["_id"], ObjectId) for r in rows)
    assert sorted(await adapter.related_ids(GAME, "likes", ["g1"])) == ["u1", "u2"]
    assert sorted(await adapter.related_ids(GAME, "likes", ["g1", "g2"])) == ["u1", "u2"]
    assert sorted(await adapter.owning_ids(GAME, "likes", ["u2"])) == ["g1", "g2"]
    await adapter.remove_relation(GAME, "likes", "g1", ["u2", "nope"])
    assert await adapter.related_ids(GAME, "likes", ["g1"]) == ["u1"]
    assert await adapter.related_ids(GAME, "likes", []) == []
    assert await adapter.owning_ids(GAME, "other", ["u1"]) == []


async def test_reads_join_rows_parse_server_wrote(adapter: MongoAdapter, db: Any) -> None:
    await db["_Join:users:_Role"].insert_many([
        {"_id": ObjectId(), "owningId": "r1", "relatedId": "u1"},
        {"_id": ObjectId(), "owningId": "r1", "relatedId": "u2"},
    ])
    assert sorted(await adapter.related_ids(ROLE, "users", ["r1"])) == ["u1", "u2"]
    assert await adapter.owning_ids(ROLE, "users", ["u2"]) == ["r1"]


# ---- filters (operators mongomock cannot run are checked as documents) ----

GEO = {"__type": "GeoPoint", "latitude": 40.0, "longitude": -30.0}
ISO_T0 = {"__type": "Date", "iso": "2024-05-01T10:20:30.123Z"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {}),
        ({"objectId": "a"}, {"_id": "a"}),
        ({"createdAt": {"$gte": ISO_T0}}, {"_created_at": {"$gte": RAW_T0}}),
        ({"updatedAt": {"$lt": ISO_T0}}, {"_updated_at": {"$lt": RAW_T0}}),
        ({"player": ptr("u1")}, {"_p_player": "_User$u1"}),
        ({"player": None}, {"_p_player": None}),
        ({"player": {"$ne": ptr("u1")}}, {"_p_player": {"$ne": "_User$u1"}}),
        ({"player": {"$in": [ptr("u1"), None]}}, {"_p_player": {"$in": ["_User$u1", None]}}),
        ({"player": {"$nin": [ptr("u1")]}}, {"_p_player": {"$nin": ["_User$u1"]}}),
        ({"player": {"$exists": True}}, {"_p_player": {"$exists": True}}),
        ({"tags": ptr("u1")}, {"tags": {"$eq": ptr("u1")}}),
        ({"tags": {"$in": [ptr("u1")]}}, {"tags": {"$in": [ptr("u1")]}}),
        ({"meta.color": "red"}, {"meta.color": "red"}),
        ({"meta": {"a": 1}}, {"meta": {"$eq": {"a": 1}}}),
        ({"when": ISO_T0}, {"when": RAW_T0}),
        ({"photo": {"__type": "File", "name": "f.png"}}, {"photo": "f.png"}),
        ({"loc": GEO}, {"loc": [-30.0, 40.0]}),
        ({"score": {"$gt": 1, "$lte": 5}}, {"score": {"$gt": 1, "$lte": 5}}),
        ({"score": {"$gt": 1, "$ne": 3}, "$and": [{"score": {"$gt": 2}}]},
         {"$and": [{"score": {"$gt": 1, "$ne": 3}}, {"score": {"$gt": 2}}]}),
        ({"score": 1, "$and": [{"score": {"$gt": 0}}]}, {"$and": [{"score": 1}, {"score": {"$gt": 0}}]}),
        ({"loc": {"$nearSphere": GEO, "$exists": True}}, {"loc": {"$nearSphere": [-30.0, 40.0], "$exists": True}}),
        ({"score": {"$gt": 1}, "name": "x"}, {"score": {"$gt": 1}, "name": "x"}),
        ({"tags": {"$all": ["a", "b"]}}, {"tags": {"$all": ["a", "b"]}}),
        ({"tags": {"$all": []}}, {"_id": {"$in": []}}),
        (
            {"tags": {"$all": ["a", {"$regex": "^\\Qb.\\E", "$options": "i"}]}},
            {"$and": [{"tags": {"$all": ["a"]}}, {"tags": {"$regex": "^b\\.", "$options": "i"}}]},
        ),
        ({"tags": {"$containedBy": ["a", "b"]}}, {"tags": {"$not": {"$elemMatch": {"$nin": ["a", "b"]}}}}),
        ({"name": {"$regex": "^\\QA.b\\E"}}, {"name": {"$regex": "^A\\.b"}}),
        ({"name": {"$regex": "x", "$options": "im"}}, {"name": {"$regex": "x", "$options": "im"}}),
        ({"$or": [{"a": 1}, {"b": 2}]}, {"$or": [{"a": 1}, {"b": 2}]}),
        ({"$nor": [{"a": 1}]}, {"$nor": [{"a": 1}]}),
        ({"_rperm": {"$in": [None, "*", "u1"]}}, {"_rperm": {"$in": [None, "*", "u1"]}}),
        (
            {"loc": {"$nearSphere": GEO, "$maxDistanceInRadians": 0.5}},
            {"loc": {"$nearSphere": [-30.0, 40.0], "$maxDistance": 0.5}},
        ),
        ({"loc": {"$nearSphere": GEO}}, {"loc": {"$nearSphere": [-30.0, 40.0]}}),
        (
            {"loc": {"$within": {"$box": [{**GEO, "latitude": 0.0}, {**GEO, "latitude": 50.0, "longitude": 10.0}]}}},
            {"loc": {"$geoWithin": {"$box": [[-30.0, 0.0], [10.0, 50.0]]}}},
        ),
        (
            {"loc": {"$geoWithin": {"$polygon": [GEO, {**GEO, "latitude": 0.0}, {**GEO, "longitude": 0.0}]}}},
            {"loc": {"$geoWithin": {"$polygon": [[-30.0, 40.0], [-30.0, 0.0], [0.0, 40.0]]}}},
        ),
        (
            {"loc": {"$geoWithin": {"$centerSphere": [GEO, 0.1]}}},
            {"loc": {"$geoWithin": {"$centerSphere": [[-30.0, 40.0], 0.1]}}},
        ),
        (
            {"area": {"$geoIntersects": {"$point": GEO}}},
            {"area": {"$geoIntersects": {"$geometry": {"type": "Point", "coordinates": [-30.0, 40.0]}}}},
        ),
        (
            {"name": {"$text": {"$search": {"$term": "coffee", "$language": "en"}}}},
            {"$text": {"$search": "coffee", "$language": "en", "$caseSensitive": False, "$diacriticSensitive": False}},
        ),
        (
            {"name": {"$text": {"$search": {"$term": "tea", "$caseSensitive": True}}}, "score": 1},
            {"$text": {"$search": "tea", "$caseSensitive": True, "$diacriticSensitive": False}, "score": 1},
        ),
    ],
)
def test_filter_translation(query: dict[str, Any], expected: dict[str, Any]) -> None:
    assert translate_where(GAME, where(query)) == expected


def test_match_none_matches_nothing() -> None:
    assert translate_where(GAME, MatchNone()) == {"_id": {"$in": []}}


def test_count_replaces_near_sphere_with_geo_within() -> None:
    limited = where({"loc": {"$nearSphere": GEO, "$maxDistanceInRadians": 0.25}})
    assert translate_where(GAME, limited, counting=True) == {
        "loc": {"$geoWithin": {"$centerSphere": [[-30.0, 40.0], 0.25]}}
    }
    unlimited = where({"loc": {"$nearSphere": GEO}})
    assert translate_where(GAME, unlimited, counting=True) == {
        "loc": {"$geoWithin": {"$centerSphere": [[-30.0, 40.0], math.pi]}}
    }


def test_near_distance_units_are_radians() -> None:
    km = where({"loc": {"$nearSphere": GEO, "$maxDistanceInKilometers": 6371.0}})
    assert translate_where(GAME, km)["loc"]["$maxDistance"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "node",
    [
        RelatedTo(Pointer("Game", "g1"), "likes"),
        InQuery(("player",), "_User", MATCH_ALL),
        Select(("name",), "_User", MATCH_ALL, "username"),
    ],
)
def test_subqueries_are_refused(node: Any) -> None:
    with pytest.raises(ParseError) as err:
        translate_where(GAME, node)
    assert err.value.code == ErrorCode.INVALID_QUERY


async def test_translated_operators_run_on_mongomock(adapter: MongoAdapter) -> None:
    rows = [
        ("g1", {"name": "A.b", "tags": ["a", "bx"], "player": Pointer("_User", "u1"), "meta": {"color": "red"}}),
        ("g2", {"name": "ab", "tags": ["a"], "player": None}),
        ("g3", {"name": "Zed", "tags": ["q"], "player": Pointer("_User", "u2")}),
        ("g4", {"tags": [Pointer("_User", "u9"), "q"]}),
    ]
    for oid, fields in rows:
        await adapter.create(GAME, StoredObject("Game", oid, T0, T0, fields=MappingProxyType(fields)))

    async def ids(query: dict[str, Any]) -> list[str]:
        return sorted(o.object_id for o in await adapter.find(GAME, where(query), ALL))

    assert await ids({"name": {"$regex": "^\\QA.b\\E"}}) == ["g1"]
    assert await ids({"tags": {"$all": ["a", {"$regex": "^\\Qb\\E"}]}}) == ["g1"]
    assert await ids({"tags": {"$containedBy": ["a", "bx"]}}) == ["g1", "g2"]
    assert await ids({"player": {"$in": [ptr("u2"), None]}}) == ["g2", "g3", "g4"]
    assert await ids({"player": {"$ne": ptr("u1")}}) == ["g2", "g3", "g4"]
    assert await ids({"meta.color": "red"}) == ["g1"]
    assert await ids({"tags": ptr("u9")}) == ["g4"]
    assert await adapter.count(GAME, where({"tags": "a"})) == 2


# ---- failures ----

class _FailingCollection:
    name = "Game"

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def insert_one(self, doc: Any) -> None:
        raise self.error


async def test_driver_errors_never_reach_the_message(adapter: MongoAdapter, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    secret = OperationFailure("connection to mongo-7.internal:27017 refused (user=admin)", code=13)
    monkeypatch.setattr(adapter, "_collection", lambda name: _FailingCollection(secret))
    with pytest.raises(ParseError) as err:
        await adapter.create(GAME, StoredObject("Game", "g1", T0, T0))
    assert (err.value.code, err.value.message) == (1, "Internal server error.")
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "mongo-7.internal" in caplog.text


class _Cursor:
    def __init__(self, owner: _GeoCollection) -> None:
        self.owner = owner

    def sort(self, spec: Any) -> _Cursor:
        return self

    def limit(self, n: int) -> _Cursor:
        return self

    async def to_list(self, length: Any) -> list[Any]:
        self.owner.calls += 1
        if not self.owner.indexes:
            raise OperationFailure("error processing query: planner returned error :: caused by :: "
                                   "unable to find index for $geoNear query", code=291)
        return []


class _GeoCollection:
    name = "Game"

    def __init__(self) -> None:
        self.calls = 0
        self.indexes: list[tuple[Any, str]] = []

    def find(self, filt: Any) -> _Cursor:
        return _Cursor(self)

    async def create_index(self, keys: Any, *, name: str, **options: Any) -> str:
        self.indexes.append((keys, name))
        return name


async def test_missing_geo_index_is_created_and_the_query_rerun(adapter: MongoAdapter,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    coll = _GeoCollection()
    monkeypatch.setattr(adapter, "_collection", lambda name: coll)
    assert await adapter.find(GAME, where({"loc": {"$nearSphere": GEO}}), FindOptions()) == []
    assert coll.indexes == [([("loc", "2d")], "loc_2d")]
    assert coll.calls == 2


def test_text_node_path_is_ignored_by_the_filter() -> None:
    assert translate_where(GAME, Text(("name",), "x")) == {
        "$text": {"$search": "x", "$caseSensitive": False, "$diacriticSensitive": False}
    }


def test_regex_patterns_compile_in_python() -> None:
    clause = translate_where(GAME, where({"name": {"$regex": "^\\Q(a+)\\E$"}}))["name"]["$regex"]
    assert re.fullmatch(clause, "(a+)")


def test_an_unordered_insert_names_its_duplicates_and_nothing_else() -> None:
    def bulk(details: dict[str, Any]) -> BulkWriteError:
        return BulkWriteError(details)

    assert _failed_documents(bulk({"writeErrors": [{"index": 1, "code": 11000}, {"index": 4, "code": 11000}]})) \
        == {1, 4}
    # Anything but duplicates, or no detail, or a write concern failure: the caller retries document by document.
    assert _failed_documents(bulk({"writeErrors": [{"index": 0, "code": 11000}, {"index": 2, "code": 121}]})) is None
    assert _failed_documents(bulk({"writeErrors": []})) is None
    assert _failed_documents(bulk({"writeErrors": [{"index": 0, "code": 11000}],
                                   "writeConcernErrors": [{"code": 64}]})) is None
    assert _failed_documents(RuntimeError("no details")) is None
