"""find_encoded + encoded_to_json serve exactly what find + object_to_json would, for every kind of value."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.pipeline.encode import encoded_to_json, object_to_json
from engine.query.options import FindOptions, SortKey
from engine.query.where import MATCH_ALL
from engine.schema.model import FieldDef, FieldType, new_class
from engine.storage.base import StoredObject
from engine.storage.encoded import EncodedReader
from engine.storage.sqlite import SQLiteAdapter
from engine.wire import ACL, Bytes, File, GeoPoint, Pointer, Polygon, RelationRef

T0 = datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=UTC)
NIGHT = new_class("Night", {
    "n": FieldDef(FieldType.NUMBER),
    "photo": FieldDef(FieldType.FILE),
    "who": FieldDef(FieldType.POINTER, "_User"),
    "likes": FieldDef(FieldType.RELATION, "_User"),
    "extra": FieldDef(FieldType.OBJECT),
    "list": FieldDef(FieldType.ARRAY),
})
USER = new_class("_User", {"username": FieldDef(FieldType.STRING), "password": FieldDef(FieldType.STRING)})


def _url(name: str) -> str:
    return f"https://files.example/{name}?sig=1"


def _stored(oid: str, minutes: int, acl: ACL | None, **fields: Any) -> StoredObject:
    t = T0 + timedelta(minutes=minutes)
    return StoredObject("Night", oid, t, t + timedelta(seconds=1), acl).with_fields(fields)


OBJECTS = [
    _stored("a1", 0, None, n=1),
    _stored("a2", 1, ACL(frozenset({"*", "u1"}), frozenset({"u1"})),
            n=2.5, photo=File("p.png", "https://old/p.png"), who=Pointer("_User", "u1"),
            when=T0, blob=Bytes(b"\x00\xffzz"), at=GeoPoint(1, -2.5), area=Polygon(((0, 0), (1, 1), (0, 1))),
            extra={"deep": {"file": File("d.txt", "https://old/d.txt"), "date": T0}, "__type": "Weird"},
            list=[File("l.txt"), {"x": [File("m.txt", "https://old/m")]}, None, True, "s"],
            rel=RelationRef("_User"), big=2**62, text='has "__type":"File" inside'),
    _stored("a3", 2, ACL(frozenset({"role:Staff"}), frozenset()), n=None, extra={}),
]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SQLiteAdapter]:
    adapter = SQLiteAdapter(str(tmp_path / "app.db"))
    await adapter.open()
    await adapter.save_schema(NIGHT)
    await adapter.save_schema(USER)
    for o in OBJECTS:
        await adapter.create(NIGHT, o)
    yield adapter
    await adapter.aclose()


@pytest.mark.parametrize("file_url", [_url, None])
async def test_encoded_rows_serve_what_decoded_rows_serve(db: SQLiteAdapter, file_url: Any) -> None:
    assert isinstance(db, EncodedReader)
    opts = FindOptions(limit=None, order=(SortKey(("n",), descending=True),))
    decoded = [object_to_json(NIGHT, o, file_url) for o in await db.find(NIGHT, MATCH_ALL, opts)]
    encoded = [encoded_to_json(NIGHT, o, file_url) for o in await db.find_encoded(NIGHT, MATCH_ALL, opts)]
    assert encoded == decoded
    # Same keys in the same order too: clients (and afterFind hooks) see identical JSON text.
    assert [list(o) for o in encoded] == [list(o) for o in decoded]
    assert [list(o.get("list", [])) for o in encoded] == [list(o.get("list", [])) for o in decoded]
    served = {o["objectId"]: o for o in encoded}
    assert served["a2"]["photo"] == {"__type": "File", "name": "p.png", "url": _url("p.png")} if file_url else True
    assert served["a2"]["likes"] == {"__type": "Relation", "className": "_User"}


async def test_user_rows_drop_the_password_and_gather_auth_data(db: SQLiteAdapter) -> None:
    user = StoredObject("_User", "u1", T0, T0).with_fields({"username": "ada", "password": "x"})
    user = StoredObject("_User", "u1", T0, T0, None, user.fields,
                        {"_hashed_password": "h", "_auth_data_anonymous": {"id": "z"}, "_auth_data_gone": None})
    await db.create(USER, user)
    [decoded] = [object_to_json(USER, o) for o in await db.find(USER, MATCH_ALL, FindOptions(limit=None))]
    [encoded] = [encoded_to_json(USER, o) for o in await db.find_encoded(USER, MATCH_ALL, FindOptions(limit=None))]
    assert encoded == decoded and list(encoded) == list(decoded)
    assert encoded["authData"] == {"anonymous": {"id": "z"}} and "password" not in encoded


async def test_limit_zero_reads_nothing(db: SQLiteAdapter) -> None:
    assert await db.find_encoded(NIGHT, MATCH_ALL, FindOptions(limit=0)) == []
